#pragma once

// Small pure text functions of the HTTP side (runtime/ws_http_session.hpp),
// no Beast: the JSON error body, the constant-time comparison of an API
// key, the event stream's interval parameter. Unit-tested.

#include <chrono>
#include <string>
#include <string_view>

namespace tether::runtime {

/// `{"error":"<error>","message":"<message>"}`: quotes, backslashes and
/// control characters escaped, and valid UTF-8 whatever `message` holds
/// (a message that is not UTF-8 has each byte above 0x7F written as '?').
/// `error` is one of the listener's own words (no escaping).
std::string json_error(std::string_view error, std::string_view message);

/// Whether `given` equals `key`, comparing every byte of `key` whatever
/// `given` holds (the time does not tell how much of a key was right).
bool same_secret(std::string_view given, std::string_view key);

/// `interval=<ms>` of `GET /api/v1/stream`'s query: 1000 when absent, 0
/// when it is not a number in 250-60000.
std::chrono::milliseconds stream_interval(std::string_view query);

} // namespace tether::runtime

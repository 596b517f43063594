#pragma once

// The server API's requests and answers as text (SPEC §15): the status code
// of an error, the JSON of a failure and of a `received` answer, the path's
// segments, a body read into the message the socket path would take, the
// API keys file. No actors, no sockets: server_api.cpp does the asking.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/errc.hpp"

namespace tether::runtime {

/// The HTTP status answering a request refused with `e`.
unsigned http_status(protocol::errc e);

/// {"status":"failed","error":{"code","message","retryable"[,"details":
/// {"errors":[{"field","message"}]}]}}
std::string failure(protocol::errc e, const std::string& message,
                    const std::vector<protocol::field_error>& errors = {});

/// {"status":"received","messageId":..,"recipients":n}
std::string received(const std::string& id, uint32_t recipients);

/// Epoch milliseconds of the system clock (answers' and messages' times).
int64_t now_ms();

/// "%41" -> "A"; false for a bad escape.
bool percent_decode(const std::string& in, std::string& out);

/// The body as the envelope of a message from the server: source,
/// timestamp, protocolVersion and (if absent) id filled in, then the socket
/// path's decoding and validation. With `room`, a publish to that room (the
/// body must not name a destination); without, only targets of a user's
/// devices. On failure: `error`, `why` and the field `errors`.
bool read_message(const std::string& body, const protocol::limits& limits,
                  const std::string& room, protocol::mobile_message& out,
                  protocol::errc& error, std::string& why,
                  std::vector<protocol::field_error>& errors);

/// The path's segments after /api/v1/, percent-decoded; false for a bad one.
bool segments(const std::string& path, std::vector<std::string>& out);

/// What a path segment names.
enum class path_id { user, device, room };

/// Whether a decoded path segment is a valid id of its kind (user and
/// device ids: 1-255 bytes of UTF-8; rooms: SPEC §6's names); otherwise
/// appends a field error naming the kind (`userId`, `deviceId`, `room`),
/// never the id's bytes.
bool check_path_id(path_id kind, const std::string& id,
                   std::vector<protocol::field_error>& errors);

/// The keys of `auth.api_keys_file`: one per line (`name key` or `key`,
/// `#` comments, at least 16 characters); throws std::runtime_error naming
/// the file and line, never the key.
std::vector<std::string> load_api_keys(const std::string& path);

} // namespace tether::runtime

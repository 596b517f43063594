#pragma once

// One HTTP request with a deadline, for `tether api` (the server API,
// SPEC §15): plain or TLS (client_options: host, port, target, token as
// `Authorization: Bearer`, tls/ca_file/insecure, timeout). The timeout is
// one deadline for the whole exchange: name lookup, connect, TLS
// handshake, write and read; the answer's body is capped.

#include <cstddef>
#include <string>

#include "runtime/ws_client.hpp"

namespace tether::runtime {

struct http_reply {
  /// The HTTP status; 0 if no response came (see `error`).
  int status = 0;
  std::string body;
  std::string error;
};

/// The largest answer body read (a server API answer is far smaller; a
/// larger one is refused with an error, not read on).
inline constexpr size_t max_answer_bytes = 4 * 1024 * 1024;

/// Sends one request and reads its answer, all within `opts.timeout`.
/// status 0 and `error` when no complete answer came in time.
http_reply http_call(const client_options& opts, const std::string& method,
                     const std::string& body);

} // namespace tether::runtime

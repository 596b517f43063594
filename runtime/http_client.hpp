#pragma once

// One HTTP request with a deadline, for `tether api` (the server API,
// SPEC §15): plain or TLS (client_options: host, port, target, token as
// `Authorization: Bearer`, tls/ca_file/insecure, timeout).

#include <string>

#include "runtime/ws_client.hpp"

namespace tether::runtime {

struct http_reply {
  /// The HTTP status; 0 if no response came (see `error`).
  int status = 0;
  std::string body;
  std::string error;
};

http_reply http_call(const client_options& opts, const std::string& method,
                     const std::string& body);

} // namespace tether::runtime

#pragma once

// A minimal HTTP/1.1 client over a POSIX socket with a receive timeout, so
// that HTTP endpoint tests do not share code with the server under test.

#include <cstdint>
#include <string>

namespace tether::test {

struct http_response {
  int status = 0;
  std::string headers;
  std::string body;
};

/// Sends `GET path` (plus extra header lines) to 127.0.0.1:port and reads
/// the response until the server closes; bounded by 5 s.
http_response http_get(uint16_t port, const std::string& path,
                       const std::string& extra_headers = {});

} // namespace tether::test

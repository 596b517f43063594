#pragma once

// A minimal HTTP/1.1 client and raw TCP socket over POSIX sockets with
// timeouts, so that endpoint and wire tests do not share code with the
// server under test.

#include <chrono>
#include <cstdint>
#include <string>

namespace tether::test {

struct http_response {
  int status = 0;
  std::string headers;
  std::string body;
};

/// A blocking TCP connection to 127.0.0.1:port (every call bounded by 5 s).
class raw_socket {
public:
  explicit raw_socket(uint16_t port);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool connected() const noexcept { return fd_ >= 0; }

  /// Sends all of `bytes`; false on error.
  bool send(const std::string& bytes);

  /// Ends the sending direction (a half close: the peer reads EOF).
  void shutdown_write();

  /// Reads until `until` occurs in what was read (empty: until the peer
  /// closes), at most `limit`; returns everything read.
  std::string
  read(const std::string& until = {},
       std::chrono::milliseconds limit = std::chrono::milliseconds{5000});

private:
  int fd_ = -1;
};

/// Splits a raw HTTP response into status, header lines and body.
http_response parse_response(const std::string& raw);

/// Sends `GET path` (plus extra header lines) to 127.0.0.1:port and reads
/// the response until the server closes; bounded by 5 s.
http_response http_get(uint16_t port, const std::string& path,
                       const std::string& extra_headers = {});

/// The value of one sample (name and labels, as printed) of the /metrics of
/// the node on 127.0.0.1:port; UINT64_MAX if it is absent.
uint64_t metric_sample(uint16_t port, const std::string& sample);

/// Sends `method path` with the given header lines (each ending in CRLF;
/// `Connection: close` is added unless they name a Connection) and reads
/// the response until the server closes.
http_response http_request(uint16_t port, const std::string& method,
                           const std::string& path, const std::string& headers);

} // namespace tether::test

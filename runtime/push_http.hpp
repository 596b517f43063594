#pragma once

// The node's one HTTP client for push providers (APNs, FCM, webhooks):
// libcurl's multi interface on a thread of its own. Requests never block
// the caller; connections are kept and reused, HTTP/2 over TLS where the
// server speaks it (APNs requires it; many requests share one connection),
// HTTP/1.1 otherwise. Certificates are checked (the system's CAs, or
// `ca_file`); no redirects are followed; only http and https are spoken.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tether::runtime {

struct http_post {
  std::string url;
  /// "Name: value" lines.
  std::vector<std::string> headers;
  std::string body;
};

struct http_answer {
  /// The HTTP status; 0 when no answer came (`error` says why).
  long status = 0;
  /// 2 for HTTP/2, 1 for HTTP/1.x (0: no answer).
  int version = 0;
  /// The body, at most push_http::options::max_body bytes of it.
  std::string body;
  /// The Retry-After header, if the server sent one.
  std::string retry_after;
  /// Why no answer came (connect, TLS, timeout, stopped).
  std::string error;
};

class push_http {
public:
  struct options {
    /// Bound on one request, connect and TLS handshake included.
    std::chrono::milliseconds timeout{10000};
    /// Extra CA certificates (PEM); empty: the system's.
    std::string ca_file;
    /// Bodies beyond this are cut (a provider's answers are small).
    size_t max_body = 64 * 1024;
  };

  explicit push_http(options o);

  /// Answers what is still pending with error "stopped", then returns.
  ~push_http();

  push_http(const push_http&) = delete;
  push_http& operator=(const push_http&) = delete;

  /// Sends `p`; `done` runs once with the answer, on the client's thread
  /// (it must not block: hand the answer to an actor).
  void post(http_post p, std::function<void(http_answer)> done);

  /// Requests sent and not yet answered.
  size_t in_flight() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

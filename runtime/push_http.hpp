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

#include "actors/push_transport.hpp"

namespace tether::runtime {

using http_post = actors::push_post;
using http_answer = actors::push_answer;

class push_http final : public actors::push_transport {
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
  ~push_http() override;

  push_http(const push_http&) = delete;
  push_http& operator=(const push_http&) = delete;

  /// Sends `p`; `done` runs once with the answer, on the client's thread
  /// (it must not block: hand the answer to an actor).
  void post(http_post p, std::function<void(http_answer)> done) override;

  /// Requests sent and not yet answered.
  size_t in_flight() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

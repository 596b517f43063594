#pragma once

// How the PUSHER reaches the providers: an HTTP POST answered later, on
// another thread (runtime/push_http implements it with libcurl). Pure.

#include <functional>
#include <string>
#include <vector>

namespace tether::actors {

struct push_post {
  std::string url;
  /// "Name: value" lines.
  std::vector<std::string> headers;
  std::string body;
};

struct push_answer {
  /// The HTTP status; 0 when no answer came (`error` says why).
  long status = 0;
  /// 2 for HTTP/2, 1 for HTTP/1.x (0: no answer).
  int version = 0;
  /// The body, cut at the transport's cap.
  std::string body;
  /// The Retry-After header, if the server sent one.
  std::string retry_after;
  /// Why no answer came (connect, TLS, timeout, stopped).
  std::string error;
};

class push_transport {
public:
  virtual ~push_transport() = default;

  /// Sends `p`; `done` runs once with the answer, on the transport's own
  /// thread (it must not block: hand the answer to an actor).
  virtual void post(push_post p, std::function<void(push_answer)> done) = 0;
};

} // namespace tether::actors

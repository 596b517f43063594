#pragma once

// How an HTTP/1.1 request's body is delimited (RFC 9112 §6), as a pure
// check of its framing headers: the listener accepts a body delimited by
// Content-Length or by exactly `Transfer-Encoding: chunked`, nothing else.
// A coding the server does not apply (`xchunked`, `gzip`, a list ending
// elsewhere) read as "no body" runs the body as the next request on the
// connection, and a proxy in front that reads the framing another way sees
// other requests than the server (request smuggling). No Beast here: the
// listener fills `request_framing` from its parser; tests call it directly.

#include <optional>
#include <string_view>
#include <vector>

namespace tether::runtime {

/// The framing headers of one request, as received (views into it).
struct request_framing {
  /// HTTP version: 10 or 11.
  unsigned version = 11;
  /// The value of every Transfer-Encoding field, in order.
  std::vector<std::string_view> transfer_encodings;
  /// A Content-Length field is present (its value the parser checked).
  bool has_content_length = false;
};

/// Why a request's framing is refused (400, then the connection is
/// closed: what follows on it cannot be told apart from the body), or
/// nothing if it is accepted.
std::optional<std::string_view> framing_problem(const request_framing& r);

} // namespace tether::runtime

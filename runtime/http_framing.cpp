#include "runtime/http_framing.hpp"

#include "protocol/text.hpp"

namespace tether::runtime {

namespace {

bool is_chunked(std::string_view value) {
  constexpr std::string_view chunked = "chunked";
  value = protocol::trim(value);
  if (value.size() != chunked.size())
    return false;
  for (size_t i = 0; i < value.size(); ++i)
    if ((value[i] | 0x20) != chunked[i])
      return false;
  return true;
}

} // namespace

std::optional<std::string_view> framing_problem(const request_framing& r) {
  auto& te = r.transfer_encodings;
  if (te.empty())
    return std::nullopt;
  // RFC 9112 §6.1: HTTP/1.0 has no transfer codings.
  if (r.version < 11)
    return "Transfer-Encoding in an HTTP/1.0 request";
  // §6.3: both present is a smuggling attempt or a broken client.
  if (r.has_content_length)
    return "both Content-Length and Transfer-Encoding";
  // chunked is the only coding served, once, as the only one.
  if (te.size() != 1 || !is_chunked(te.front()))
    return "a Transfer-Encoding other than chunked";
  return std::nullopt;
}

} // namespace tether::runtime

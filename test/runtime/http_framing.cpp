#define CAF_SUITE runtime.http_framing
#include <caf/test/unit_test.hpp>

#include "runtime/http_framing.hpp"

using namespace tether::runtime;

namespace {

std::optional<std::string_view> problem(std::vector<std::string_view> te,
                                        bool content_length = false,
                                        unsigned version = 11) {
  request_framing f;
  f.version = version;
  f.transfer_encodings = std::move(te);
  f.has_content_length = content_length;
  return framing_problem(f);
}

} // namespace

CAF_TEST(content length alone or chunked alone delimit a body) {
  CAF_CHECK(!problem({}));
  CAF_CHECK(!problem({}, true));
  CAF_CHECK(!problem({}, true, 10));
  for (auto te : {"chunked", "Chunked", "CHUNKED", " chunked "})
    CAF_CHECK(!problem({te}));
}

CAF_TEST(any other transfer coding is refused) {
  // RFC 9112 §6.3: read as "no body", the body would run as the next
  // request on the connection.
  for (auto te :
       {"xchunked", "gzip", "identity", "chunked, identity", "gzip, chunked",
        "chunked,", "chunked;q=1", "", "chunkedx", "chunke"})
    CAF_CHECK(problem({te}).has_value());
  CAF_CHECK(problem({"chunked", "chunked"}).has_value());
  CAF_CHECK(problem({"gzip", "chunked"}).has_value());
}

CAF_TEST(transfer encoding beside content length or in http 1.0 is refused) {
  CAF_CHECK_EQUAL(problem({"chunked"}, true).value_or(""),
                  "both Content-Length and Transfer-Encoding");
  CAF_CHECK(problem({"gzip"}, true).has_value());
  CAF_CHECK_EQUAL(problem({"chunked"}, false, 10).value_or(""),
                  "Transfer-Encoding in an HTTP/1.0 request");
}

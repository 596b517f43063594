#define CAF_SUITE protocol.base64
#include <caf/test/unit_test.hpp>

#include "protocol/base64.hpp"

using namespace tether::protocol;

CAF_TEST(rfc 4648 test vectors) {
  CAF_CHECK_EQUAL(base64_encode(""), "");
  CAF_CHECK_EQUAL(base64_encode("f"), "Zg==");
  CAF_CHECK_EQUAL(base64_encode("fo"), "Zm8=");
  CAF_CHECK_EQUAL(base64_encode("foo"), "Zm9v");
  CAF_CHECK_EQUAL(base64_encode("foobar"), "Zm9vYmFy");
  CAF_CHECK_EQUAL(base64url_encode("\xfb\xff"), "-_8");
}

CAF_TEST(base64url decoding is strict) {
  CAF_CHECK_EQUAL(base64url_decode("Zm9vYmE").value_or("?"), "fooba");
  CAF_CHECK_EQUAL(base64url_decode("-_8").value_or("?"), "\xfb\xff");
  CAF_CHECK(!base64url_decode("Zm9v=").has_value());
  CAF_CHECK(!base64url_decode("Z").has_value());
  CAF_CHECK(!base64url_decode("Zh").has_value()); // non-zero padding bits
  CAF_CHECK(!base64url_decode("a+b/").has_value());
}

CAF_TEST(padded base64 decoding is strict) {
  CAF_CHECK_EQUAL(base64_decode("Zm9vYmFy").value_or("?"), "foobar");
  CAF_CHECK_EQUAL(base64_decode("Zg==").value_or("?"), "f");
  CAF_CHECK_EQUAL(base64_decode("Zm8=").value_or("?"), "fo");
  CAF_CHECK_EQUAL(base64_decode("").value_or("?"), "");
  // The RFC 6455 example key is 16 bytes.
  CAF_CHECK_EQUAL(base64_decode("dGhlIHNhbXBsZSBub25jZQ==").value_or("").size(),
                  16u);
  for (auto bad : {"Zg", "Zg=", "Z===", "====", "Zm9v!A==", "-_8=", "Zh=="})
    CAF_CHECK(!base64_decode(bad).has_value());
}

CAF_TEST(percent encoding keeps the unreserved characters only) {
  CAF_CHECK_EQUAL(percent_encode("aZ09-._~"), "aZ09-._~");
  CAF_CHECK_EQUAL(percent_encode("a b/c:d%"), "a%20b%2Fc%3Ad%25");
  CAF_CHECK_EQUAL(percent_encode(std::string{"\x00\xff", 2}), "%00%FF");
  CAF_CHECK_EQUAL(percent_encode(""), "");
}

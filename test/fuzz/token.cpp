// libFuzzer target: token verification (JWT HS256) with a fixed secret;
// only tokens it signed itself may ever verify.
#include <string>

#include "protocol/token.hpp"
#include "protocol/validate.hpp"
#include "test/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether::protocol;
  static const std::string secret(32, 's');
  std::string_view text{reinterpret_cast<const char*>(data), size};
  token_claims out;
  auto err = verify_token(text, secret, 1500, 30, out);
  if (err == token_error::none) {
    // A forged signature cannot be found by mutation: a verified token must
    // verify again and carry sane claims.
    FUZZ_CHECK(!out.user_id.empty() && !out.device_id.empty());
    FUZZ_CHECK(out.expires_at + 30 > 1500);
    token_claims again;
    FUZZ_CHECK(verify_token(text, secret, 1500, 30, again)
               == token_error::none);
  }
  // The same claims signed here always verify.
  if (size >= 2) {
    token_claims c;
    c.user_id = std::string(text.substr(0, size / 2));
    c.device_id = std::string(text.substr(size / 2));
    c.expires_at = 2000;
    // Claims are JSON: ids that are not UTF-8 make a token that is not.
    if (c.user_id.size() <= 255 && c.device_id.size() <= 255
        && valid_utf8(c.user_id) && valid_utf8(c.device_id)
        && c.user_id != "system" && c.device_id != "server") {
      token_claims got;
      FUZZ_CHECK(verify_token(issue_token(c, secret), secret, 1500, 0, got)
                 == token_error::none);
      FUZZ_CHECK(got.user_id == c.user_id && got.device_id == c.device_id);
    }
  }
  return 0;
}

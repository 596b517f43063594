#define CAF_SUITE protocol.token
#include <caf/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/base64.hpp"
#include "protocol/token.hpp"

using namespace tether::protocol;

namespace {

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";

token_claims claims() {
  token_claims c;
  c.user_id = "alice";
  c.device_id = "phone";
  c.type = device_type::mobile;
  c.role = "extension";
  c.issued_at = 1000;
  c.expires_at = 2000;
  return c;
}

// A token of any header and claims text, signed with `secret` (as another
// JWT library holding the secret would write it).
std::string sign(std::string_view header, std::string_view claims) {
  auto input = base64url_encode(header) + "." + base64url_encode(claims);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), md,
       &len);
  return input + "."
         + base64url_encode({reinterpret_cast<const char*>(md), len});
}

constexpr std::string_view hs256 = R"({"alg":"HS256","typ":"JWT"})";

} // namespace

CAF_TEST(a token verifies and yields its claims) {
  auto t = issue_token(claims(), secret);
  token_claims out;
  CAF_REQUIRE(verify_token(t, secret, 1500, 0, out) == token_error::none);
  CAF_CHECK_EQUAL(out.user_id, "alice");
  CAF_CHECK_EQUAL(out.device_id, "phone");
  CAF_CHECK(out.type == device_type::mobile);
  CAF_CHECK_EQUAL(out.role, "extension");
  CAF_CHECK_EQUAL(out.expires_at, 2000);
}

CAF_TEST(tokens are standard HS256 JWTs) {
  // Header and claims of a token minted elsewhere (RFC 7519 layout):
  // {"alg":"HS256","typ":"JWT"} . {"sub":"u","device_id":"d",
  // "device_type":"web","exp":2000}, signed with `secret`.
  auto t = issue_token(claims(), secret);
  CAF_CHECK_EQUAL(t.substr(0, t.find('.')),
                  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
  auto body = base64url_decode(
    t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1));
  CAF_REQUIRE(body.has_value());
  CAF_CHECK_EQUAL(*body,
                  R"({"sub":"alice","device_id":"phone","device_type":)"
                  R"("mobile","role":"extension","iat":1000,"exp":2000})");
}

CAF_TEST(expiry and not before honour the leeway) {
  auto t = issue_token(claims(), secret);
  token_claims out;
  CAF_CHECK(verify_token(t, secret, 2000, 0, out) == token_error::expired);
  CAF_CHECK(verify_token(t, secret, 2029, 30, out) == token_error::none);
  auto c = claims();
  c.not_before = 1800;
  auto t2 = issue_token(c, secret);
  CAF_CHECK(verify_token(t2, secret, 1500, 0, out)
            == token_error::not_yet_valid);
  CAF_CHECK(verify_token(t2, secret, 1790, 30, out) == token_error::none);
}

CAF_TEST(a wrong secret or a tampered token is refused) {
  auto t = issue_token(claims(), secret);
  token_claims out;
  CAF_CHECK(verify_token(t, "another-secret-another-secret-xx", 1500, 0, out)
            == token_error::bad_signature);
  // Swap the claims for another user's, keep the signature.
  auto c = claims();
  c.user_id = "mallory";
  auto forged = issue_token(c, secret);
  auto tampered = forged.substr(0, forged.rfind('.')) + t.substr(t.rfind('.'));
  CAF_CHECK(verify_token(tampered, secret, 1500, 0, out)
            == token_error::bad_signature);
}

CAF_TEST(alg none and other algorithms are refused) {
  auto t = issue_token(claims(), secret);
  auto rest = t.substr(t.find('.'));
  token_claims out;
  auto none = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  CAF_CHECK(verify_token(none + rest.substr(0, rest.rfind('.')) + ".", secret,
                         1500, 0, out)
            == token_error::bad_algorithm);
  auto rs = base64url_encode(R"({"alg":"RS256","typ":"JWT"})");
  CAF_CHECK(verify_token(rs + rest, secret, 1500, 0, out)
            == token_error::bad_algorithm);
}

CAF_TEST(malformed tokens and missing claims) {
  token_claims out;
  for (auto t : {"", "abc", "a.b", "a.b.c.d", "!!.!!.!!"})
    CAF_CHECK(verify_token(t, secret, 1500, 0, out) == token_error::malformed);
  auto c = claims();
  c.device_id.clear();
  CAF_CHECK(verify_token(issue_token(c, secret), secret, 1500, 0, out)
            == token_error::bad_claims);
}

CAF_TEST(generated secrets are 64 hex characters and differ) {
  auto a = generate_secret();
  auto b = generate_secret();
  CAF_CHECK_EQUAL(a.size(), 64u);
  CAF_CHECK_NOT_EQUAL(a, b);
}

CAF_TEST(the server identity cannot be claimed by a token) {
  // Messages from user "system" device "server" are the server's (SPEC §9);
  // a device holding such a token could speak as the server.
  for (auto [user, device] :
       {std::pair{"system", "phone"}, std::pair{"alice", "server"}}) {
    auto c = claims();
    c.user_id = user;
    c.device_id = device;
    token_claims out;
    CAF_CHECK(verify_token(issue_token(c, secret), secret, 1500, 0, out)
              == token_error::reserved_identity);
  }
}

CAF_TEST(a claim or header field given twice is refused) {
  // RFC 7519 §4: claim names are unique; a parser that keeps another copy
  // than the one checked (the first here, the last in most libraries)
  // reads another identity from the same signed text.
  token_claims out;
  auto valid = sign(hs256, R"({"sub":"alice","device_id":"phone",)"
                           R"("device_type":"mobile","exp":2000})");
  CAF_REQUIRE(verify_token(valid, secret, 1500, 0, out) == token_error::none);
  for (auto claims :
       {R"({"sub":"alice","sub":"bob","device_id":"phone",)"
        R"("device_type":"mobile","exp":2000})",
        R"({"sub":"alice","device_id":"phone","device_type":"mobile",)"
        R"("exp":2000,"exp":99999999999})",
        R"({"sub":"alice","device_id":"phone","device_type":"mobile",)"
        R"("exp":2000,"ext":{"a":1,"a":2}})"})
    CAF_CHECK(verify_token(sign(hs256, claims), secret, 1500, 0, out)
              == token_error::malformed);
  CAF_CHECK(verify_token(sign(R"({"alg":"HS256","alg":"none"})",
                              R"({"sub":"alice","device_id":"phone",)"
                              R"("device_type":"mobile","exp":2000})"),
                         secret, 1500, 0, out)
            == token_error::malformed);
}

CAF_TEST(claims nested beyond the depth limit or not utf8 are refused) {
  token_claims out;
  // 2000 levels: within the 8 KiB a token may have.
  std::string deep = std::string(2000, '[') + std::string(2000, ']');
  CAF_CHECK(verify_token(sign(hs256, R"({"sub":"alice","device_id":"phone",)"
                                     R"("device_type":"mobile","exp":2000,)"
                                     R"("x":)"
                                       + deep + "}"),
                         secret, 1500, 0, out)
            == token_error::malformed);
  CAF_CHECK(verify_token(sign(hs256, "{\"sub\":\"al\xffice\",\"device_id\":"
                                     "\"phone\",\"device_type\":\"mobile\","
                                     "\"exp\":2000}"),
                         secret, 1500, 0, out)
            == token_error::malformed);
}

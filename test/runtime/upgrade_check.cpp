#define CAF_SUITE runtime.upgrade_check
#include <caf/test/unit_test.hpp>

#include "protocol/token.hpp"
#include "runtime/upgrade_check.hpp"

using namespace tether;
using namespace tether::runtime;

namespace {

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";
constexpr int64_t now = 1500;

std::string token(int64_t exp = 2000) {
  protocol::token_claims c;
  c.user_id = "alice";
  c.device_id = "phone";
  c.type = protocol::device_type::tablet;
  c.role = "extension";
  c.issued_at = 1000;
  c.expires_at = exp;
  return protocol::issue_token(c, secret);
}

struct fixture {
  std::string bearer = "Bearer " + token();
  upgrade_request req;
  upgrade_policy policy;

  fixture() {
    req.method = "GET";
    req.is_upgrade = true;
    req.version = "13";
    req.key = "dGhlIHNhbXBsZSBub25jZQ==";
    req.authorization = bearer;
    policy.secret = std::string{secret};
    policy.leeway_s = 30;
    policy.max_connections = 10;
  }

  upgrade_decision check(size_t open = 0) {
    return check_upgrade(req, policy, open, now);
  }

  int status(size_t open = 0) {
    auto d = check(open);
    return d.refusal ? d.refusal->status : 101;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(upgrade_check_tests, fixture)

CAF_TEST(a valid request is accepted with the token identity) {
  req.protocols = "foo, tether.v1.msgpack";
  req.query = "compress=gzip&resume=r1&lastSeq=42";
  auto d = check();
  CAF_REQUIRE(!d.refusal);
  CAF_CHECK_EQUAL(d.info.user_id, "alice");
  CAF_CHECK_EQUAL(d.info.device_id, "phone");
  CAF_CHECK(d.info.type == protocol::device_type::tablet);
  CAF_CHECK_EQUAL(d.info.role, "extension");
  CAF_CHECK(d.info.codec == protocol::codec::msgpack);
  CAF_CHECK_EQUAL(d.info.compress, 2u);
  CAF_CHECK_EQUAL(d.info.resume_token, "r1");
  CAF_CHECK_EQUAL(d.info.resume_last_seq, 42u);
  // The session ends at exp plus the leeway it was accepted with.
  CAF_CHECK_EQUAL(d.info.session_expires_at, 2030);
}

CAF_TEST(the checks answer in the order of SPEC 2.2) {
  // Everything wrong at once: the first check decides.
  req.method = "POST";
  req.version = "8";
  req.key = "abc";
  req.authorization = "";
  CAF_CHECK_EQUAL(status(100), 405);
  req.method = "GET";
  CAF_CHECK_EQUAL(status(100), 426);
  req.version = "13";
  CAF_CHECK_EQUAL(status(100), 400);
  req.key = "dGhlIHNhbXBsZSBub25jZQ==";
  policy.allowed_origins = {"https://app.example.com"};
  req.origin = "https://evil.example.net";
  CAF_CHECK_EQUAL(status(100), 403);
  req.origin = "HTTPS://APP.EXAMPLE.COM"; // origins compare case-blind
  CAF_CHECK_EQUAL(status(100), 503);
  CAF_CHECK_EQUAL(status(0), 401);
  req.authorization = bearer;
  CAF_CHECK_EQUAL(status(0), 101);
}

CAF_TEST(refusals carry the headers the RFCs ask for) {
  req.method = "PUT";
  auto d = check();
  CAF_REQUIRE(d.refusal);
  CAF_CHECK_EQUAL(d.refusal->headers.front().first, "Allow");
  req.method = "GET";
  req.is_upgrade = false;
  d = check();
  CAF_CHECK_EQUAL(d.refusal->status, 426);
  CAF_CHECK_EQUAL(d.refusal->headers.back().second, "13");
  req.is_upgrade = true;
  d = check(10);
  CAF_CHECK_EQUAL(d.refusal->error, "capacity");
  CAF_CHECK_EQUAL(d.refusal->headers.front().second, "5");
  auto expired = "Bearer " + token(1000); // beyond the leeway
  req.authorization = expired;
  d = check();
  CAF_CHECK(d.refusal->reason == actors::reject_reason::unauthorized);
  CAF_CHECK(d.refusal->headers.front().second.find("token expired")
            != std::string::npos);
}

CAF_TEST(the token may come in the query string) {
  req.authorization = "";
  auto q = "token=" + token();
  req.query = q;
  CAF_CHECK_EQUAL(status(), 101);
  req.authorization = "Basic abc"; // not a bearer token: the query counts
  CAF_CHECK_EQUAL(status(), 101);
}

CAF_TEST(bad subprotocols and query parameters are 400) {
  req.protocols = "graphql-ws, mqtt";
  auto no = check();
  CAF_REQUIRE(no.refusal);
  CAF_CHECK_EQUAL(no.refusal->error, "unsupported_subprotocol");
  req.protocols = "";
  for (auto q : {"compress=brotli", "lastSeq=", "lastSeq=12x", "lastSeq=-1",
                 "lastSeq=+-1", "lastSeq=%20-1", "lastSeq=+5",
                 "lastSeq=18446744073709551616"}) {
    req.query = q;
    CAF_CHECK_EQUAL(status(), 400);
  }
  req.query = "lastSeq=%31%32"; // URL-encoded "12"
  auto d = check();
  CAF_REQUIRE(!d.refusal);
  CAF_CHECK_EQUAL(d.info.resume_last_seq, 12u);
}

CAF_TEST_FIXTURE_SCOPE_END()

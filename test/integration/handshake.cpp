#define CAF_SUITE integration.handshake
#include <caf/test/unit_test.hpp>

#include "protocol/base64.hpp"
#include "protocol/codec.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

runtime::ws_client::connect_result try_connect(const runtime::client_options& o) {
  runtime::ws_client c;
  return c.connect(o);
}

} // namespace

CAF_TEST(missing bad and expired tokens get 401 before the upgrade) {
  test_node n;
  auto r = try_connect(n.options(""));
  CAF_CHECK(!r.ok);
  CAF_CHECK_EQUAL(r.status, 401);
  CAF_CHECK(r.body.find("missing token") != std::string::npos);
  auto good = n.token("alice", "phone", device_type::mobile);
  // Signed with another secret.
  auto forged = good;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  r = try_connect(n.options(forged));
  CAF_CHECK_EQUAL(r.status, 401);
  CAF_CHECK(r.body.find("signature") != std::string::npos);
  // Expired well beyond the leeway.
  auto expired = n.token("alice", "phone", device_type::mobile, "",
                         std::chrono::seconds{-120});
  r = try_connect(n.options(expired));
  CAF_CHECK_EQUAL(r.status, 401);
  CAF_CHECK(r.body.find("expired") != std::string::npos);
  // alg: none with the same claims.
  auto none = protocol::base64url_encode(R"({"alg":"none"})")
              + good.substr(good.find('.'), good.rfind('.') - good.find('.'))
              + ".";
  r = try_connect(n.options(none));
  CAF_CHECK_EQUAL(r.status, 401);
  // A valid token works in the header and in the query string.
  CAF_CHECK(try_connect(n.options(good)).ok);
  auto q = n.options(good);
  q.token_in_query = true;
  CAF_CHECK(try_connect(q).ok);
  auto metrics = http_get(n.port(), "/metrics").body;
  CAF_CHECK(metrics.find(R"(tether_handshakes_rejected_total{reason="unauthorized"} 4)")
            != std::string::npos);
}

CAF_TEST(a token accepted within the leeway after exp ends with 4501) {
  test_node n{[](config::settings& s) { s.auth.leeway = 3s; }};
  // exp one second ago: accepted (exp + leeway is ahead), and the session
  // must close at exp + leeway, about two seconds from now.
  auto token = n.token("alice", "phone", device_type::mobile, "", -1s);
  runtime::ws_client c;
  auto r = c.connect(n.options(token));
  CAF_REQUIRE(r.ok);
  auto start = std::chrono::steady_clock::now();
  std::optional<uint16_t> code;
  for (int i = 0; i < 20 && !code; ++i) // bounded: 20 x 500 ms
    if (!c.receive(500ms))
      code = c.close_code();
  CAF_REQUIRE(code.has_value());
  CAF_CHECK_EQUAL(*code, 4501);
  CAF_CHECK(std::chrono::steady_clock::now() - start < 6s);
}

CAF_TEST(the origin allow list is enforced for browsers only) {
  test_node n{[](config::settings& s) {
    s.server.allowed_origins = {"https://app.example.com"};
  }};
  auto token = n.token("alice", "web", device_type::web);
  auto o = n.options(token);
  CAF_CHECK(try_connect(o).ok); // no Origin: not a browser
  o.headers = {{"Origin", "https://app.example.com"}};
  CAF_CHECK(try_connect(o).ok);
  o.headers = {{"Origin", "https://evil.example.net"}};
  auto r = try_connect(o);
  CAF_CHECK(!r.ok);
  CAF_CHECK_EQUAL(r.status, 403);
}

CAF_TEST(subprotocols select the codec) {
  test_node n;
  auto o = n.options(n.token("alice", "phone", device_type::mobile));
  runtime::ws_client c;
  auto r = c.connect(o);
  CAF_REQUIRE(r.ok);
  CAF_CHECK_EQUAL(r.subprotocol, ""); // none offered: JSON, none named
  auto w = c.receive(3s);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK(!w->binary);
  o.subprotocols = {"chat", "tether.v1.msgpack", "tether.v1.json"};
  runtime::ws_client m;
  r = m.connect(o);
  CAF_REQUIRE(r.ok);
  CAF_CHECK_EQUAL(r.subprotocol, "tether.v1.msgpack");
  w = m.receive(3s);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK(w->binary);
  auto f = protocol::decode(protocol::codec::msgpack, w->data,
                            protocol::limits{});
  CAF_REQUIRE(f.ok());
  CAF_CHECK_EQUAL(f.messages.front().msg.type, "tether.welcome");
  o.subprotocols = {"chat", "mqtt"};
  r = try_connect(o);
  CAF_CHECK_EQUAL(r.status, 400);
  CAF_CHECK(r.body.find("tether.v1.json") != std::string::npos);
}

CAF_TEST(the welcome names session codec compression and heartbeat) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile, "",
                          protocol::codec::json, true);
  CAF_REQUIRE(d->result.ok);
  CAF_CHECK(d->result.deflate);
  auto f = protocol::decode(protocol::codec::json, d->welcome,
                            protocol::limits{});
  CAF_REQUIRE(f.ok());
  auto& p = f.messages.front().msg.payload.raw;
  CAF_CHECK(p.find(R"("codec":"tether.v1.json")") != std::string::npos);
  CAF_CHECK(p.find(R"("compression":"permessage-deflate")") != std::string::npos);
  CAF_CHECK(p.find(R"("heartbeatIntervalMs":20000)") != std::string::npos);
  CAF_CHECK(p.find(R"("serverVersion":")") != std::string::npos);
  CAF_CHECK_EQUAL(json_field(p, "userId"), "alice");
  CAF_CHECK_EQUAL(json_field(p, "sessionId").size(), 32u);
}

CAF_TEST(over the connection limit upgrades get 503) {
  test_node n{[](config::settings& s) { s.server.max_connections = 2; }};
  auto a = connect_device(n, "alice", "a", device_type::mobile);
  auto b = connect_device(n, "alice", "b", device_type::mobile);
  CAF_REQUIRE(a->result.ok && b->result.ok);
  auto r = try_connect(n.options(n.token("alice", "c", device_type::mobile)));
  CAF_CHECK_EQUAL(r.status, 503);
}

CAF_TEST(healthz and metrics are served on the same port) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  auto h = http_get(n.port(), "/healthz");
  CAF_CHECK_EQUAL(h.status, 200);
  CAF_CHECK(h.headers.find("application/json") != std::string::npos);
  CAF_CHECK(h.body.find(R"("status":"ok")") != std::string::npos);
  CAF_CHECK(h.body.find(R"("connections":1)") != std::string::npos);
  auto m = http_get(n.port(), "/metrics");
  CAF_CHECK_EQUAL(m.status, 200);
  CAF_CHECK(m.headers.find("text/plain; version=0.0.4") != std::string::npos);
  CAF_CHECK(m.body.find("tether_connections 1\n") != std::string::npos);
  CAF_CHECK(m.body.find(R"(tether_messages_sent_total{kind="control"} 1)")
            != std::string::npos);
  CAF_CHECK_EQUAL(http_get(n.port(), "/nope").status, 404);
  CAF_CHECK_EQUAL(http_get(n.port(), "/ws").status, 426);
}

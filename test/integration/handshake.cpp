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

runtime::ws_client::connect_result
try_connect(const runtime::client_options& o) {
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
  CAF_CHECK(
    metrics.find(R"(tether_handshakes_rejected_total{reason="unauthorized"} 4)")
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
  CAF_CHECK(p.find(R"("compression":"permessage-deflate")")
            != std::string::npos);
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

namespace {

// An upgrade request's header lines with `key`, `version` and `extra`.
std::string upgrade_headers(const std::string& token, const std::string& key,
                            const std::string& version = "13",
                            const std::string& extra = {}) {
  return "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
         + key + "\r\nSec-WebSocket-Version: " + version
         + "\r\nAuthorization: Bearer " + token + "\r\n" + extra;
}

constexpr auto good_key = "dGhlIHNhbXBsZSBub25jZQ==";

} // namespace

CAF_TEST(upgrades need GET a version 13 and a key of 16 bytes) {
  test_node n;
  auto token = n.token("alice", "phone", device_type::mobile);
  // RFC 6455 §4.1: the upgrade is a GET; any other method is 405.
  auto r = http_request(n.port(), "POST", "/ws",
                        upgrade_headers(token, good_key));
  CAF_CHECK_EQUAL(r.status, 405);
  CAF_CHECK(r.headers.find("Allow: GET") != std::string::npos);
  // §4.2.1: a key that is not the base64 of 16 bytes is 400.
  for (auto key :
       {"", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZQ==",
        "dGhlIHNhbXBsZSBub25jZSEhIQ==", "!!!!IHNhbXBsZSBub25jZQ=="}) {
    r = http_request(n.port(), "GET", "/ws", upgrade_headers(token, key));
    CAF_CHECK_EQUAL(r.status, 400);
    CAF_CHECK(r.body.find("Sec-WebSocket-Key") != std::string::npos);
  }
  // §4.4: another version is 426 naming the one served.
  r = http_request(n.port(), "GET", "/ws",
                   upgrade_headers(token, good_key, "8"));
  CAF_CHECK_EQUAL(r.status, 426);
  CAF_CHECK(r.headers.find("Sec-WebSocket-Version: 13") != std::string::npos);
  // The same request with the right key and version upgrades.
  raw_socket s{n.port()};
  CAF_REQUIRE(s.send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + upgrade_headers(token, good_key) + "\r\n"));
  CAF_CHECK_EQUAL(parse_response(s.read("\r\n\r\n")).status, 101);
}

CAF_TEST(corrupt permessage - deflate data is closed with 1007
         and a close frame) {
  test_node n;
  auto token = n.token("alice", "phone", device_type::mobile);
  raw_socket s{n.port()};
  CAF_REQUIRE(s.send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + upgrade_headers(token, good_key, "13",
                                       "Sec-WebSocket-Extensions: "
                                       "permessage-deflate\r\n")
                     + "\r\n"));
  auto head = s.read("\r\n\r\n");
  CAF_REQUIRE_EQUAL(parse_response(head).status, 101);
  CAF_REQUIRE(head.find("permessage-deflate") != std::string::npos);
  // A masked text frame with RSV1 (compressed) whose data is no deflate
  // stream: 0xff starts a block of the reserved type 3.
  std::string frame{"\xc1\x88\x01\x02\x03\x04", 6};
  for (int i = 0; i < 8; ++i)
    frame += static_cast<char>(0xff ^ "\x01\x02\x03\x04"[i % 4]);
  CAF_REQUIRE(s.send(frame));
  auto rest = s.read(); // until the server closes, at most 5 s
  // Close frame: FIN + opcode 8, length 2, code 1007 (0x03ef).
  CAF_CHECK(rest.find(std::string{"\x88\x02\x03\xef", 4}) != std::string::npos);
}

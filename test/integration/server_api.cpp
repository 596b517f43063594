#define CAF_SUITE integration.server_api
#include <caf/test/unit_test.hpp>

#include <fstream>

#include "protocol/codec.hpp"
#include "protocol/validate.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

// The HTTP side of the server API (SPEC §1, §15) as an attacker writes to
// it: raw bytes on 127.0.0.1, every answer read until the server closes.

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

const std::string key = "k3y-" + std::string(40, 'x');

/// A node with the server API on (a keys file in a temporary directory).
struct api_node {
  std::string dir = make_temp_dir();
  std::unique_ptr<test_node> node;

  explicit api_node(test_node::tweak_fn tweak = {}) {
    auto keys = dir + "/api.keys";
    std::ofstream{keys} << "backend " << key << "\n";
    node = std::make_unique<test_node>([&](config::settings& s) {
      s.auth.api_keys_file = keys;
      if (tweak)
        tweak(s);
    });
  }

  ~api_node() {
    node.reset();
    remove_tree(dir);
  }

  uint16_t port() const { return node->port(); }
};

/// `method path` with the key, `headers` (each ending in CRLF) and `body`
/// as given (no Content-Length added).
std::string raw_request(const std::string& method, const std::string& path,
                        const std::string& headers,
                        const std::string& body = {}) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         + "Authorization: Bearer " + key + "\r\n" + headers + "\r\n" + body;
}

std::string post(const std::string& path, const std::string& body,
                 const std::string& headers = "Connection: close\r\n") {
  return raw_request("POST", path,
                     "Content-Type: application/json\r\nContent-Length: "
                       + std::to_string(body.size()) + "\r\n" + headers,
                     body);
}

/// Everything the server sends after `bytes`, until it closes (5 s).
std::string exchange(uint16_t port, const std::string& bytes) {
  raw_socket s{port};
  CAF_REQUIRE(s.connected());
  CAF_REQUIRE(s.send(bytes));
  return s.read();
}

/// The status lines of the responses in `raw`.
std::vector<int> statuses(const std::string& raw) {
  std::vector<int> out;
  for (size_t i = raw.find("HTTP/1.1 "); i != std::string::npos;
       i = raw.find("HTTP/1.1 ", i + 1))
    out.push_back(std::atoi(raw.c_str() + i + 9));
  return out;
}

constexpr std::string_view smuggled
  = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

} // namespace

CAF_TEST(a body nested 270000 levels deep is refused and the node lives on) {
  // The probe crashed tetherd with this body (a recursive parse): every
  // session of the node dropped.
  api_node n;
  auto d = connect_device(*n.node, "alice", "phone", device_type::mobile);
  auto raw = exchange(n.port(), post("/api/v1/users/alice/messages",
                                     std::string(270000, '[')));
  auto r = parse_response(raw);
  CAF_CHECK_EQUAL(r.status, 400);
  CAF_CHECK(r.body.find("MALFORMED_FRAME") != std::string::npos);
  CAF_CHECK(still_works(*d, "after-deep"));
  CAF_CHECK_EQUAL(http_get(n.port(), "/healthz").status, 200);
}

CAF_TEST(a second source in a body is refused and nothing is delivered) {
  api_node n;
  auto d = connect_device(*n.node, "alice", "phone", device_type::mobile);
  auto src = std::string{R"("source":{"userId":"alice","deviceId":"phone",)"
                         R"("deviceType":"mobile","timestamp":1})"};
  auto body = R"({"id":"forged",)" + src + "," + src
              + R"(,"type":"t","payload":{},"destination":{"target":)"
                R"("device","deviceId":"phone"}})";
  auto r = parse_response(exchange(n.port(), post("/api/v1/users/alice/"
                                                  "messages",
                                                  body)));
  CAF_CHECK_EQUAL(r.status, 400);
  CAF_CHECK(r.body.find(R"("code":"VALIDATION_ERROR")") != std::string::npos);
  CAF_CHECK(r.body.find(R"({"field":"source","message":)")
            != std::string::npos);
  // The next message the phone gets is the one sent after.
  r = parse_response(
    exchange(n.port(),
             post("/api/v1/users/alice/messages",
                  R"({"id":"after","type":"t","payload":{},)"
                  R"("destination":{"target":"device","deviceId":"phone"}})")));
  CAF_CHECK_EQUAL(r.status, 200);
  auto next = protocol::decode(codec::json, d->next(), protocol::limits{});
  CAF_REQUIRE(next.ok());
  CAF_REQUIRE(next.kind == protocol::frame_kind::message);
  CAF_CHECK_EQUAL(next.messages.front().msg.id, "after");
  CAF_CHECK_EQUAL(next.messages.front().msg.source.user_id, "system");
}

CAF_TEST(
  a transfer coding other than chunked is refused and the connection closed) {
  // RFC 9112 §6.3: read as "no body", the body ran as the next request on
  // the connection (request smuggling).
  api_node n;
  for (auto te :
       {"xchunked", "gzip", "chunked, identity", "identity", "gzip, chunked",
        "chunked\r\nTransfer-Encoding: chunked", "chunked,", " chunked x"}) {
    auto raw = exchange(
      n.port(), raw_request("POST", "/api/v1/users/alice/messages",
                            std::string{"Transfer-Encoding: "} + te + "\r\n",
                            std::string{smuggled}));
    auto got = statuses(raw);
    CAF_CHECK_EQUAL(got.size(), 1u);
    if (!got.empty())
      CAF_CHECK_EQUAL(got.front(), 400);
    CAF_CHECK(raw.find("Connection: close") != std::string::npos);
  }
  // Chunked, in any case, is a body.
  auto body = std::string{R"({"type":"t","payload":{},)"
                          R"("destination":{"target":"broadcast",)"
                          R"("broadcast":{"scope":"user"}}})"};
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", body.size());
  auto raw = exchange(
    n.port(), raw_request("POST", "/api/v1/users/alice/messages",
                          "Transfer-Encoding: ChUnKeD\r\n"
                          "Connection: close\r\n",
                          size + std::string{"\r\n"} + body + "\r\n0\r\n\r\n"));
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{200});
}

CAF_TEST(content length beside transfer encoding is refused) {
  api_node n;
  for (auto headers : {"Content-Length: 35\r\nTransfer-Encoding: chunked\r\n",
                       "Transfer-Encoding: chunked\r\nContent-Length: 35\r\n",
                       "Transfer-Encoding: gzip\r\nContent-Length: 35\r\n",
                       "Content-Length: 35\r\nTransfer-Encoding: gzip\r\n"}) {
    auto raw = exchange(n.port(),
                        raw_request("POST", "/api/v1/users/alice/messages",
                                    headers, std::string{smuggled}));
    CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{400});
  }
  // Two lengths that differ, and transfer coding in HTTP/1.0.
  auto raw = exchange(
    n.port(), "POST /api/v1/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
              "Content-Length: 2\r\n\r\nab");
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{400});
  raw = exchange(n.port(), "POST /api/v1/stats HTTP/1.0\r\nHost: x\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CAF_CHECK_EQUAL(statuses(raw).size(), 1u);
  CAF_CHECK(raw.find("HTTP/1.1 400") != std::string::npos);
}

CAF_TEST(a body over the cap gets 413 and the connection closed) {
  // SPEC §15: at most limits.max_message_bytes + 16 KiB; the probe got 400
  // "malformed HTTP request".
  api_node n{[](config::settings& s) {
    s.limits.max_message_bytes = 4096;
    s.limits.protocol.max_payload_bytes = 2048;
  }};
  auto cap = 4096 + 16 * 1024;
  // Announced: answered before any body byte is read.
  auto raw = exchange(
    n.port(),
    raw_request("POST", "/api/v1/users/alice/messages",
                "Content-Length: " + std::to_string(cap + 1) + "\r\n"));
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{413});
  CAF_CHECK(raw.find("Connection: close") != std::string::npos);
  // Chunked: refused once the chunks pass the cap.
  std::string chunks;
  for (int i = 0; i < 6; ++i)
    chunks += "1000\r\n" + std::string(4096, 'a') + "\r\n";
  raw = exchange(n.port(), raw_request("POST", "/api/v1/users/alice/messages",
                                       "Transfer-Encoding: chunked\r\n",
                                       chunks + "0\r\n\r\n"));
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{413});
  // At the cap: read and answered (the body is no message: 400).
  raw = exchange(n.port(),
                 post("/api/v1/users/alice/messages", std::string(cap, ' ')));
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{400});
}

CAF_TEST(headers over 8 KiB get 431) {
  api_node n;
  auto raw = exchange(n.port(),
                      raw_request("GET", "/api/v1/stats",
                                  "X-Pad: " + std::string(9000, 'a') + "\r\n"));
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{431});
}

CAF_TEST(malformed framing is refused with 400 and the connection closed) {
  api_node n;
  for (auto bytes : {
         // A chunk size that overflows 64 bits.
         std::string{"POST /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "1ffffffffffffffff\r\nab\r\n0\r\n\r\n"},
         // Bare LF line endings.
         std::string{"GET /api/v1/stats HTTP/1.1\nHost: x\n\n"},
         // A space before the colon.
         std::string{"GET /api/v1/stats HTTP/1.1\r\nHost : x\r\n\r\n"},
         // A folded Transfer-Encoding whose value is not chunked.
         std::string{"POST /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
                     "Transfer-Encoding: x\r\n chunked\r\n\r\n0\r\n\r\n"},
         // A body cut short by the client's half close.
         std::string{"POST /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 100\r\n\r\nshort"},
       }) {
    raw_socket s{n.port()};
    CAF_REQUIRE(s.send(bytes));
    s.shutdown_write();
    auto raw = s.read();
    CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{400});
  }
}

CAF_TEST(a chunk line or trailer without end does not fill memory) {
  // The listener's buffer grew with a chunk extension or a trailer that
  // never ended (the parser needs the whole line): 10 MiB sent, 26 MiB
  // more resident, no answer until the deadline. Now the buffer is capped.
  api_node n;
  for (auto start : {std::string{"1;"}, std::string{"1\r\na\r\n0\r\nX-T: "}}) {
    raw_socket s{n.port()};
    CAF_REQUIRE(s.send(raw_request("POST", "/api/v1/users/alice/messages",
                                   "Transfer-Encoding: chunked\r\n", start)));
    // 256 KiB: the server may stop reading (and close) before the end.
    for (int i = 0; i < 64 && s.send(std::string(4096, 'a')); ++i) {
      // the kernel's buffers bound what is queued
    }
    CAF_CHECK_EQUAL(statuses(s.read()), std::vector<int>{400});
  }
}

CAF_TEST(pipelined requests are answered in order) {
  api_node n;
  auto get = raw_request("GET", "/api/v1/stats", "");
  auto raw = exchange(
    n.port(),
    get + get + raw_request("GET", "/api/v1/nope", "Connection: close\r\n"));
  CAF_CHECK_EQUAL(statuses(raw), (std::vector<int>{200, 200, 404}));
}

CAF_TEST(folded header lines are joined with a space) {
  // RFC 9112 §5.2 lets a server join obs-fold (as Beast does) or refuse
  // it; joined, a folded Transfer-Encoding is still checked whole (see
  // "malformed framing").
  api_node n;
  auto raw = exchange(n.port(), "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
                                "Authorization: Bearer\r\n "
                                  + key
                                  + "\r\nX-A: a\r\n\tb\r\n"
                                    "Connection: close\r\n\r\n");
  CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{200});
}

CAF_TEST(unknown api versions and paths are 404) {
  // SPEC §15: 404 for no such endpoint; the probe got 400 for /api/v2/.
  api_node n;
  for (auto path : {"/api/v2/stats", "/api/v2/users/alice/messages", "/api/v1",
                    "/api/", "/api/v1/nope", "/api/v1/users/alice"}) {
    auto raw = exchange(n.port(),
                        raw_request("GET", path, "Connection: close\r\n"));
    CAF_CHECK_EQUAL(statuses(raw), std::vector<int>{404});
  }
}

CAF_TEST(path ids that are not utf8 are refused and never echoed) {
  // The probe: rooms/%FF%FE/presence answered 200 with the bytes raw in
  // its JSON (not JSON: not UTF-8).
  api_node n;
  for (auto [method, path] : {
         std::pair{"GET", "/api/v1/rooms/%FF%FE/presence"},
         std::pair{"POST", "/api/v1/rooms/a%C0%80/messages"},
         std::pair{"POST", "/api/v1/users/%ED%A0%80/messages"},
         std::pair{"POST", "/api/v1/users/%FF/messages"},
         std::pair{"POST", "/api/v1/users/alice/devices/%FF/disconnect"},
         // Not a room name (SPEC §6): a NUL, a space.
         std::pair{"GET", "/api/v1/rooms/ops%00x/presence"},
         std::pair{"POST", "/api/v1/rooms/a%20b/messages"},
       }) {
    std::string p{path};
    // A room's path sets the destination; a user's takes one.
    auto body = p.find("/rooms/") != std::string::npos
                  ? std::string{R"({"type":"t","payload":{}})"}
                  : std::string{R"({"type":"t","payload":{},"destination":)"
                                R"({"target":"broadcast","broadcast":)"
                                R"({"scope":"user"}}})"};
    auto raw = exchange(n.port(),
                        method == std::string{"GET"}
                          ? raw_request(method, p, "Connection: close\r\n")
                          : post(p, body));
    auto r = parse_response(raw);
    CAF_CHECK_EQUAL(r.status, 400);
    CAF_CHECK(protocol::valid_utf8(raw));
    CAF_CHECK(r.body.find(R"("code":"VALIDATION_ERROR")") != std::string::npos);
  }
  // A valid UTF-8 id is echoed escaped.
  auto raw = exchange(n.port(),
                      post("/api/v1/users/al%22ice%C3%A9/devices/ph%5Cone/"
                           "disconnect",
                           ""));
  auto r = parse_response(raw);
  CAF_CHECK_EQUAL(r.status, 404);
  CAF_CHECK(r.body.find(R"(device 'ph\\one')") != std::string::npos);
}

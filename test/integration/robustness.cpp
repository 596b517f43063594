#define CAF_SUITE integration.robustness
#include <caf/test/unit_test.hpp>

#include "protocol/codec.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using protocol::target;
using namespace std::chrono_literals;

namespace {

protocol::message_ack ack_of(const std::string& text) {
  auto f = protocol::decode(codec::json, text, protocol::limits{});
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE(f.kind == protocol::frame_kind::ack);
  return f.ack;
}

} // namespace

CAF_TEST(malformed json gets a failed ack and the connection keeps working) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->client.send("{not json"));
  auto a = ack_of(d->next());
  CAF_CHECK(a.status == protocol::ack_status::failed);
  CAF_CHECK_EQUAL(a.error->code, "MALFORMED_FRAME");
  CAF_CHECK_EQUAL(a.message_id, "");
  CAF_CHECK(still_works(*d, "after-malformed"));
}

CAF_TEST(
  an invalid envelope gets field errors and the connection keeps working) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->client.send(
    R"({"id":"bad1","timestamp":1,"protocolVersion":"1.0.0",)"
    R"("source":{"deviceId":"phone","userId":"alice","deviceType":"robot",)"
    R"("timestamp":1},"destination":{"target":"device"},"type":"t",)"
    R"("optimization":{"priority":"urgent"}})"));
  auto a = ack_of(d->next());
  CAF_CHECK_EQUAL(a.message_id, "bad1");
  CAF_CHECK_EQUAL(a.error->code, "VALIDATION_ERROR");
  auto& details = a.error->details.raw;
  for (auto field :
       {"source.deviceType", "destination.deviceId", "optimization.priority"})
    CAF_CHECK(details.find(field) != std::string::npos);
  // Unsupported major version: a clear code naming the range.
  auto v2 = self_message("v2");
  v2.replace(v2.find("1.0.0"), 5, "2.0.0");
  CAF_REQUIRE(d->client.send(v2));
  a = ack_of(d->next());
  CAF_CHECK_EQUAL(a.error->code, "UNSUPPORTED_VERSION");
  CAF_CHECK(a.error->message.find("1.x") != std::string::npos);
  CAF_CHECK(still_works(*d, "after-invalid"));
}

CAF_TEST(a binary frame on a json session is refused without closing) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->client.send("\x81\xa1x", true));
  auto a = ack_of(d->next());
  CAF_CHECK_EQUAL(a.error->code, "MALFORMED_FRAME");
  CAF_CHECK(a.error->message.find("text frames") != std::string::npos);
  CAF_CHECK(still_works(*d, "after-binary"));
}

CAF_TEST(an oversized message closes with 1009) {
  test_node n{[](config::settings& s) {
    s.limits.max_message_bytes = 4096;
    s.limits.protocol.max_payload_bytes = 2048;
  }};
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->client.send(std::string(5000, 'x')));
  CAF_CHECK(!d->client.receive(3s).has_value());
  CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 1009);
}

CAF_TEST(repeated violations close with 1008) {
  test_node n{[](config::settings& s) { s.limits.guard.max_violations = 3; }};
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  for (int i = 0; i < 4; ++i)
    CAF_CHECK(d->client.send("garbage"));
  for (int i = 0; i < 4; ++i) {
    auto a = ack_of(d->next());
    CAF_CHECK(a.error && a.error->code == "MALFORMED_FRAME");
  }
  CAF_CHECK(!d->client.receive(3s).has_value());
  CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 1008);
}

CAF_TEST(the inbound rate limit refuses the excess with RATE_LIMITED) {
  test_node n{[](config::settings& s) {
    s.limits.guard.rate_per_second = 1;
    s.limits.guard.burst = 3;
  }};
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  for (int i = 0; i < 4; ++i)
    CAF_CHECK(d->client.send(self_message("r" + std::to_string(i))));
  int received = 0;
  int limited = 0;
  for (int i = 0; i < 7; ++i) {
    auto f = protocol::decode(codec::json, d->next(), protocol::limits{});
    if (f.kind != protocol::frame_kind::ack)
      continue;
    if (f.ack.status == protocol::ack_status::received)
      ++received;
    else if (f.ack.error && f.ack.error->code == "RATE_LIMITED")
      ++limited;
  }
  CAF_CHECK_EQUAL(received, 3);
  CAF_CHECK_EQUAL(limited, 1);
}

CAF_TEST(the app level heartbeat of the original client is answered) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->client.send(R"({"type":"ping","timestamp":1234})"));
  auto pong = d->next();
  CAF_CHECK_EQUAL(json_field(pong, "type"), "pong");
  CAF_CHECK_EQUAL(json_field(pong, "timestamp"), "1234");
  CAF_CHECK(!json_field(pong, "serverTime").empty());
}

CAF_TEST(a peer that stops answering pings is closed) {
  test_node n{[](config::settings& s) {
    s.heartbeat.ping_interval = 300ms;
    s.heartbeat.pong_timeout = 200ms;
  }};
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  auto answering = connect_device(n, "alice", "laptop", device_type::desktop);
  // The answering device keeps a read pending, so its client pongs; the
  // other one does not read at all (as a frozen app would not).
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string metrics;
  while (std::chrono::steady_clock::now() < deadline) {
    answering->client.receive(100ms);
    metrics = http_get(n.port(), "/metrics").body;
    if (metrics.find(R"(tether_connections_closed_total{code="4000"} 1)")
        != std::string::npos)
      break;
  }
  CAF_CHECK(metrics.find(R"(tether_connections_closed_total{code="4000"} 1)")
            != std::string::npos);
  // The silent peer finds the close frame with 4000 when it reads again.
  CAF_CHECK(!d->client.receive(2s).has_value());
  CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 4000);
  // The answering one is alive and has a measured RTT.
  CAF_CHECK(!answering->client.close_code().has_value());
  CAF_CHECK(metrics.find("tether_rtt_seconds_count 0\n") == std::string::npos);
}

CAF_TEST(a frame with a key given twice is refused and nothing delivered) {
  // The attacker probe: which copy of a duplicated key counts differs
  // between readers (SPEC §3); the server refuses the frame with the
  // socket path's field errors instead of picking one.
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  for (auto [id, member, field] : {
         std::tuple{"dup1",
                    R"("destination":{"target":"device","deviceId":"laptop"})",
                    "destination"},
         std::tuple{"dup2", R"("trace":{"a":{"b":1,"b":2}})", "trace.a.b"},
       }) {
    auto text = self_message(id);
    text.insert(text.size() - 1, std::string{","} + member);
    CAF_REQUIRE(d->client.send(text));
    auto a = ack_of(d->next());
    CAF_CHECK_EQUAL(a.message_id, id);
    CAF_REQUIRE(a.error.has_value());
    CAF_CHECK_EQUAL(a.error->code, "VALIDATION_ERROR");
    CAF_CHECK(a.error->details.raw.find(R"({"field":")" + std::string{field}
                                        + R"(","message":"is given more )")
              != std::string::npos);
  }
  // In a batch: that message refused, the other one delivered.
  auto dup = self_message("dup3");
  dup.insert(dup.size() - 1, R"(,"type":"u")");
  CAF_REQUIRE(d->client.send(R"({"id":"b1","messages":[)" + dup + ","
                             + self_message("ok3") + "]}"));
  auto acks = 0;
  auto delivered = std::string{};
  for (int i = 0; i < 3; ++i) {
    auto f = protocol::decode(codec::json, d->next(), protocol::limits{});
    CAF_REQUIRE(f.ok());
    if (f.kind == protocol::frame_kind::ack) {
      ++acks;
      if (f.ack.message_id == "dup3")
        CAF_CHECK(f.ack.status == protocol::ack_status::failed);
      else
        CAF_CHECK(f.ack.status == protocol::ack_status::received);
    } else {
      delivered += f.messages.front().msg.id;
    }
  }
  CAF_CHECK_EQUAL(acks, 2);
  CAF_CHECK_EQUAL(delivered, "ok3");
  // Neither device got a duplicated message; the phone works on.
  CAF_CHECK(still_works(*d, "after-dup"));
  CAF_CHECK(!laptop->client.receive(300ms).has_value());
}

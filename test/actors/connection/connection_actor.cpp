#define CAF_SUITE actors.connection_actor
#include "test/support/actor_fixture.hpp"

#include "actors/connection/connection_actor.hpp"
#include "actors/directory/directory_actor.hpp"
#include "protocol/codec.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

std::string message_to(const std::string& id, const std::string& device,
                       const std::string& from = "phone") {
  return R"({"id":")" + id + R"(","timestamp":1,"protocolVersion":"1.0.0",)"
         R"("source":{"deviceId":")" + from + R"(","userId":"alice",)"
         R"("deviceType":"mobile","timestamp":1},"destination":)"
         R"({"target":"device","deviceId":")" + device + R"("},)"
         R"("type":"t","optimization":{"priority":"normal",)"
         R"("requiresAck":true}})";
}

protocol::decoded_frame decode(const std::string& text) {
  return protocol::decode(protocol::codec::json, text, protocol::limits{});
}

struct fixture : test::fixture_base {
  std::shared_ptr<test::recording_port> port
    = std::make_shared<test::recording_port>();
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  directory_actor dir;
  connection_actor conn;
  connection_params params;

  fixture() {
    port->session.session_id = "s1";
    port->session.user_id = "alice";
    port->session.device_id = "phone";
    port->session.type = protocol::device_type::mobile;
    // Far enough that only tests that advance time see the expiry.
    port->session.token_expires_at = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch() + 1h).count();
    dir = sys.spawn(directory);
  }

  void start() {
    conn = sys.spawn(connection, port, dir, params, metrics);
    sched.run();
  }

  ~fixture() override {
    anon_send_exit(conn, caf::exit_reason::user_shutdown);
    anon_send_exit(dir, caf::exit_reason::user_shutdown);
  }

  void frame(const std::string& text, bool binary = false) {
    port->events->on_frame(text, binary);
    sched.run();
  }

  // The sent frames decoded, from index `from` on.
  std::vector<protocol::decoded_frame> sent_since(size_t from) {
    std::vector<protocol::decoded_frame> result;
    for (size_t i = from; i < port->sent.size(); ++i)
      result.push_back(decode(port->sent[i].first));
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(connection_actor_tests, fixture)

CAF_TEST(a new connection sends its welcome and joins the directory) {
  start();
  CAF_REQUIRE(port->events != nullptr);
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  auto w = decode(port->sent[0].first);
  CAF_CHECK_EQUAL(w.messages.front().msg.type, "tether.welcome");
  CAF_CHECK(!port->sent[0].second);
  self->send(dir, atom::get_v, std::string{"alice"});
  sched.run();
  self->receive([](const std::vector<device_identity>& devs) {
    CAF_REQUIRE_EQUAL(devs.size(), 1u);
    CAF_CHECK_EQUAL(devs[0].device_id, "phone");
  });
}

CAF_TEST(a routed message is acked and delivered) {
  start();
  frame(message_to("m1", "phone"));
  auto out = sent_since(1);
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK_EQUAL(out[0].messages.front().msg.id, "m1");
  CAF_CHECK(out[1].kind == protocol::frame_kind::ack);
  CAF_CHECK(out[1].ack.status == protocol::ack_status::received);
  CAF_CHECK_EQUAL(port->consumed_total, 1u);
  CAF_CHECK_EQUAL(metrics->messages_in(traffic_kind::message), 1u);
}

CAF_TEST(bad frames get failed acks until the violation budget closes) {
  params.guard.max_violations = 2;
  start();
  frame("nope");
  frame(message_to("m2", "tablet"));           // unknown device: no violation
  frame(message_to("m3", "phone", "laptop"));  // spoofed source
  auto out = sent_since(1);
  CAF_REQUIRE_EQUAL(out.size(), 3u);
  CAF_CHECK_EQUAL(out[0].ack.error->code, "MALFORMED_FRAME");
  CAF_CHECK_EQUAL(out[1].ack.error->code, "UNKNOWN_DEVICE");
  CAF_CHECK_EQUAL(out[2].ack.error->code, "SOURCE_MISMATCH");
  CAF_CHECK(port->closes.empty());
  frame("{}");
  CAF_CHECK_EQUAL(port->closes, std::vector<uint16_t>{1008});
  CAF_CHECK_EQUAL(port->consumed_total, 4u);
}

CAF_TEST(the rate limit follows the test clock) {
  params.guard.rate_per_second = 1;
  params.guard.burst = 2;
  start();
  for (auto id : {"a", "b", "c"})
    frame(message_to(id, "phone"));
  size_t limited = 0;
  for (auto& f : sent_since(1))
    if (f.kind == protocol::frame_kind::ack && f.ack.error
        && f.ack.error->code == "RATE_LIMITED")
      ++limited;
  CAF_CHECK_EQUAL(limited, 1u);
  advance_time(1s);
  auto before = port->sent.size();
  frame(message_to("d", "phone"));
  auto out = sent_since(before);
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK(out[1].ack.status == protocol::ack_status::received);
}

CAF_TEST(the session closes with 4501 when the token expires) {
  port->session.token_expires_at
    = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch() + 30s)
        .count();
  start();
  advance_time(20s);
  sched.run();
  CAF_CHECK(port->closes.empty());
  advance_time(11s);
  sched.run();
  CAF_CHECK_EQUAL(port->closes, std::vector<uint16_t>{4501});
}

CAF_TEST(the actor quits when its session closes) {
  start();
  self->monitor(conn);
  port->events->on_closed(1000);
  sched.run();
  self->receive([&](const caf::down_msg& dm) {
    CAF_CHECK_EQUAL(dm.source, conn.address());
  });
}

CAF_TEST(an unconfirmed close ends the actor after the grace period) {
  params.close_grace = 2s;
  start();
  self->monitor(conn);
  self->send(conn, atom::close_v, uint16_t{1001});
  sched.run();
  CAF_CHECK_EQUAL(port->closes, std::vector<uint16_t>{1001});
  advance_time(2s);
  sched.run();
  self->receive([&](const caf::down_msg& dm) {
    CAF_CHECK_EQUAL(dm.source, conn.address());
  });
}

CAF_TEST_FIXTURE_SCOPE_END()

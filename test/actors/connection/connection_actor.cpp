#define CAF_SUITE actors.connection_actor
#include "test/support/actor_fixture.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

std::string message_to(const std::string& id, const std::string& device,
                       const std::string& from = "phone",
                       const char* extra_optimization = "") {
  return R"({"id":")" + id
         + R"(","timestamp":1,"protocolVersion":"1.0.0",)"
           R"("source":{"deviceId":")"
         + from
         + R"(","userId":"alice",)"
           R"("deviceType":"mobile","timestamp":1},"destination":)"
           R"({"target":"device","deviceId":")"
         + device
         + R"("},)"
           R"("type":"t","optimization":{"priority":"normal",)"
           R"("requiresAck":true)"
         + extra_optimization + "}}";
}

struct fixture : test::node_fixture {
  fixture() { start(); }

  void frame(const std::shared_ptr<test::recording_port>& p,
             const std::string& text, bool binary = false) {
    p->events->on_frame(text, binary);
    run_messages();
  }

  // alice's phone, opened with a session that expires `from_now` from now
  // (on the wall clock, as the listener computes it).
  std::shared_ptr<test::recording_port>
  open_expiring(std::chrono::seconds from_now) {
    auto p = std::make_shared<test::recording_port>();
    p->session.session_id = "s";
    p->session.user_id = "alice";
    p->session.device_id = "phone";
    p->session.session_expires_at
      = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch() + from_now)
          .count();
    self->send(orch, atom::open_v, std::shared_ptr<session_port>{p});
    return p;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(connection_actor_tests, fixture)

CAF_TEST(a new connection welcomes the device before reading) {
  auto p = open("alice", "phone");
  CAF_REQUIRE(p->events != nullptr);
  CAF_REQUIRE_EQUAL(p->sent.size(), 1u);
  auto w = p->decoded().front();
  CAF_CHECK_EQUAL(w.messages.front().msg.type, "tether.welcome");
  auto& payload = w.messages.front().msg.payload.raw;
  CAF_CHECK(payload.find(R"("resumeToken":")") != std::string::npos);
  CAF_CHECK(payload.find(R"("resumed":false)") != std::string::npos);
}

CAF_TEST(a routed message is acked and delivered with a seq) {
  auto p = open("alice", "phone");
  frame(p, message_to("m1", "phone"));
  auto out = p->decoded(1);
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  // Both orders are legal: ack and delivery travel different paths.
  auto& ack = out[0].kind == protocol::frame_kind::ack ? out[0] : out[1];
  auto& msg = out[0].kind == protocol::frame_kind::ack ? out[1] : out[0];
  CAF_CHECK(ack.ack.status == protocol::ack_status::received);
  CAF_CHECK_EQUAL(ack.ack.recipients.value_or(0), 1u);
  CAF_REQUIRE(msg.kind == protocol::frame_kind::message);
  CAF_CHECK_EQUAL(msg.messages.front().msg.id, "m1");
  CAF_CHECK_EQUAL(p->consumed_total, 1u);
  CAF_CHECK_EQUAL(metrics->messages_in(traffic_kind::message), 1u);
  // The delivery frame is tagged for write credit.
  size_t tagged = 0;
  for (auto& f : p->sent)
    tagged += f.tag != 0 ? 1 : 0;
  CAF_CHECK_EQUAL(tagged, 1u);
}

CAF_TEST(bad frames get failed acks until the violation budget closes) {
  params.connection.guard.max_violations = 2;
  anon_send_exit(orch, caf::exit_reason::user_shutdown);
  run_messages();
  start();
  auto p = open("alice", "phone");
  frame(p, "nope");
  frame(p, message_to("m2", "tablet"));          // unknown device: no violation
  frame(p, message_to("m3", "phone", "laptop")); // spoofed source
  auto out = p->decoded(1);
  CAF_REQUIRE_EQUAL(out.size(), 3u);
  CAF_CHECK_EQUAL(out[0].ack.error->code, "MALFORMED_FRAME");
  CAF_CHECK_EQUAL(out[1].ack.error->code, "UNKNOWN_DEVICE");
  CAF_CHECK_EQUAL(out[2].ack.error->code, "SOURCE_MISMATCH");
  CAF_CHECK(p->closes.empty());
  frame(p, "{}");
  CAF_CHECK_EQUAL(p->closes, std::vector<uint16_t>{1008});
  CAF_CHECK_EQUAL(p->consumed_total, 4u);
}

CAF_TEST(the rate limit follows the test clock) {
  params.connection.guard.rate_per_second = 1;
  params.connection.guard.burst = 2;
  anon_send_exit(orch, caf::exit_reason::user_shutdown);
  run_messages();
  start();
  auto p = open("alice", "phone");
  for (auto id : {"a", "b", "c"})
    frame(p, message_to(id, "phone"));
  size_t limited = 0;
  for (auto& f : p->decoded(1))
    if (f.kind == protocol::frame_kind::ack && f.ack.error
        && f.ack.error->code == "RATE_LIMITED")
      ++limited;
  CAF_CHECK_EQUAL(limited, 1u);
  advance_time(1s);
  run_messages();
  auto before = p->sent.size();
  frame(p, message_to("d", "phone"));
  bool received = false;
  for (auto& f : p->decoded(before))
    received = received
               || (f.kind == protocol::frame_kind::ack
                   && f.ack.status == protocol::ack_status::received);
  CAF_CHECK(received);
}

CAF_TEST(a resent message id is acked again but queued once) {
  auto p = open("alice", "phone");
  frame(p, message_to("dup", "phone"));
  frame(p, message_to("dup", "phone"));
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 1u);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::duplicate), 1u);
  size_t received = 0;
  for (auto& f : p->decoded(1))
    if (f.kind == protocol::frame_kind::ack
        && f.ack.status == protocol::ack_status::received
        && f.ack.recipients.value_or(0) == 1)
      ++received;
  CAF_CHECK_EQUAL(received, 2u);
  // The window belongs to the device: a resend on its next connection is a
  // duplicate too.
  p->events->on_closed(1006);
  run_messages();
  auto again = open("alice", "phone");
  frame(again, message_to("dup", "phone"));
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::duplicate), 2u);
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 1u);
}

CAF_TEST(connections route by the table their shard keeps current) {
  auto phone = open("alice", "phone");
  // An offline known device: no queue in the table, so the shard routes
  // (and starts its queue).
  auto tablet = open("alice", "tablet");
  tablet->events->on_closed(1000);
  run_messages();
  frame(phone, message_to("to-tablet", "tablet"));
  CAF_CHECK_EQUAL(log->load("alice", "tablet").size(), 1u);
  // The tablet comes back: the phone's table gets its queue, and the next
  // message goes straight to it, after the one before (per-sender order).
  tablet = open("alice", "tablet");
  frame(phone, message_to("to-tablet-2", "tablet"));
  auto rows = log->load("alice", "tablet");
  CAF_REQUIRE_EQUAL(rows.size(), 2u);
  CAF_CHECK_EQUAL(rows[0].msg_id, "to-tablet");
  CAF_CHECK_EQUAL(rows[1].msg_id, "to-tablet-2");
  // The second waits in the batcher until the first frame is written.
  tablet->confirm_writes();
  run_messages();
  std::vector<std::string> delivered;
  for (auto& f : tablet->decoded(1))
    for (auto& dm : f.messages)
      if (dm.msg.type == "t")
        delivered.push_back(dm.msg.id);
  CAF_CHECK_EQUAL(delivered,
                  (std::vector<std::string>{"to-tablet", "to-tablet-2"}));
  // Unknown devices are refused from the table, without the shard.
  frame(phone, message_to("nobody", "fridge"));
  auto last = phone->decoded(phone->sent.size() - 1).front();
  CAF_REQUIRE(last.kind == protocol::frame_kind::ack);
  CAF_CHECK_EQUAL(last.ack.error->code, "UNKNOWN_DEVICE");
}

CAF_TEST(a refused one way message gets a failed ack and may be resent) {
  params.queue.queue.max_items = 1;
  params.queue.queue.overflow = overflow_policy::refuse_new;
  anon_send_exit(orch, caf::exit_reason::user_shutdown);
  run_messages();
  start();
  auto phone = open("alice", "phone");
  auto tablet = open("alice", "tablet");
  // Without requiresAck (nor offlineCapable): sent one way.
  auto quiet = [](const std::string& id) {
    auto text = message_to(id, "tablet");
    std::string ask = R"("requiresAck":true)";
    return text.replace(text.find(ask), ask.size(), R"("requiresAck":false)");
  };
  // q1 fills the tablet's queue (in flight until written); q2 does not fit.
  frame(phone, quiet("q1"));
  frame(phone, quiet("q2"));
  auto acks = [&] {
    std::vector<protocol::decoded_frame> out;
    for (auto& f : phone->decoded(1))
      if (f.kind == protocol::frame_kind::ack)
        out.push_back(f);
    return out;
  };
  auto first = acks();
  CAF_REQUIRE_EQUAL(first.size(), 1u);
  CAF_CHECK_EQUAL(first[0].ack.message_id, "q2");
  CAF_CHECK(first[0].ack.status == protocol::ack_status::failed);
  CAF_REQUIRE(first[0].ack.error);
  CAF_CHECK_EQUAL(first[0].ack.error->code, "QUEUE_OVERFLOW");
  // Once q1 is written the queue has room, and the resend is taken, not
  // dropped as a duplicate.
  tablet->confirm_writes();
  run_messages();
  frame(phone, quiet("q2"));
  tablet->confirm_writes();
  advance_time(20ms);
  run_messages();
  CAF_CHECK_EQUAL(acks().size(), 1u);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::duplicate), 0u);
  std::vector<std::string> delivered;
  for (auto& f : tablet->decoded(1))
    for (auto& dm : f.messages)
      if (dm.msg.type == "t")
        delivered.push_back(dm.msg.id);
  CAF_CHECK_EQUAL(delivered, (std::vector<std::string>{"q1", "q2"}));
}

CAF_TEST(the session closes with 4501 when the token expires) {
  auto p = open_expiring(30s);
  run_messages();
  advance_time(20s);
  run_messages();
  CAF_CHECK(p->closes.empty());
  advance_time(11s);
  run_messages();
  CAF_CHECK_EQUAL(p->closes, std::vector<uint16_t>{4501});
}

CAF_TEST(closed connections leave no timer behind until their token expires) {
  // CAF's clock holds the receiver of a delayed message strongly: a timer
  // per connection kept every closed connection until its token expired.
  auto timers = [&] { return sched.clock().schedule().size(); };
  auto cycle = [&] {
    auto p = open_expiring(3600s);
    run_messages();
    p->events->on_closed(1000);
    run_messages();
  };
  cycle();
  auto after_one = timers();
  for (int i = 0; i < 5; ++i)
    cycle();
  CAF_CHECK_EQUAL(timers(), after_one);
  // The live ones still close when their token expires.
  auto p = open_expiring(60s);
  run_messages();
  advance_time(61s);
  run_messages();
  CAF_CHECK_EQUAL(p->closes, std::vector<uint16_t>{4501});
}

CAF_TEST(a session whose expiry has passed closes with 4501 at once) {
  // The listener accepts a token up to auth.leeway after its exp; such a
  // session must still end (it once got no timer and stayed open).
  auto p = open_expiring(-1s);
  run_messages();
  CAF_CHECK_EQUAL(p->closes, std::vector<uint16_t>{4501});
}

CAF_TEST(
  device acks retire messages and a device registration sets compression) {
  auto p = open("alice", "phone");
  frame(p, message_to("m1", "phone"));
  frame(p, R"({"messageId":"m1","status":"processed","timestamp":5})");
  auto st = log->stats();
  CAF_CHECK_EQUAL(st.queued, 0u);
  frame(p, R"({"id":"r1","timestamp":1,"protocolVersion":"1.0.0",)"
           R"("source":{"deviceId":"phone","userId":"alice",)"
           R"("deviceType":"mobile","timestamp":1},"destination":)"
           R"({"target":"cloud"},"type":"device_registration","payload":)"
           R"({"deviceInfo":{"capabilities":{"compression":["gzip"]}}},)"
           R"("optimization":{"priority":"high","requiresAck":true}})");
  auto out = p->decoded(p->sent.size() - 1);
  CAF_CHECK(out.front().ack.status == protocol::ack_status::processed);
  // A large delivery now arrives as a compressed binary frame.
  std::string big = R"(,"ttl":60000},"payload":{"text":")"
                    + std::string(4000, 'z') + R"("}})";
  auto text = message_to("big", "phone");
  text.replace(text.rfind("}}"), 2, big);
  auto before = p->sent.size();
  frame(p, text);
  // Past the coalescing delay of the batcher.
  p->confirm_writes();
  advance_time(20ms);
  run_messages();
  bool compressed = false;
  for (size_t i = before; i < p->sent.size(); ++i)
    compressed
      = compressed
        || (p->sent[i].binary
            && static_cast<unsigned char>(p->sent[i].bytes[0]) == 0xC1);
  CAF_CHECK(compressed);
}

CAF_TEST(the batcher starts with the first delivery and ends with the actor) {
  auto before = sys.registry().running();
  auto p = open("alice", "phone");
  // Only the connection: an idle device has neither queue nor batcher.
  CAF_CHECK_EQUAL(sys.registry().running(), before + 1);
  // Its first message starts both.
  frame(p, message_to("m1", "phone", "phone"));
  CAF_CHECK_EQUAL(sys.registry().running(), before + 3);
  bool delivered = false;
  for (auto& f : p->decoded(1))
    delivered = delivered
                || (f.kind == protocol::frame_kind::message
                    && f.messages.front().msg.id == "m1");
  CAF_CHECK(delivered);
  p->events->on_closed(1000);
  run_messages();
  // The connection and its batcher are gone; the queue stays for the
  // resume window.
  CAF_CHECK_EQUAL(sys.registry().running(), before + 1);
  // The directory saw it go: the device is offline now, but still known.
  auto d = directory_handle();
  self->send(d, atom::get_v, std::string{"alice"});
  run_messages();
  self->receive(
    [](const std::vector<device_identity>& devs) { CAF_CHECK(devs.empty()); });
}

CAF_TEST(
  the queue of an idle device is released and a message starts it again) {
  params.queue.release_after = 10s;
  anon_send_exit(orch, caf::exit_reason::user_shutdown);
  run_messages();
  start();
  auto fire = [](std::string text) {
    auto at = text.find(R"("requiresAck":true)");
    return text.replace(at, 18, R"("requiresAck":false)");
  };
  auto phone = open("alice", "phone");
  auto laptop = open("alice", "laptop");
  frame(phone, fire(message_to("m1", "phone", "phone")));
  phone->confirm_writes();
  run_messages();
  auto seq_of = [&](const std::string& id) {
    for (auto& f : phone->decoded(1))
      if (f.kind == protocol::frame_kind::message
          && f.messages.front().msg.id == id)
        return f.messages.front().msg.seq.value_or(0);
    return uint64_t{0};
  };
  auto s1 = seq_of("m1");
  CAF_REQUIRE(s1 > 0);
  // The laptop's queue never ran (nothing came for it); the phone's
  // started with m1, from the record its join left.
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::restored), 1u);
  auto running = sys.registry().running();
  advance_time(11s);
  run_messages();
  // The phone's queue held nothing for release_after: it is gone, the
  // connections route around it.
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::released), 1u);
  CAF_CHECK_EQUAL(sys.registry().running(), running - 1);
  // A message from the laptop starts it again, attached to its connection,
  // from its record: the seqs continue.
  frame(laptop, message_to("m2", "phone", "laptop"));
  phone->confirm_writes();
  run_messages();
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::restored), 2u);
  CAF_CHECK_EQUAL(seq_of("m2"), s1 + 1);
  // The phone's ack reaches the queue that runs now: m2 is retired.
  auto retired = metrics->queue_events(queue_counter::retired);
  frame(phone, R"({"messageId":"m2","status":"received","timestamp":1})");
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::retired), retired + 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

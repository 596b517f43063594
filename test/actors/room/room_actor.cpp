#define CAF_SUITE actors.room_actor
#include "test/support/actor_fixture.hpp"

#include "protocol/presence.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

// A device's envelope: `destination`, `tail` (type, payload, optimization)
// as JSON members.
std::string envelope(const std::string& id, const std::string& user,
                     const std::string& device, const std::string& destination,
                     const std::string& tail) {
  return R"({"id":")" + id
         + R"(","timestamp":1,"protocolVersion":"1.1.0",)"
           R"("source":{"deviceId":")"
         + device + R"(","userId":")" + user
         + R"(","deviceType":"mobile","timestamp":1},"destination":)"
         + destination + "," + tail + "}";
}

std::string cloud(const std::string& id, const std::string& user,
                  const std::string& device, const std::string& type,
                  const std::string& payload) {
  return envelope(
    id, user, device, R"({"target":"cloud"})",
    R"("type":")" + type + R"(","payload":)" + payload
      + R"(,"optimization":{"priority":"high","requiresAck":true})");
}

std::string to_room(const std::string& id, const std::string& user,
                    const std::string& device, const std::string& room) {
  return envelope(
    id, user, device,
    R"({"target":"broadcast","broadcast":{"scope":"room","room":")" + room
      + R"("}})",
    R"("type":"chat","payload":{"text":"hi"},"optimization":{"priority":"normal"})");
}

std::string direct(const std::string& id, const std::string& user,
                   const std::string& from, const std::string& to, bool ack) {
  return envelope(id, user, from,
                  R"({"target":"device","deviceId":")" + to + R"("})",
                  R"("type":"chat","payload":{"text":"hi"},)"
                  R"("optimization":{"priority":"normal","requiresAck":)"
                    + std::string{ack ? "true" : "false"} + "}");
}

struct fixture : test::node_fixture {
  std::vector<std::shared_ptr<test::recording_port>> ports;

  fixture() {
    params.room.presence.away_after = 10s;
    params.room.presence.grace = 2s;
    params.room.diff_interval = 100ms;
    params.directory.max_rooms = 4;
    start();
  }

  std::shared_ptr<test::recording_port> device(const std::string& user,
                                               const std::string& dev) {
    auto p = open(user, dev);
    ports.push_back(p);
    return p;
  }

  void frame(const std::shared_ptr<test::recording_port>& p,
             const std::string& text) {
    p->events->on_frame(text, false);
    run_messages();
  }

  // Lets diffs and batchers go out: confirms writes, passes the diff
  // interval (100ms) and the batchers' coalescing delay.
  void settle() {
    for (int i = 0; i < 4; ++i) {
      for (auto& p : ports)
        p->confirm_writes();
      advance_time(50ms);
      run_messages();
    }
  }

  // Messages of `type` the port received, decoded.
  std::vector<protocol::mobile_message>
  received(const std::shared_ptr<test::recording_port>& p,
           const std::string& type) {
    std::vector<protocol::mobile_message> out;
    for (auto& f : p->decoded())
      for (auto& m : f.messages)
        if (m.msg.type == type)
          out.push_back(m.msg);
    return out;
  }

  std::vector<protocol::decoded_frame>
  acks(const std::shared_ptr<test::recording_port>& p) {
    std::vector<protocol::decoded_frame> out;
    for (auto& f : p->decoded())
      if (f.kind == protocol::frame_kind::ack)
        out.push_back(f);
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(room_tests, fixture)

CAF_TEST(a subscriber gets a snapshot then batched diffs) {
  auto phone = device("alice", "phone");
  frame(phone, cloud("j1", "alice", "phone", "tether.join",
                     R"({"room":"team","presence":true})"));
  settle();
  auto snaps = received(phone, "tether.presence.snapshot");
  CAF_REQUIRE_EQUAL(snaps.size(), 1u);
  CAF_CHECK(snaps[0].payload.raw.find(R"("total":1)") != std::string::npos);
  auto laptop = device("bob", "laptop");
  frame(laptop,
        cloud("j2", "bob", "laptop", "tether.join", R"({"room":"team"})"));
  settle();
  auto joined = received(phone, "tether.presence.diff");
  CAF_REQUIRE_EQUAL(joined.size(), 1u);
  CAF_CHECK(joined[0].payload.raw.find(R"("event":"join")")
            != std::string::npos);
  // Three changes of bob within one diff interval: one diff, latest state.
  for (auto status : {"busy", "away", "busy"})
    frame(laptop, cloud("s", "bob", "laptop", "tether.presence.set",
                        std::string{R"({"status":")"} + status + R"("})"));
  settle();
  auto diffs = received(phone, "tether.presence.diff");
  CAF_REQUIRE_EQUAL(diffs.size(), 2u);
  auto& p = diffs[1].payload.raw;
  CAF_CHECK(p.find(R"("userId":"bob")") != std::string::npos);
  CAF_CHECK(p.find(R"("status":"busy")") != std::string::npos);
  CAF_CHECK(p.find(R"("status":"away")") == std::string::npos);
  CAF_CHECK_EQUAL(metrics->room_events(room_counter::diff_sent), 2u);
  // bob asked for no presence: no diffs for him.
  CAF_CHECK(received(laptop, "tether.presence.diff").empty());
}

CAF_TEST(a reconnect within the grace is silent and after it a leave follows) {
  auto phone = device("alice", "phone");
  frame(phone, cloud("j1", "alice", "phone", "tether.join",
                     R"({"room":"team","presence":true})"));
  auto laptop = device("bob", "laptop");
  frame(laptop,
        cloud("j2", "bob", "laptop", "tether.join", R"({"room":"team"})"));
  settle();
  auto before = received(phone, "tether.presence.diff").size();
  laptop->events->on_closed(1006);
  run_messages();
  advance_time(1s);
  run_messages();
  auto again = device("bob", "laptop");
  settle();
  CAF_CHECK_EQUAL(received(phone, "tether.presence.diff").size(), before);
  // One per room bob is in: "team" (his own "user:bob" does not run, as
  // none of his devices asked for it).
  CAF_CHECK_EQUAL(metrics->room_events(room_counter::flap_suppressed), 1u);
  // Gone for good: after the grace, bob leaves (offline), no ghost stays.
  again->events->on_closed(1006);
  run_messages();
  advance_time(2s);
  run_messages();
  settle();
  auto diffs = received(phone, "tether.presence.diff");
  CAF_REQUIRE_EQUAL(diffs.size(), before + 1);
  CAF_CHECK(diffs.back().payload.raw.find(R"("event":"leave")")
            != std::string::npos);
  CAF_CHECK(diffs.back().payload.raw.find(R"("status":"offline")")
            != std::string::npos);
}

CAF_TEST(a publish reaches every member but the sender) {
  auto a = device("alice", "phone");
  auto b = device("bob", "laptop");
  auto c = device("carol", "tablet");
  for (auto& [p, u, d] :
       {std::tuple{a, "alice", "phone"}, std::tuple{b, "bob", "laptop"},
        std::tuple{c, "carol", "tablet"}})
    frame(p, cloud("j", u, d, "tether.join", R"({"room":"team"})"));
  frame(a, to_room("hello", "alice", "phone", "team"));
  settle();
  CAF_CHECK_EQUAL(received(a, "chat").size(), 0u);
  for (auto& p : {b, c}) {
    auto got = received(p, "chat");
    CAF_REQUIRE_EQUAL(got.size(), 1u);
    auto& m = got[0];
    // The sender's message as sent, with the sender the server verified
    // and a seq of the recipient's queue.
    CAF_CHECK_EQUAL(m.id, "hello");
    CAF_CHECK_EQUAL(m.source.user_id, "alice");
    CAF_CHECK_EQUAL(m.source.device_id, "phone");
    CAF_CHECK_EQUAL(m.payload.raw, R"({"text":"hi"})");
    CAF_REQUIRE(m.destination.broadcast.has_value());
    CAF_CHECK_EQUAL(m.destination.broadcast->room, "team");
    CAF_CHECK(m.seq.has_value());
  }
  CAF_CHECK_EQUAL(metrics->room_events(room_counter::delivered), 2u);
  // A device that did not join cannot publish.
  auto d = device("dave", "phone");
  frame(d, to_room("nope", "dave", "phone", "team"));
  auto ack = acks(d).back();
  CAF_CHECK(ack.ack.error && ack.ack.error->code == "FORBIDDEN");
}

// The sender's side of a publish: its frame into the connection, the
// publish into the room (membership and rules checked there), the room's
// answer. Counted with the sender alone in the room, so that nothing else
// runs; every member more adds its queue's share, not the sender's.
CAF_TEST(a room publish costs the sender three actor messages) {
  auto a = device("alice", "phone");
  frame(a, cloud("j", "alice", "phone", "tether.join", R"({"room":"team"})"));
  frame(a, to_room("first", "alice", "phone", "team"));
  settle();
  a->events->on_frame(to_room("second", "alice", "phone", "team"), false);
  std::vector<std::string> receivers;
  for (int i = 0; i < 100 && sched.has_job(); ++i) {
    receivers.emplace_back(sched.next_job<caf::local_actor>().name());
    sched.try_run_once();
  }
  CAF_CHECK_EQUAL(
    receivers, (std::vector<std::string>{"connection", "room", "connection"}));
  CAF_CHECK_EQUAL(metrics->room_events(room_counter::published), 2u);
}

CAF_TEST(
  the own user room starts when a device asks and holds all its devices) {
  auto phone = device("alice", "phone");
  auto tablet = device("alice", "tablet");
  settle();
  // Nobody asked yet: no room runs for alice.
  auto text = metrics->render_prometheus();
  CAF_CHECK(text.find("tether_rooms 0\n") != std::string::npos);
  // The phone declares a status before the room runs; the room learns it.
  frame(phone, cloud("s", "alice", "phone", "tether.presence.set",
                     R"({"status":"busy"})"));
  // Publishing to the own room needs no join: every device is in it.
  frame(tablet, to_room("hi-me", "alice", "tablet", "user:alice"));
  settle();
  auto got = received(phone, "chat");
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].id, "hi-me");
  CAF_CHECK_EQUAL(got[0].source.device_id, "tablet");
  CAF_CHECK_EQUAL(received(tablet, "chat").size(), 0u);
  frame(tablet, cloud("g", "alice", "tablet", "tether.presence.get",
                      R"({"room":"user:alice"})"));
  settle();
  auto snaps = received(tablet, "tether.presence.snapshot");
  CAF_REQUIRE_EQUAL(snaps.size(), 1u);
  auto& raw = snaps[0].payload.raw;
  auto at = raw.find(R"("deviceId":"phone")");
  CAF_REQUIRE(at != std::string::npos);
  CAF_CHECK(raw.find(R"("status":"busy")") != std::string::npos);
}

CAF_TEST(one way direct messages keep their order around room publishes) {
  auto phone = device("alice", "phone");
  auto tablet = device("alice", "tablet");
  for (auto& [p, d] : {std::pair{phone, "phone"}, std::pair{tablet, "tablet"}})
    frame(p, cloud("j", "alice", d, "tether.join", R"({"room":"team"})"));
  // Queue lane (one way, nothing in flight), room lane (a request through
  // the shard and the room), queue lane again, one way and with an ack.
  phone->events->on_frame(direct("d1", "alice", "phone", "tablet", false),
                          false);
  phone->events->on_frame(to_room("r1", "alice", "phone", "team"), false);
  phone->events->on_frame(direct("d2", "alice", "phone", "tablet", false),
                          false);
  phone->events->on_frame(to_room("r2", "alice", "phone", "team"), false);
  phone->events->on_frame(direct("d3", "alice", "phone", "tablet", true),
                          false);
  run_messages();
  settle();
  std::vector<std::string> got;
  for (auto& m : received(tablet, "chat"))
    got.push_back(m.id);
  CAF_CHECK_EQUAL(got,
                  (std::vector<std::string>{"d1", "r1", "d2", "r2", "d3"}));
  // Only d3 asked for an ack (and the join did).
  std::vector<std::string> acked;
  for (auto& f : acks(phone))
    acked.push_back(f.ack.message_id);
  CAF_CHECK_EQUAL(acked, (std::vector<std::string>{"j", "d3"}));
}

// A device's rooms are bounded (presence.max_rooms, 4 here): a join beyond
// is refused with the reason, a refreshed join of a room it is in and a
// join after a leave are not.
CAF_TEST(a device is in at most max_rooms rooms) {
  auto a = device("alice", "phone");
  auto join = [&](const std::string& id, const std::string& room) {
    frame(a, cloud(id, "alice", "phone", "tether.join",
                   R"({"room":")" + room + R"("})"));
    return acks(a).back();
  };
  for (int i = 0; i < 4; ++i)
    CAF_CHECK(
      !join("j" + std::to_string(i), "r" + std::to_string(i)).ack.error);
  auto refused = join("j4", "r4");
  CAF_REQUIRE(refused.ack.error);
  CAF_CHECK_EQUAL(refused.ack.error->code, "FORBIDDEN");
  CAF_CHECK(refused.ack.error->message.find("at most 4 rooms")
            != std::string::npos);
  CAF_CHECK(!join("j5", "r3").ack.error); // already in it
  frame(a, cloud("l", "alice", "phone", "tether.leave", R"({"room":"r0"})"));
  CAF_CHECK(!join("j6", "r4").ack.error);
  // It is no member of the room it left.
  frame(a, to_room("p", "alice", "phone", "r0"));
  auto p = acks(a).back();
  CAF_CHECK_EQUAL(p.ack.message_id, "p");
  CAF_CHECK(p.ack.error && p.ack.error->code == "FORBIDDEN");
  settle();
  auto text = metrics->render_prometheus();
  CAF_CHECK(text.find("tether_rooms 4\n") != std::string::npos);
}

CAF_TEST(private rooms and their presence are closed to other users) {
  auto alice = device("alice", "phone");
  auto bob = device("bob", "laptop");
  frame(bob, cloud("j", "bob", "laptop", "tether.join",
                   R"({"room":"user:alice","presence":true})"));
  auto a1 = acks(bob).back();
  CAF_CHECK(a1.ack.error && a1.ack.error->code == "FORBIDDEN");
  frame(bob, cloud("g", "bob", "laptop", "tether.presence.get",
                   R"({"room":"user:alice"})"));
  auto a2 = acks(bob).back();
  CAF_CHECK(a2.ack.error && a2.ack.error->code == "FORBIDDEN");
  settle();
  CAF_CHECK(received(bob, "tether.presence.snapshot").empty());
  // Alice's own devices see each other there.
  auto tablet = device("alice", "tablet");
  frame(tablet, cloud("j", "alice", "tablet", "tether.join",
                      R"({"room":"user:alice","presence":true})"));
  settle();
  auto snaps = received(tablet, "tether.presence.snapshot");
  CAF_REQUIRE_EQUAL(snaps.size(), 1u);
  CAF_CHECK(snaps[0].payload.raw.find(R"("deviceId":"phone")")
            != std::string::npos);
}

CAF_TEST(idle members show away and activity brings them back) {
  auto phone = device("alice", "phone");
  frame(phone, cloud("j1", "alice", "phone", "tether.join",
                     R"({"room":"team","presence":true})"));
  auto laptop = device("bob", "laptop");
  frame(laptop,
        cloud("j2", "bob", "laptop", "tether.join", R"({"room":"team"})"));
  settle();
  advance_time(11s);
  run_messages();
  settle();
  auto diffs = received(phone, "tether.presence.diff");
  CAF_REQUIRE(!diffs.empty());
  CAF_CHECK(diffs.back().payload.raw.find(R"("userId":"bob")")
            != std::string::npos);
  CAF_CHECK(diffs.back().payload.raw.find(R"("status":"away")")
            != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()

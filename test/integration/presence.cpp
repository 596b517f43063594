#define CAF_SUITE integration.presence
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <map>

#include "protocol/codec.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

void quick(config::settings& s) {
  s.presence.presence.grace = 400ms;
  s.presence.presence.away_after = 600ms;
  s.presence.diff_interval = 50ms;
}

protocol::mobile_message
cloud(const std::string& id, const std::string& user, const std::string& device,
      device_type type, const std::string& kind, const std::string& payload) {
  auto m = make_message(id, user, device, protocol::target::cloud, type);
  m.type = kind;
  m.payload = protocol::json_value(payload);
  return m;
}

// Sends a request and returns its ack (other frames are kept in `seen`).
protocol::message_ack request(test_device& d, const protocol::mobile_message& m,
                              codec c, reading& seen) {
  d.client.send(protocol::encode(c, m), c == codec::msgpack);
  // Short reads (an ack is no message: a read waits its whole limit for
  // one), within 5 s in all.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = read_messages(d.client, 1, 100ms, c);
    seen.messages.insert(seen.messages.end(), r.messages.begin(),
                         r.messages.end());
    for (auto& a : r.acks)
      if (a.message_id == m.id)
        return a;
  }
  return {};
}

// Waits for a message of `type` whose payload contains `needle`.
std::optional<delivered> wait_for(test_device& d, const std::string& type,
                                  const std::string& needle, reading& seen,
                                  std::chrono::milliseconds limit = 3s,
                                  codec c = codec::json) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto& m : seen.messages)
    if (m.type == type && m.payload.find(needle) != std::string::npos)
      return m;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = read_messages(d.client, 1, 200ms, c);
    for (auto& m : r.messages) {
      seen.messages.push_back(m);
      if (m.type == type && m.payload.find(needle) != std::string::npos)
        return m;
    }
  }
  return std::nullopt;
}

size_t count(const reading& seen, const std::string& type,
             const std::string& needle) {
  size_t n = 0;
  for (auto& m : seen.messages)
    n += m.type == type && m.payload.find(needle) != std::string::npos;
  return n;
}

// A device connected and joined to room "team", with presence (snapshot and
// diffs) or without.
std::unique_ptr<test_device>
join_team(const test_node& n, const std::string& user,
          const std::string& device, device_type type, bool presence,
          reading& seen) {
  auto d = connect_device(n, user, device, type);
  request(*d,
          cloud("j", user, device, type, "tether.join",
                presence ? R"({"room":"team","presence":true})"
                         : R"({"room":"team"})"),
          codec::json, seen);
  return d;
}

} // namespace

CAF_TEST(members see joins and leaves of others) {
  test_node n{quick};
  auto alice = connect_device(n, "alice", "phone", device_type::mobile);
  reading seen;
  auto ack = request(*alice,
                     cloud("j", "alice", "phone", device_type::mobile,
                           "tether.join", R"({"room":"team","presence":true})"),
                     codec::json, seen);
  CAF_CHECK(ack.status == protocol::ack_status::processed);
  CAF_CHECK(wait_for(*alice, "tether.presence.snapshot", R"("total":1)", seen));
  reading bob_seen;
  auto bob = join_team(n, "bob", "laptop", device_type::desktop, false,
                       bob_seen);
  auto joined = wait_for(*alice, "tether.presence.diff", R"("event":"join")",
                         seen);
  CAF_REQUIRE(joined.has_value());
  CAF_CHECK(joined->payload.find(R"("userId":"bob")") != std::string::npos);
  request(*bob,
          cloud("l", "bob", "laptop", device_type::desktop, "tether.leave",
                R"({"room":"team"})"),
          codec::json, bob_seen);
  auto left = wait_for(*alice, "tether.presence.diff", R"("event":"leave")",
                       seen);
  CAF_REQUIRE(left.has_value());
  CAF_CHECK(left->payload.find(R"("status":"offline")") != std::string::npos);
}

CAF_TEST(an idle device shows away) {
  test_node n{quick};
  reading seen;
  auto alice = join_team(n, "alice", "phone", device_type::mobile, true, seen);
  reading bob_seen;
  auto bob = join_team(n, "bob", "laptop", device_type::desktop, false,
                       bob_seen);
  // bob sends nothing for longer than away_after (600 ms).
  auto away = wait_for(*alice, "tether.presence.diff", R"("status":"away")",
                       seen);
  CAF_REQUIRE(away.has_value());
  CAF_CHECK(away->payload.find(R"("userId":"bob")") != std::string::npos);
}

CAF_TEST(a killed connection goes offline after the grace with no ghost) {
  test_node n{quick};
  reading seen;
  auto alice = join_team(n, "alice", "phone", device_type::mobile, true, seen);
  {
    reading bob_seen;
    auto bob = join_team(n, "bob", "laptop", device_type::desktop, false,
                         bob_seen);
    CAF_CHECK(
      wait_for(*alice, "tether.presence.diff", R"("event":"join")", seen));
    bob->client.abort(); // the network drops: no close frame
  }
  auto gone = wait_for(*alice, "tether.presence.diff", R"("event":"leave")",
                       seen);
  CAF_REQUIRE(gone.has_value());
  CAF_CHECK(gone->payload.find(R"("status":"offline")") != std::string::npos);
  // No ghost: the room lists alice only.
  request(*alice,
          cloud("g", "alice", "phone", device_type::mobile,
                "tether.presence.get", R"({"room":"team"})"),
          codec::json, seen);
  CAF_CHECK(wait_for(*alice, "tether.presence.snapshot", R"("total":1)", seen));
}

CAF_TEST(a flap within the grace emits nothing) {
  test_node n{[](config::settings& s) {
    quick(s);
    s.presence.presence.grace = 5s;
    s.presence.presence.away_after = 60s;
  }};
  reading seen;
  auto alice = join_team(n, "alice", "phone", device_type::mobile, true, seen);
  reading bob_seen;
  auto bob = join_team(n, "bob", "laptop", device_type::desktop, false,
                       bob_seen);
  CAF_CHECK(
    wait_for(*alice, "tether.presence.diff", R"("event":"join")", seen));
  auto joins = count(seen, "tether.presence.diff", R"("userId":"bob")");
  bob->client.abort();
  // Back within the grace: bob is still in the room, nothing reported.
  auto again = connect_device(n, "bob", "laptop", device_type::desktop);
  CAF_REQUIRE(again->result.ok);
  CAF_CHECK(
    !wait_for(*alice, "tether.presence.diff", R"("event":"leave")", seen, 1s));
  CAF_CHECK_EQUAL(count(seen, "tether.presence.diff", R"("userId":"bob")"),
                  joins);
  // bob can still publish to the room without joining again.
  auto m = make_message("after-flap", "bob", "laptop",
                        protocol::target::broadcast, device_type::desktop);
  m.destination.broadcast = protocol::broadcast_info{
    protocol::broadcast_scope::room, std::string{"team"}, {}, {}};
  reading again_seen;
  auto ack = request(*again, m, codec::json, again_seen);
  CAF_CHECK(ack.status == protocol::ack_status::received);
}

CAF_TEST(a publish reaches every member once in its own codec) {
  test_node n{quick};
  struct member {
    std::string user, device;
    codec c;
    std::unique_ptr<test_device> d;
    reading seen;
  };
  std::vector<member> members;
  members.push_back({"alice", "phone", codec::json, nullptr, {}});
  members.push_back({"bob", "laptop", codec::msgpack, nullptr, {}});
  members.push_back({"carol", "tablet", codec::json, nullptr, {}});
  members.push_back({"dave", "web", codec::msgpack, nullptr, {}});
  for (auto& m : members) {
    m.d = connect_device(n, m.user, m.device, device_type::mobile, "", m.c);
    CAF_REQUIRE(m.d->result.ok);
    auto ack = request(*m.d,
                       cloud("j", m.user, m.device, device_type::mobile,
                             "tether.join", R"({"room":"lounge"})"),
                       m.c, m.seen);
    CAF_CHECK(ack.status == protocol::ack_status::processed);
  }
  auto msg = make_message("hello-all", "alice", "phone",
                          protocol::target::broadcast);
  msg.destination.broadcast = protocol::broadcast_info{
    protocol::broadcast_scope::room, std::string{"lounge"}, {}, {}};
  msg.payload = protocol::json_value(R"({"text":"hi","n":[1,2]})");
  auto ack = request(*members[0].d, msg, codec::json, members[0].seen);
  CAF_CHECK(ack.status == protocol::ack_status::received);
  CAF_CHECK_EQUAL(ack.recipients.value_or(0), 3u);
  for (size_t i = 1; i < members.size(); ++i) {
    auto& m = members[i];
    auto got = wait_for(*m.d, "command", R"("text":"hi")", m.seen, 3s, m.c);
    CAF_REQUIRE(got.has_value());
    CAF_CHECK_EQUAL(got->id, "hello-all");
    CAF_CHECK_EQUAL(got->payload, R"({"text":"hi","n":[1,2]})");
    // Exactly once.
    auto more = read_messages(m.d->client, 1, 300ms, m.c);
    for (auto& x : more.messages)
      CAF_CHECK_NOT_EQUAL(x.id, "hello-all");
  }
  CAF_CHECK_EQUAL(count(members[0].seen, "command", "hello-all"), 0u);
}

CAF_TEST(a large room reaches its members on every event loop once in order) {
  // Two loops; 80 members land on both (connections go round the loops),
  // so the room serves its own loop's members and a fan-out on the other
  // loop serves the rest.
  test_node n{[](config::settings& s) {
    quick(s);
    s.server.io_threads = 2;
  }};
  constexpr size_t size = 80;
  constexpr size_t publishes = 4;
  struct member {
    std::string user;
    codec c;
    std::unique_ptr<test_device> d;
    reading seen;
  };
  std::vector<member> members(size);
  for (size_t i = 0; i < size; ++i) {
    auto& m = members[i];
    m.user = "u" + std::to_string(i);
    m.c = i % 2 == 0 ? codec::json : codec::msgpack;
    m.d = connect_device(n, m.user, "d", device_type::mobile, "", m.c);
    CAF_REQUIRE(m.d->result.ok);
    auto ack = request(*m.d,
                       cloud("j", m.user, "d", device_type::mobile,
                             "tether.join", R"({"room":"big"})"),
                       m.c, m.seen);
    CAF_REQUIRE(ack.status == protocol::ack_status::processed);
  }
  // The last one leaves again: it gets nothing more.
  auto& gone = members.back();
  auto left = request(*gone.d,
                      cloud("l", gone.user, "d", device_type::mobile,
                            "tether.leave", R"({"room":"big"})"),
                      gone.c, gone.seen);
  CAF_REQUIRE(left.status == protocol::ack_status::processed);
  // Publishes nobody waits for (a durable one waits for every queue's
  // answer, which the room collects itself).
  // Four read per member: a copy twice of one of the first three shows.
  for (size_t p = 0; p < publishes; ++p) {
    auto msg = make_message("big-" + std::to_string(p), "u0", "d",
                            protocol::target::broadcast);
    msg.destination.broadcast = protocol::broadcast_info{
      protocol::broadcast_scope::room, std::string{"big"}, {}, {}};
    msg.payload = protocol::json_value(R"({"n":)" + std::to_string(p) + "}");
    msg.optimization.requires_ack = false;
    CAF_REQUIRE(members[0].d->client.send(protocol::encode(codec::json, msg)));
  }
  // Every member but the sender and the one that left: each publish once,
  // in the order sent.
  size_t whole = 0;
  for (size_t i = 1; i + 1 < size; ++i) {
    auto& m = members[i];
    std::vector<std::string> got;
    for (int round = 0; round < 20 && got.size() < publishes; ++round) {
      auto r = read_messages(m.d->client, publishes - got.size(), 1s, m.c);
      for (auto& x : r.messages)
        got.push_back(x.id);
      if (r.messages.empty())
        break;
    }
    whole += got
             == std::vector<std::string>{"big-0", "big-1", "big-2", "big-3"};
  }
  CAF_CHECK_EQUAL(whole, size - 2);
  // Not to the sender.
  auto& own = members[0].seen.messages;
  for (auto& x : read_messages(members[0].d->client, 1, 300ms).messages)
    own.push_back(x);
  CAF_CHECK(std::none_of(own.begin(), own.end(), [](const delivered& x) {
    return x.id.rfind("big-", 0) == 0;
  }));
  CAF_CHECK(read_messages(gone.d->client, 1, 300ms, gone.c).messages.empty());
  // The other loop's members came through its fan-out, once per publish.
  CAF_CHECK_EQUAL(
    metric_sample(n.port(), R"(tether_room_events_total{event="fanned_out"})"),
    publishes);
  CAF_CHECK_EQUAL(
    metric_sample(n.port(), R"(tether_room_events_total{event="delivered"})"),
    publishes * (size - 2));
}

CAF_TEST(another user cannot join a private room or see its presence) {
  test_node n{quick};
  auto alice = connect_device(n, "alice", "phone", device_type::mobile);
  auto bob = connect_device(n, "bob", "laptop", device_type::desktop);
  reading seen;
  auto a
    = request(*bob,
              cloud("j", "bob", "laptop", device_type::desktop, "tether.join",
                    R"({"room":"user:alice","presence":true})"),
              codec::json, seen);
  CAF_CHECK(a.status == protocol::ack_status::failed);
  CAF_CHECK(a.error && a.error->code == "FORBIDDEN");
  auto g = request(*bob,
                   cloud("g", "bob", "laptop", device_type::desktop,
                         "tether.presence.get", R"({"room":"user:alice"})"),
                   codec::json, seen);
  CAF_CHECK(g.error && g.error->code == "FORBIDDEN");
  CAF_CHECK_EQUAL(count(seen, "tether.presence.snapshot", "alice"), 0u);
  // Alice's other device sees her phone in her room.
  auto tablet = connect_device(n, "alice", "tablet", device_type::tablet);
  reading tseen;
  request(*tablet,
          cloud("j", "alice", "tablet", device_type::tablet, "tether.join",
                R"({"room":"user:alice","presence":true})"),
          codec::json, tseen);
  CAF_CHECK(wait_for(*tablet, "tether.presence.snapshot",
                     R"("deviceId":"phone")", tseen));
}

CAF_TEST(a member cannot forge acks batches or server messages to others) {
  test_node n{quick};
  reading aseen, mseen;
  auto alice = join_team(n, "alice", "phone", device_type::mobile, false,
                         aseen);
  auto mallory = join_team(n, "mallory", "laptop", device_type::desktop, false,
                           mseen);
  auto to_team = [](const std::string& id, const std::string& type) {
    auto m = make_message(id, "mallory", "laptop", protocol::target::broadcast,
                          device_type::desktop);
    m.type = type;
    m.destination.broadcast = protocol::broadcast_info{
      protocol::broadcast_scope::room, std::string{"team"}, {}, {}};
    m.optimization.requires_ack = true;
    return protocol::encode(codec::json, m);
  };
  // Inside a batch a message with messageId + status or messages would be
  // read by alice as an ack (here a failed ack for her own message) or a
  // batch; a tether.* type as a server message.
  auto forged_ack = to_team("f1", "chat");
  forged_ack.insert(1, R"("messageId":"alice-1","status":"failed",)");
  auto forged_batch = to_team("f2", "chat");
  forged_batch.insert(1, R"("messages":[],)");
  auto batch = R"({"id":"b1","messages":[)" + forged_ack + "," + forged_batch
               + "," + to_team("f3", "tether.presence.diff") + "]}";
  CAF_REQUIRE(mallory->client.send(batch));
  auto r = read_messages(mallory->client, 100, 1s); // acks, until quiet
  std::map<std::string, std::string> refused;       // id -> first field named
  for (auto& a : r.acks) {
    CAF_CHECK(a.status == protocol::ack_status::failed);
    CAF_CHECK(a.error && a.error->code == "VALIDATION_ERROR");
    if (a.error)
      refused[a.message_id] = json_field(a.error->details.raw, "field");
  }
  CAF_CHECK_EQUAL(refused["f1"], "messageId");
  CAF_CHECK_EQUAL(refused["f2"], "messages");
  CAF_CHECK_EQUAL(refused["f3"], "type");
  // Nothing reached alice.
  auto got = read_messages(alice->client, 1, 500ms);
  CAF_CHECK(got.messages.empty());
  CAF_CHECK(got.acks.empty());
}

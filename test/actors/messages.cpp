#define CAF_SUITE actors.messages
#include "test/support/actor_fixture.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/type_id.hpp>

#include <set>
#include <string>
#include <utility>

#include "actors/cluster/relay.hpp"
#include "actors/fan_in.hpp"
#include "actors/messages.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

// The names (CAF's) of the types the tests below round-tripped with every
// field set; the last test wants the whole type ID block among them.
std::set<std::string>& covered() {
  static std::set<std::string> names;
  return names;
}

template <class T>
void cover() {
  covered().emplace(caf::type_name_by_id<caf::type_id<T>::value>::value);
}

// Serializes `x`, reads it into `y` and serializes that again: the bytes
// must be the same and not empty. The caller checks y's fields (a field
// missing from inspect() would be lost on both sides alike).
template <class T>
bool round_trips(caf::actor_system& sys, T x, const char* name, T& y) {
  cover<T>();
  std::vector<char> first;
  caf::binary_serializer sink{sys, first};
  if (auto err = inspect(sink, x)) {
    CAF_MESSAGE(name << ": serialize failed");
    return false;
  }
  y = T{};
  caf::binary_deserializer source{sys, first};
  if (auto err = inspect(source, y)) {
    CAF_MESSAGE(name << ": deserialize failed");
    return false;
  }
  std::vector<char> second;
  caf::binary_serializer again{sys, second};
  if (auto err = inspect(again, y))
    return false;
  if (first != second || first.size() < 2) {
    CAF_MESSAGE(name << ": " << first.size() << " bytes, then "
                     << second.size());
    return false;
  }
  return true;
}

// Vectors of registered types go through the same inspector per element.
template <class T>
bool round_trips(caf::actor_system& sys, std::vector<T> xs, const char* name) {
  cover<std::vector<T>>();
  std::vector<char> first;
  caf::binary_serializer sink{sys, first};
  if (sink(xs))
    return false;
  std::vector<T> ys;
  caf::binary_deserializer source{sys, first};
  if (source(ys))
    return false;
  std::vector<char> second;
  caf::binary_serializer again{sys, second};
  if (again(ys))
    return false;
  if (first != second || ys.size() != xs.size()) {
    CAF_MESSAGE(name << ": vector differs after the round trip");
    return false;
  }
  return true;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(message_tests, test::fixture_base)

// Every serializable message type survives the binary serializer, so two
// nodes agree on it (an unregistered type would arrive as an empty message).
CAF_TEST(peer link exits say whether to dial again) {
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::lost, "x")));
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::refused, "x")));
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::unreachable, "x")));
  CAF_CHECK(!peer_link_retries(make_peer_error(peer_exit::redundant, "x")));
  CAF_CHECK(!peer_link_retries(caf::error{}));
  CAF_CHECK(!peer_link_retries(caf::exit_reason::user_shutdown));
}

// Every type of the block (actors/interfaces.hpp) with every field set:
// what crosses nodes, or the store's thread, must survive the serializer.
// Every type of the block (actors/interfaces.hpp) with every field set and
// checked after the round trip: what crosses nodes, or the store's thread,
// must survive the serializer.
CAF_TEST(every registered message type round trips with all its fields) {
  device_identity id{"alice",     "phone", protocol::device_type::tablet,
                     "extension", "s1",    protocol::codec::msgpack};
  device_identity id2;
  CAF_REQUIRE(round_trips(sys, id, "device_identity", id2));
  CAF_CHECK(id2.user_id == "alice" && id2.device_id == "phone"
            && id2.type == protocol::device_type::tablet
            && id2.role == "extension" && id2.session_id == "s1"
            && id2.codec == protocol::codec::msgpack);
  CAF_CHECK(round_trips(sys, std::vector<device_identity>{id, id}, "devices"));
  stored_message sm{
    "alice", "phone", 7,    3,        1000,
    2000,    true,    "m1", "laptop", std::string("\x81\xa1k\x01", 4),
    true};
  stored_message sm2;
  CAF_REQUIRE(round_trips(sys, sm, "stored_message", sm2));
  CAF_CHECK(sm2.user_id == "alice" && sm2.device_id == "phone" && sm2.qid == 7
            && sm2.priority == 3 && sm2.enqueued_ms == 1000
            && sm2.expires_ms == 2000 && sm2.needs_ack && sm2.msg_id == "m1"
            && sm2.sender_device == "laptop" && sm2.body == sm.body
            && sm2.dead);
  CAF_CHECK(round_trips(sys, std::vector<stored_message>{sm}, "stored"));
  device_record dr;
  dr.user_id = "alice";
  dr.device_id = "phone";
  dr.type = 2;
  dr.role = "extension";
  dr.epoch = "e1";
  dr.seq_reserved = 9;
  dr.next_qid = 11;
  dr.gap_expired = 1;
  dr.gap_evicted = 2;
  dr.gap_dead = 3;
  dr.last_seen_ms = 12345;
  dr.gen = 4;
  device_record dr2;
  CAF_REQUIRE(round_trips(sys, dr, "device_record", dr2));
  CAF_CHECK(dr2.user_id == "alice" && dr2.device_id == "phone" && dr2.type == 2
            && dr2.role == "extension" && dr2.epoch == "e1"
            && dr2.seq_reserved == 9 && dr2.next_qid == 11
            && dr2.gap_expired == 1 && dr2.gap_evicted == 2 && dr2.gap_dead == 3
            && dr2.last_seen_ms == 12345 && dr2.gen == 4);
  CAF_CHECK(round_trips(sys, std::vector<device_record>{dr}, "records"));
  // What a leader sends a follower of a queue (SPEC §14.3).
  replica_batch rb;
  rb.header = replica_header{"c",         "alice", "phone",    2,
                             "extension", 3,       {"b", "a"}, "s1"};
  rb.rows = {sm};
  rb.removed = {4, 5};
  rb.after = 2;
  rb.upto = 7;
  rb.drop = true;
  replica_batch rb2;
  CAF_REQUIRE(round_trips(sys, rb, "replica_batch", rb2));
  CAF_CHECK(rb2.header.leader == "c" && rb2.header.user_id == "alice"
            && rb2.header.device_id == "phone" && rb2.header.type == 2
            && rb2.header.role == "extension" && rb2.header.gen == 3
            && rb2.header.followers == (std::vector<std::string>{"b", "a"})
            && rb2.header.lineage == "s1" && rb2.rows.size() == 1
            && rb2.rows[0].body == sm.body
            && rb2.removed == (std::vector<uint64_t>{4, 5}) && rb2.after == 2
            && rb2.upto == 7 && rb2.drop);
  replica_header rh2;
  CAF_CHECK(round_trips(sys, rb.header, "replica_header", rh2));
  CAF_CHECK(round_trips(sys, std::vector<replica_header>{rb.header},
                        "replica_headers"));
  message_keys mk;
  CAF_REQUIRE(round_trips(sys, message_keys{"alice", "phone", {1, 2, 3}},
                          "message_keys", mk));
  CAF_CHECK(mk.user_id == "alice" && mk.device_id == "phone"
            && mk.qids == (std::vector<uint64_t>{1, 2, 3}));
  reservation rv;
  CAF_REQUIRE(
    round_trips(sys, reservation{"alice", "phone", 100, 7}, "reservation", rv));
  CAF_CHECK(rv.user_id == "alice" && rv.device_id == "phone"
            && rv.seq_reserved == 100 && rv.next_qid == 7);
  gap_counts gc;
  CAF_REQUIRE(round_trips(sys, gap_counts{"alice", "phone", 1, 2, 3, true},
                          "gap_counts", gc));
  CAF_CHECK(gc.user_id == "alice" && gc.device_id == "phone" && gc.expired == 1
            && gc.evicted == 2 && gc.dead == 3 && gc.reset);
  resume_request rq;
  CAF_REQUIRE(
    round_trips(sys, resume_request{"tok", 42, 3}, "resume_request", rq));
  CAF_CHECK(rq.token == "tok" && rq.last_seq == 42 && rq.loop == 3);
  resume_info ri;
  CAF_REQUIRE(round_trips(sys, resume_info{"tok", true, 5}, "resume_info", ri));
  CAF_CHECK(ri.token == "tok" && ri.resumed && ri.backlog == 5);
  CAF_CHECK(round_trips(sys, std::vector<uint64_t>{1, 2}, "u64s"));
  CAF_CHECK(round_trips(sys, std::vector<std::string>{"a", "b"}, "strings"));
  CAF_CHECK(round_trips(sys, std::vector<uint8_t>{1, 255}, "u8s"));
  presence_update pu;
  pu.user_id = "alice";
  pu.device_id = "phone";
  pu.status = 2;
  pu.has_custom = true;
  pu.clear_custom = true;
  pu.custom_text = "In a meeting";
  pu.custom_emoji = "x";
  pu.custom_expires_ms = 99;
  pu.activity_only = true;
  pu.app_state = 1;
  presence_update pu2;
  CAF_REQUIRE(round_trips(sys, pu, "presence_update", pu2));
  CAF_CHECK(pu2.user_id == "alice" && pu2.device_id == "phone"
            && pu2.status == 2 && pu2.has_custom && pu2.clear_custom
            && pu2.custom_text == "In a meeting" && pu2.custom_emoji == "x"
            && pu2.custom_expires_ms == 99 && pu2.activity_only
            && pu2.app_state == 1);
  presence_row row{"alice", "phone", 2,  1,    true,
                   "Away",  "z",     77, 1234, "update"};
  presence_row row2;
  CAF_REQUIRE(round_trips(sys, row, "presence_row", row2));
  CAF_CHECK(row2.user_id == "alice" && row2.device_id == "phone"
            && row2.type == 2 && row2.status == 1 && row2.has_custom
            && row2.custom_text == "Away" && row2.custom_emoji == "z"
            && row2.custom_expires_ms == 77 && row2.last_seen_ms == 1234
            && row2.event == "update");
  CAF_CHECK(
    round_trips(sys, std::vector<presence_row>{row, row}, "presence rows"));
  room_ask ask{"team-1", true, {0, 2}, {1}, 3, 50};
  room_ask ask2;
  CAF_REQUIRE(round_trips(sys, ask, "room_ask", ask2));
  CAF_CHECK(ask2.room == "team-1" && ask2.presence
            && ask2.status_filter == ask.status_filter
            && ask2.type_filter == ask.type_filter && ask2.page == 3
            && ask2.page_size == 50);
  room_member rm;
  rm.id = id;
  rm.ask = ask;
  room_member rm2;
  CAF_REQUIRE(round_trips(sys, rm, "room_member", rm2));
  CAF_CHECK(rm2.id.device_id == "phone" && rm2.ask.room == "team-1");
  link_opened lo{true, 101, "tether.v1.json", true, 5000, "none"};
  link_opened lo2;
  CAF_REQUIRE(round_trips(sys, lo, "link_opened", lo2));
  CAF_CHECK(lo2.ok && lo2.status == 101 && lo2.subprotocol == "tether.v1.json"
            && lo2.deflate && lo2.retry_after_ms == 5000
            && lo2.error == "none");
  member_info mi;
  mi.node_id = "east-1";
  mi.host = "10.200.0.1";
  mi.port = 7400;
  mi.protocol = 3;
  mi.incarnation = 5;
  mi.store_id = "0123abcd";
  member_info mi2;
  CAF_REQUIRE(round_trips(sys, mi, "member_info", mi2));
  CAF_CHECK(mi2.node_id == "east-1" && mi2.host == "10.200.0.1"
            && mi2.port == 7400 && mi2.protocol == 3 && mi2.incarnation == 5
            && mi2.store_id == "0123abcd");
  CAF_CHECK(round_trips(sys, std::vector<member_info>{mi, mi}, "members"));
  remote_device rd2;
  CAF_REQUIRE(round_trips(sys, remote_device{id, "east-1", false, 1234, 6},
                          "remote_device", rd2));
  CAF_CHECK_EQUAL(rd2.gen, 6u);
  CAF_CHECK(rd2.id.device_id == "phone" && rd2.node_id == "east-1"
            && !rd2.connected && rd2.since_ms == 1234);
  CAF_CHECK(round_trips(sys, std::vector<remote_device>{rd2}, "remotes"));
  // A route carries a handle: a real one, of an actor of this system.
  auto target = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  remote_route rr{id, caf::actor_cast<peer_link_actor>(target), "east-1", false,
                  3};
  remote_route rr2;
  CAF_REQUIRE(round_trips(sys, rr, "remote_route", rr2));
  CAF_CHECK(rr2.id.device_id == "phone" && rr2.node == rr.node
            && rr2.node_id == "east-1" && !rr2.connected && rr2.gen == 3);
  CAF_CHECK(round_trips(sys, std::vector<remote_route>{rr}, "routes"));
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  protocol::push_address pa{protocol::push_provider::fcm, "tok", "com.x", true};
  protocol::push_address pa2;
  CAF_REQUIRE(round_trips(sys, pa, "push_address", pa2));
  CAF_CHECK(pa2 == pa);
  CAF_CHECK(round_trips(sys, std::vector<protocol::push_address>{pa, pa},
                        "push addresses"));
  push_request pr{"alice", "phone", {"m1", "m2"}, 3, 7, true, "Ann", "hi"};
  push_request pr2;
  CAF_REQUIRE(round_trips(sys, pr, "push_request", pr2));
  CAF_CHECK(pr2.user_id == "alice" && pr2.device_id == "phone"
            && pr2.message_ids == pr.message_ids && pr2.top == 3
            && pr2.count == 7 && pr2.has_notification && pr2.title == "Ann"
            && pr2.body == "hi");
  push_answer an{429, 2, "{}", "7", "timeout"};
  push_answer an2;
  CAF_REQUIRE(round_trips(sys, an, "push_answer", an2));
  CAF_CHECK(an2.status == 429 && an2.version == 2 && an2.body == "{}"
            && an2.retry_after == "7" && an2.error == "timeout");
}

// A handle of a local actor serializes as its id and node, and reads back
// as the same handle (the form in which handles cross nodes).
template <class Handle>
bool handle_round_trips(caf::actor_system& sys, const caf::actor& target,
                        const char* name) {
  cover<Handle>();
  auto h = caf::actor_cast<Handle>(target);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (sink(h) || buf.empty()) {
    CAF_MESSAGE(name << ": serialize failed");
    return false;
  }
  Handle back;
  caf::binary_deserializer source{sys, buf};
  if (source(back) || back != h) {
    CAF_MESSAGE(name << ": a different handle after the round trip");
    return false;
  }
  return true;
}

CAF_TEST(every registered handle type round trips as the same handle) {
  auto target = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  CAF_CHECK(
    handle_round_trips<delivery_source>(sys, target, "delivery_source"));
  CAF_CHECK(handle_round_trips<batcher_actor>(sys, target, "batcher_actor"));
  CAF_CHECK(handle_round_trips<pusher_actor>(sys, target, "pusher_actor"));
  CAF_CHECK(
    handle_round_trips<connection_actor>(sys, target, "connection_actor"));
  CAF_CHECK(handle_round_trips<queue_actor>(sys, target, "queue_actor"));
  CAF_CHECK(handle_round_trips<store_actor>(sys, target, "store_actor"));
  CAF_CHECK(handle_round_trips<replica_actor>(sys, target, "replica_actor"));
  CAF_CHECK(handle_round_trips<room_actor>(sys, target, "room_actor"));
  CAF_CHECK(handle_round_trips<device_actor>(sys, target, "device_actor"));
  CAF_CHECK(handle_round_trips<fleet_actor>(sys, target, "fleet_actor"));
  CAF_CHECK(
    handle_round_trips<directory_actor>(sys, target, "directory_actor"));
  CAF_CHECK(
    handle_round_trips<orchestrator_actor>(sys, target, "orchestrator_actor"));
  CAF_CHECK(handle_round_trips<cluster_actor>(sys, target, "cluster_actor"));
  CAF_CHECK(
    handle_round_trips<peer_link_actor>(sys, target, "peer_link_actor"));
  CAF_CHECK(handle_round_trips<gate_actor>(sys, target, "gate_actor"));
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
}

CAF_TEST(a forward through a link that is gone fails as node unavailable) {
  // A peer link restarted at a partition: its old handle is dead.
  auto dead = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->quit();
    return {[](atom::ok) {}};
  });
  sched.run();
  remote_groups remote;
  remote.add(caf::actor_cast<peer_link_actor>(dead), "tablet");
  std::optional<caf::expected<uint32_t>> outcome;
  auto fi = std::make_shared<fan_in>(
    [&](caf::expected<uint32_t> r) { outcome = std::move(r); }, 1);
  node_metrics metrics;
  auto msg = std::make_shared<const protocol::mobile_message>();
  sys.spawn([&](caf::event_based_actor* self) {
    remote.forward(self, device_identity{}, msg, std::chrono::seconds{5}, fi,
                   metrics);
  });
  sched.run();
  CAF_REQUIRE(outcome.has_value());
  CAF_REQUIRE(!*outcome);
  CAF_CHECK(to_errc(outcome->error()) == protocol::errc::node_unavailable);
  CAF_CHECK(reason_of(sys, outcome->error()).find("link to its node is down")
            != std::string::npos);
}

// The type ID block of actors/interfaces.hpp, enumerated: every type in it
// has a name in the actor system, reads back what it wrote (a default
// value), and was round-tripped by the tests above with every field set (or
// as a live handle; CAF runs a suite's tests in the order they are defined).
// A type added to the block without a case above fails here.
template <caf::type_id_t Id>
void check_type(caf::actor_system& sys) {
  using type = typename caf::type_by_id<Id>::type;
  std::string name = caf::type_name_by_id<Id>::value;
  auto& names = sys.config().type_names_by_rtti;
  auto check = [&name](bool ok, const char* why) {
    if (!ok)
      CAF_MESSAGE(name << why);
    CAF_CHECK(ok);
  };
  check(names.count(typeid(type)) == 1, " has no name in the actor system");
  check(covered().count(name) == 1,
        " is in the type ID block but no test above round-trips it");
  type x{};
  std::vector<char> first;
  caf::binary_serializer sink{sys, first};
  auto ok = !sink(x);
  type y{};
  if (ok) {
    caf::binary_deserializer source{sys, first};
    ok = !source(y);
  }
  std::vector<char> second;
  caf::binary_serializer again{sys, second};
  ok = ok && !again(y) && first == second;
  check(ok, ": a default value does not round trip");
}

template <caf::type_id_t... Is>
void check_block(caf::actor_system& sys,
                 std::integer_sequence<caf::type_id_t, Is...>) {
  (check_type<caf::id_block::tether_types::begin + Is>(sys), ...);
}

CAF_TEST(the tests cover the whole type ID block) {
  using block = caf::id_block::tether_types;
  CAF_REQUIRE(block::end > block::begin);
  check_block(
    sys,
    std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
  CAF_MESSAGE(block::end - block::begin << " types in the block");
}

CAF_TEST(protocol errors travel inside caf errors) {
  caf::error e = protocol::make_error(protocol::errc::queue_overflow);
  CAF_CHECK(to_errc(e) == protocol::errc::queue_overflow);
  CAF_CHECK(to_errc(caf::make_error(caf::sec::request_timeout))
            == protocol::errc::timeout);
  CAF_CHECK(to_errc(caf::make_error(caf::sec::invalid_argument))
            == protocol::errc::internal_error);
}

CAF_TEST_FIXTURE_SCOPE_END()

#define CAF_SUITE actors.cluster_actor
#include "test/support/actor_fixture.hpp"

// What a peer may say (SPEC §14.2), one message at a time, on the test
// coordinator: the cluster actor gets each peer message with the id of the
// node it came from (the gate proved it); what claims another node, or is
// forged, is refused and counted, and changes nothing. The gate takes
// nothing from a node that did not say hello, and its filter lets no exit
// or system message through.

#include <caf/others.hpp>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/cluster/gate_actor.hpp"
#include "actors/cluster/relay.hpp"
#include "actors/cluster/replica_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "test/support/replica_batch.hpp"
#include "test/support/temp_dir.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

member_info member(const std::string& id) {
  member_info m;
  m.node_id = id;
  m.host = "10.0.0." + id;
  m.port = 7400;
  m.incarnation = 1;
  return m;
}

device_identity identity(const std::string& user, const std::string& device) {
  device_identity id;
  id.user_id = user;
  id.device_id = device;
  id.type = protocol::device_type::mobile;
  return id;
}

remote_device at(const std::string& node, const std::string& user,
                 const std::string& device, bool connected) {
  remote_device d;
  d.id = identity(user, device);
  d.node_id = node;
  d.connected = connected;
  d.since_ms = 100;
  return d;
}

protocol::mobile_message message_from(const std::string& user,
                                      const std::string& device,
                                      const std::string& type) {
  protocol::mobile_message m;
  m.id = "m-" + type;
  m.timestamp = 1;
  m.source.user_id = user;
  m.source.device_id = device;
  m.source.type = protocol::device_type::mobile;
  m.destination.to = protocol::target::device;
  m.destination.device_id = "laptop";
  m.type = type;
  m.payload.raw = "{}";
  return m;
}

std::string form(const std::string& user, const std::string& device,
                 const std::string& type = "chat",
                 const std::string& room = {}) {
  auto m = message_from(user, device, type);
  if (!room.empty()) {
    m.destination.to = protocol::target::broadcast;
    m.destination.device_id.reset();
    protocol::broadcast_info b;
    b.scope = protocol::broadcast_scope::room;
    b.room = room;
    m.destination.broadcast = b;
  }
  return forwarded_form(m);
}

struct fixture : test::fixture_base {
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  cluster_actor c;

  fixture() {
    cluster_params p;
    p.self = member("a");
    p.board = std::make_shared<cluster_board>();
    c = sys.spawn(cluster, p, metrics);
    sched.run();
  }

  ~fixture() {
    anon_send_exit(c, caf::exit_reason::user_shutdown);
    run();
  }

  cluster_state& state() {
    return deref<cluster_actor::stateful_base<cluster_state>>(c).state;
  }

  uint64_t refused(peer_refusal r) const { return metrics->peer_refusals(r); }

  /// The error a request was answered with (none if it was taken).
  template <class... Ts>
  caf::error ask(Ts&&... xs) {
    self->send(c, std::forward<Ts>(xs)...);
    sched.run();
    caf::error out;
    self->receive([&](caf::error& err) { out = std::move(err); },
                  caf::others >>
                    [](caf::message_view&) -> caf::result<caf::message> {
                    return caf::message{};
                  });
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_actor_tests, fixture)

CAF_TEST(a node reports only its own devices to their home) {
  // "b" says alice's phone is connected on "c": refused, not recorded.
  self->send(c, atom::devices_v, std::string{"b"},
             at("c", "alice", "phone", true));
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 1u);
  CAF_CHECK(state().homed.find("alice") == nullptr);
  // Its own device: recorded (this node is every user's home alone).
  self->send(c, atom::devices_v, std::string{"b"},
             at("b", "alice", "phone", true));
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 1u);
  CAF_REQUIRE(state().homed.find("alice") != nullptr);
  CAF_CHECK_EQUAL(state().homed.find("alice")->at("phone").node_id, "b");
  // A dead node's device, not connected (a dead home's word passed on).
  self->send(c, atom::devices_v, std::string{"b"},
             at("c", "alice", "tablet", false));
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 1u);
  CAF_CHECK_EQUAL(state().homed.find("alice")->at("tablet").node_id, "c");
}

CAF_TEST(the routes of a user come only from its home) {
  // This node ("a") is the home of every user: "b" is not.
  self->send(c, atom::routes_v, std::string{"b"}, std::string{"alice"},
             std::vector<remote_device>{at("b", "alice", "phone", true)});
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 1u);
  CAF_CHECK(state().heard.empty());
  // The home naming another user's device.
  self->send(c, atom::routes_v, std::string{"a"}, std::string{"alice"},
             std::vector<remote_device>{at("b", "bob", "phone", true)});
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 2u);
  CAF_CHECK(state().heard.empty());
  // The home, of its user.
  self->send(c, atom::routes_v, std::string{"a"}, std::string{"alice"},
             std::vector<remote_device>{at("b", "alice", "phone", true)});
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 2u);
  CAF_CHECK_EQUAL(state().heard.count("alice"), 1u);
}

CAF_TEST(a queue is taken over only by the node that holds the device) {
  auto err = ask(atom::handover_v, std::string{"b"}, identity("alice", "phone"),
                 uint64_t{0}, std::vector<std::string>{form("alice", "phone")});
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(peer_refusal::claim), 1u);
}

CAF_TEST(a relayed message with a forged identity
         or the servers type is refused) {
  auto devices = std::vector<std::string>{"laptop"};
  // Bob's message, relayed as from alice's phone.
  auto err = ask(atom::forward_v, std::string{"b"}, identity("alice", "phone"),
                 devices, form("bob", "phone"));
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 1u);
  // A gap notice from the server.
  err = ask(atom::forward_v, std::string{"b"}, identity("system", "server"),
            devices, form("system", "server", "tether.gap"));
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 2u);
  // A room publish relayed for another room than it is addressed to.
  err = ask(atom::room_v, std::string{"b"}, identity("alice", "phone"),
            std::string{"admins"}, form("alice", "phone", "chat", "ops"));
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 3u);
  // Bytes that are no message.
  err = ask(atom::forward_v, std::string{"b"}, identity("alice", "phone"),
            devices, std::string{"{\"id\":"});
  CAF_CHECK(err);
}

CAF_TEST(presence rows beyond what a device could set are refused) {
  presence_row row;
  row.user_id = "admin";
  row.device_id = "console";
  row.has_custom = true;
  row.custom_text = std::string(300, 'x');
  self->send(c, atom::presence_v, std::string{"b"}, std::string{"ops"},
             std::vector<presence_row>{row}, true, false);
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 1u);
  row.custom_text = "away";
  self->send(c, atom::presence_v, std::string{"b"}, std::string{"bad room!"},
             std::vector<presence_row>{row}, true, false);
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 2u);
}

CAF_TEST(a hello for another node than its link proved is refused) {
  auto err = ask(atom::hello_v, std::string{"b"}, member("c"));
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(peer_refusal::identity), 1u);
  CAF_CHECK(state().view.members().empty());
  // As itself: learned (a member once this node's link to it is up).
  err = ask(atom::hello_v, std::string{"b"}, member("b"));
  CAF_CHECK(!err);
  CAF_REQUIRE_EQUAL(state().view.members().count("b"), 1u);
  CAF_CHECK(state().view.members().at("b").state == node_state::joining);
}

CAF_TEST(the gate takes nothing from a node that did not say hello) {
  gate_params gp;
  gp.cluster = c;
  gp.metrics = metrics;
  auto g = sys.spawn(gate, gp);
  sched.run();
  // This test's actors are no peer: nothing reaches the cluster actor.
  self->send(g, atom::devices_v, at("b", "alice", "phone", true));
  self->send(g, atom::routes_v, std::string{"alice"},
             std::vector<remote_device>{at("b", "alice", "phone", true)});
  self->send(g, atom::tick_v);
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::unauthenticated), 3u);
  CAF_CHECK(state().homed.find("alice") == nullptr);
  CAF_CHECK(state().heard.empty());
  self->send(g, atom::hello_v, member("b"));
  sched.run();
  self->receive([](caf::error&) {});
  CAF_CHECK_EQUAL(refused(peer_refusal::unauthenticated), 4u);
  CAF_CHECK(state().view.members().empty());
  anon_send_exit(g, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(no member change comes through the gate and no exit reaches it) {
  // "b" is linked and alive.
  auto link = sys.spawn(
    [](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
  self->send(c, atom::linked_v, std::string{"10.0.0.b:7400"}, member("b"),
             std::vector<member_info>{},
             caf::actor_cast<peer_link_actor>(link));
  sched.run();
  self->receive([](atom::ok) {});
  CAF_REQUIRE(state().view.members().at("b").state == node_state::alive);
  gate_params gp;
  gp.cluster = c;
  gp.metrics = metrics;
  auto g = sys.spawn(gate, gp);
  auto front = make_gate_filter(sys, g, metrics);
  sched.run();
  // "b is down", told through the cluster port: not a message it takes.
  self->send(caf::actor_cast<caf::actor>(front), atom::unlinked_v,
             std::string{"10.0.0.b:7400"}, std::string{"b"});
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::unexpected), 1u);
  CAF_CHECK(state().view.members().at("b").state == node_state::alive);
  // An exit (kill cannot be trapped in CAF 0.17) and a down message: the
  // filter drops them, the gate runs on.
  self->send_exit(front, caf::exit_reason::kill);
  self->send(caf::actor_cast<caf::actor>(front),
             caf::down_msg{g.address(), caf::exit_reason::kill});
  sched.run();
  CAF_CHECK_EQUAL(refused(peer_refusal::unexpected), 3u);
  CAF_CHECK(!deref(g).getf(caf::abstract_actor::is_terminated_flag));
  // The filter ends with its gate.
  anon_send_exit(g, caf::exit_reason::user_shutdown);
  anon_send_exit(link, caf::exit_reason::user_shutdown);
  sched.run();
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(front);
  CAF_CHECK(
    static_cast<gate_filter*>(caf::actor_cast<caf::abstract_actor*>(ptr))
      ->fail_state()
    != caf::error{});
}

CAF_TEST(a replica batch is kept as its senders copy and a forged one never) {
  auto ok = test::one_row_batch(message_from("alice", "phone", "chat"), "b",
                                {"a", "d"});
  // Queues are not replicated here (factor 1): refused.
  CAF_CHECK(ask(atom::replicate_v, std::string{"b"}, ok));
  // With a replica actor in front of a real store.
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto st = sys.spawn(store, log, metrics, store_params{});
  replica_params rp;
  rp.self = "a";
  rp.factor = 3;
  auto r = sys.spawn(replica, st, c, metrics, rp);
  self->send(c, atom::replicate_v, r);
  sched.run();
  // A row holding a server's gap notice, and a row of another device:
  // forged, counted, nothing stored.
  auto notice = test::one_row_batch(
    message_from("system", "server", "tether.gap"), "b", {"a", "d"});
  CAF_CHECK(ask(atom::replicate_v, std::string{"b"}, notice));
  auto other = ok;
  other.rows[0].device_id = "tablet";
  CAF_CHECK(ask(atom::replicate_v, std::string{"b"}, other));
  CAF_CHECK_EQUAL(refused(peer_refusal::forged), 2u);
  CAF_CHECK(log->replicas_of("b").empty());
  // A batch that names another leader is the sender's own copy.
  auto claims = ok;
  claims.header.leader = "d";
  self->send(c, atom::replicate_v, std::string{"b"}, claims);
  sched.run();
  self->receive([](bool applied) { CAF_CHECK(applied); });
  CAF_CHECK_EQUAL(log->replicas_of("b").size(), 1u);
  CAF_CHECK(log->replicas_of("d").empty());
  CAF_CHECK_EQUAL(metrics->replica_events(replica_event::stored), 1u);
  // A member taking over gets the copy; one there is not is an error.
  self->send(c, atom::get_v, atom::replicate_v, std::string{"d"},
             std::string{"b"}, std::string{"alice"}, std::string{"laptop"},
             uint64_t{2});
  sched.run();
  self->receive([](std::vector<stored_message>& rows) {
    CAF_REQUIRE_EQUAL(rows.size(), 1u);
    CAF_CHECK_EQUAL(rows[0].msg_id, "m-chat");
  });
  CAF_CHECK(ask(atom::get_v, atom::replicate_v, std::string{"d"},
                std::string{"b"}, std::string{"alice"}, std::string{"tablet"},
                uint64_t{2}));
  // The copy given is fenced: b's later batches of generation 1 are
  // refused (b cannot reach a majority with this node any more).
  auto late = ok;
  late.rows[0].qid = 2;
  self->send(c, atom::replicate_v, std::string{"b"}, late);
  sched.run();
  self->receive([](bool applied) { CAF_CHECK(!applied); });
  auto fenced = log->replicas_of("b");
  CAF_REQUIRE_EQUAL(fenced.size(), 1u);
  CAF_CHECK_EQUAL(fenced[0].gen, 2u);
  CAF_CHECK_EQUAL(log->replica_rows("b", "alice", "laptop").size(), 1u);
  anon_send_exit(r, caf::exit_reason::user_shutdown);
  anon_send_exit(st, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()

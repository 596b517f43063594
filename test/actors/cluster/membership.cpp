#define CAF_SUITE actors.membership
#include <caf/test/unit_test.hpp>

#include "actors/cluster/membership.hpp"

using namespace tether::actors;

namespace {

member_info node(std::string id, uint16_t port, int64_t incarnation = 1) {
  member_info m;
  m.node_id = std::move(id);
  m.host = "127.0.0.1";
  m.port = port;
  m.incarnation = incarnation;
  return m;
}

} // namespace

CAF_TEST(
  a link up makes a member alive once and a link down makes it down once) {
  membership m{node("a", 7401)};
  auto e = m.link_up(node("b", 7402), 100);
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(e->kind, member_event::joined);
  CAF_CHECK_EQUAL(e->node_id, "b");
  CAF_CHECK(!m.link_up(node("b", 7402), 150)); // the same incarnation again
  CAF_CHECK_EQUAL(m.members().at("b").state, node_state::alive);
  CAF_CHECK_EQUAL(m.members().at("b").since_ms, 100);
  auto d = m.link_down("b", 200);
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->kind, member_event::down);
  CAF_CHECK(!m.link_down("b", 250)); // logged once
  CAF_CHECK(!m.link_down("nobody", 250));
  CAF_CHECK_EQUAL(m.members().at("b").state, node_state::down);
  CAF_CHECK_EQUAL(m.members().at("b").since_ms, 200);
}

CAF_TEST(a member that comes back rejoined or restarted) {
  membership m{node("a", 7401)};
  m.link_up(node("b", 7402, 1), 100);
  m.link_down("b", 200);
  // The link healed (a partition): the same process.
  auto e = m.link_up(node("b", 7402, 1), 300);
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(e->kind, member_event::rejoined);
  m.link_down("b", 400);
  // A new process on the same data dir and port.
  e = m.link_up(node("b", 7402, 2), 500);
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(e->kind, member_event::restarted);
  // A restart so quick that no link went down in between.
  e = m.link_up(node("b", 7402, 3), 600);
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(e->kind, member_event::restarted);
  CAF_CHECK_EQUAL(m.members().at("b").info.incarnation, 3);
}

CAF_TEST(
  peers of another version and taken ids are refused and so is this node) {
  membership m{node("a", 7401, 5)};
  auto old = node("b", 7402);
  old.protocol = cluster_protocol_version + 1;
  CAF_CHECK_EQUAL(m.check(old), peer_verdict::wrong_protocol);
  CAF_CHECK_EQUAL(m.check(node("a", 7401, 5)), peer_verdict::is_self);
  CAF_CHECK_EQUAL(m.check(node("a", 7409, 5)), peer_verdict::duplicate_id);
  m.link_up(node("b", 7402), 100);
  CAF_CHECK_EQUAL(m.check(node("b", 7402)), peer_verdict::accepted);
  CAF_CHECK_EQUAL(m.check(node("b", 7499)), peer_verdict::duplicate_id);
  m.link_down("b", 200);
  // Once b is down its id may come back from elsewhere (it moved hosts).
  CAF_CHECK_EQUAL(m.check(node("b", 7499)), peer_verdict::accepted);
}

CAF_TEST(the view of a peer names the members to link to) {
  membership m{node("c", 7403)};
  auto fresh = m.learn({node("a", 7401), node("b", 7402), node("c", 7403)},
                       100);
  CAF_REQUIRE_EQUAL(fresh.size(), 2u); // never itself
  CAF_CHECK_EQUAL(fresh[0].node_id, "a");
  CAF_CHECK_EQUAL(fresh[1].node_id, "b");
  CAF_CHECK_EQUAL(m.members().at("a").state, node_state::joining);
  // Known members are not linked twice and keep this node's own state.
  m.link_up(node("a", 7401), 150);
  m.link_down("a", 160);
  CAF_CHECK(m.learn({node("a", 7401), node("b", 7402)}, 200).empty());
  CAF_CHECK_EQUAL(m.members().at("a").state, node_state::down);
  auto old = node("z", 7409);
  old.protocol = 0;
  CAF_CHECK(m.learn({old}, 300).empty());
  // a is down here, and a peer's view has it at a new address: dial that.
  auto moved = m.learn({node("a", 7501)}, 400);
  CAF_REQUIRE_EQUAL(moved.size(), 1u);
  CAF_CHECK_EQUAL(moved[0].address(), "127.0.0.1:7501");
  CAF_CHECK_EQUAL(m.members().at("a").info.port, 7501);
  CAF_CHECK_EQUAL(m.members().at("a").state, node_state::joining);
  // An alive member is not moved by what a peer says.
  m.link_up(node("b", 7402), 500);
  CAF_CHECK(m.learn({node("b", 7999)}, 600).empty());
  CAF_CHECK_EQUAL(m.members().at("b").info.port, 7402);
}

CAF_TEST(the view and the live ids hold this node and its alive members) {
  membership m{node("b", 7402)};
  m.learn({node("c", 7403)}, 50);
  m.link_up(node("a", 7401), 100);
  m.link_up(node("d", 7404), 100);
  m.link_down("d", 200);
  auto v = m.view();
  CAF_REQUIRE_EQUAL(v.size(), 2u);
  CAF_CHECK_EQUAL(v[0].node_id, "b");
  CAF_CHECK_EQUAL(v[1].node_id, "a");
  CAF_CHECK_EQUAL(m.live_ids(), (std::vector<std::string>{"a", "b"}));
  auto rows = board_rows(m);
  CAF_REQUIRE_EQUAL(rows.size(), 4u);
  CAF_CHECK_EQUAL(rows[0].node_id, "b");
  CAF_CHECK_EQUAL(rows[0].state, node_state::self);
  CAF_CHECK_EQUAL(rows[1].address, "127.0.0.1:7401");
  CAF_CHECK_EQUAL(to_string(rows[2].state), std::string{"joining"});
  CAF_CHECK_EQUAL(to_string(rows[3].state), std::string{"down"});
}

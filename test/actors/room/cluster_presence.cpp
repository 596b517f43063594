#define CAF_SUITE actors.cluster_presence
#include <caf/test/unit_test.hpp>

#include "actors/room/cluster_presence.hpp"

using namespace tether::actors;
using tether::protocol::presence_entry;
using tether::protocol::presence_status;

namespace {

presence_entry ev(std::string user, std::string device, std::string event,
                  presence_status status = presence_status::online) {
  presence_entry e;
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.event = std::move(event);
  e.status = status;
  return e;
}

std::vector<std::string> events(const std::vector<presence_entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(e.user_id + "/" + e.device_id + ":" + e.event);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

CAF_TEST(local and remote members make one view) {
  cluster_presence p{std::chrono::milliseconds{1000}};
  auto e = p.local(ev("alice", "phone", "join"));
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(e->event, "join");
  auto r = p.remote("b", {ev("bob", "laptop", "join")}, false);
  CAF_CHECK_EQUAL(events(r), strings{"bob/laptop:join"});
  CAF_CHECK_EQUAL(p.size(), 2u);
  auto page = p.page(0, 10);
  CAF_REQUIRE_EQUAL(page.size(), 2u);
  CAF_CHECK_EQUAL(page[0].user_id, "alice");
  CAF_CHECK_EQUAL(page[1].user_id, "bob");
  CAF_CHECK(page[1].event.empty());
  CAF_CHECK_EQUAL(p.local_members().size(), 1u);
  CAF_CHECK_EQUAL(p.user("bob").status, presence_status::online);
  // A change is an update; the same state again is nothing.
  r = p.remote("b", {ev("bob", "laptop", "update", presence_status::busy)},
               false);
  CAF_CHECK_EQUAL(events(r), strings{"bob/laptop:update"});
  CAF_CHECK(
    p.remote("b", {ev("bob", "laptop", "update", presence_status::busy)}, false)
      .empty());
  r = p.remote("b", {ev("bob", "laptop", "leave")}, false);
  CAF_CHECK_EQUAL(events(r), strings{"bob/laptop:leave"});
  CAF_REQUIRE_EQUAL(r.size(), 1u);
  CAF_CHECK_EQUAL(r[0].status, presence_status::offline);
  CAF_CHECK_EQUAL(p.size(), 1u);
}

CAF_TEST(a device that moves between nodes does not flap) {
  cluster_presence p{std::chrono::milliseconds{1000}};
  p.remote("a", {ev("zoe", "tablet", "join")}, false);
  // It reconnects to node b while a keeps it for its grace: no event.
  CAF_CHECK(p.remote("b", {ev("zoe", "tablet", "join")}, false).empty());
  // a's grace ends: it leaves there, stays shown from b.
  CAF_CHECK(p.remote("a", {ev("zoe", "tablet", "leave")}, false).empty());
  CAF_CHECK_EQUAL(p.size(), 1u);
  // The same with this node: here, then on c.
  p.local(ev("yan", "phone", "join"));
  CAF_CHECK(p.remote("c", {ev("yan", "phone", "join")}, false).empty());
  CAF_CHECK(!p.local(ev("yan", "phone", "leave")));
  CAF_CHECK_EQUAL(p.size(), 2u);
}

CAF_TEST(the most present entry of a device is shown) {
  cluster_presence p;
  p.remote("a", {ev("zoe", "tablet", "join", presence_status::away)}, false);
  auto r = p.remote("b", {ev("zoe", "tablet", "join")}, false);
  CAF_CHECK_EQUAL(events(r), strings{"zoe/tablet:update"});
  auto shown = p.page(0, 1);
  CAF_REQUIRE_EQUAL(shown.size(), 1u);
  CAF_CHECK_EQUAL(shown[0].status, presence_status::online);
}

CAF_TEST(a full set replaces what a node said before) {
  cluster_presence p;
  p.remote("b", {ev("bob", "laptop", "join"), ev("bob", "phone", "join")},
           false);
  auto r = p.remote("b", {ev("bob", "phone", "join"), ev("cy", "x", "join")},
                    true);
  CAF_CHECK_EQUAL(events(r), (strings{"bob/laptop:leave", "cy/x:join"}));
  r = p.remote("b", {}, true);
  CAF_CHECK_EQUAL(events(r), (strings{"bob/phone:leave", "cy/x:leave"}));
  CAF_CHECK_EQUAL(p.size(), 0u);
}

CAF_TEST(a node that is down keeps its members for the grace then they leave once) {
  cluster_presence p{std::chrono::milliseconds{1000}};
  p.remote("b", {ev("bob", "laptop", "join"), ev("zoe", "tablet", "join")},
           false);
  p.remote("c", {ev("zoe", "tablet", "join")}, false); // reconnected to c
  p.node_down("b", 5000);
  p.node_down("b", 5500); // said again: the first time counts
  CAF_CHECK_EQUAL(p.next_deadline(), 6000);
  CAF_CHECK(p.sweep(5999).empty());
  auto r = p.sweep(6000);
  CAF_CHECK_EQUAL(events(r), strings{"bob/laptop:leave"}); // zoe is on c
  CAF_CHECK(p.sweep(7000).empty());
  CAF_CHECK(!p.next_deadline());
  CAF_CHECK_EQUAL(p.size(), 1u);
}

CAF_TEST(a node back within the grace shows no change) {
  cluster_presence p{std::chrono::milliseconds{1000}};
  p.remote("b", {ev("bob", "laptop", "join")}, false);
  p.node_down("b", 5000);
  // The partition heals: b tells its members in full.
  CAF_CHECK(p.remote("b", {ev("bob", "laptop", "join")}, true).empty());
  CAF_CHECK(!p.next_deadline());
  CAF_CHECK(p.sweep(9000).empty());
  CAF_CHECK_EQUAL(p.size(), 1u);
}

CAF_TEST(a change that arrives after the down mark does not clear it) {
  cluster_presence p{std::chrono::milliseconds{1000}};
  p.remote("b", {ev("bob", "laptop", "join")}, false);
  p.node_down("b", 5000);
  p.remote("b", {ev("bob", "laptop", "update", presence_status::away)}, false);
  CAF_CHECK_EQUAL(p.next_deadline(), 6000);
  CAF_CHECK_EQUAL(events(p.sweep(6000)), strings{"bob/laptop:leave"});
}

#define CAF_SUITE actors.device_registry
#include <caf/test/unit_test.hpp>

#include "actors/cluster/device_registry.hpp"

using namespace tether::actors;

namespace {

remote_device at(std::string node, std::string device, bool connected,
                 int64_t since, std::string user = "alice") {
  remote_device r;
  r.id.user_id = std::move(user);
  r.id.device_id = std::move(device);
  r.node_id = std::move(node);
  r.connected = connected;
  r.since_ms = since;
  return r;
}

using nodes = std::set<std::string>;

} // namespace

CAF_TEST(a device that connects is placed at its node and the nodes of its user
           are told) {
  device_registry reg;
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", true, 100)), nodes{"a"});
  CAF_CHECK_EQUAL(reg.report(at("b", "laptop", true, 110)), (nodes{"a", "b"}));
  auto r = reg.routes_for("alice", "a");
  CAF_REQUIRE_EQUAL(r.size(), 1u);
  CAF_CHECK_EQUAL(r[0].id.device_id, "laptop");
  CAF_CHECK_EQUAL(r[0].node_id, "b");
  CAF_CHECK(r[0].connected);
  CAF_CHECK(reg.routes_for("bob", "a").empty());
}

CAF_TEST(a device that leaves stays at its node with its queue) {
  device_registry reg;
  reg.report(at("a", "phone", true, 100));
  reg.report(at("b", "laptop", true, 110));
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", false, 100)), (nodes{"a", "b"}));
  auto r = reg.routes_for("alice", "b");
  CAF_REQUIRE_EQUAL(r.size(), 1u);
  CAF_CHECK_EQUAL(r[0].node_id, "a");
  CAF_CHECK(!r[0].connected);
  // Said twice: nobody needs telling.
  CAF_CHECK(reg.report(at("a", "phone", false, 100)).empty());
}

CAF_TEST(
  a device that moves is at its new node and the old one is told to hand over) {
  device_registry reg;
  reg.report(at("a", "phone", true, 100));
  reg.report(at("a", "phone", false, 100));
  CAF_CHECK_EQUAL(reg.report(at("b", "phone", true, 200)), (nodes{"a", "b"}));
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
  // Node a's delayed word of the old connection does not move it back.
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", false, 100)), nodes{"a"});
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", true, 100)), nodes{"a"});
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
  CAF_CHECK(reg.find("alice")->at("phone").connected);
  // Node b's delayed word of an older connection there is ignored too.
  CAF_CHECK(reg.report(at("b", "phone", false, 150)).empty());
  CAF_CHECK(reg.find("alice")->at("phone").connected);
  // A node that restarts with a stored backlog (since 0) learns where the
  // device is.
  CAF_CHECK_EQUAL(reg.report(at("c", "phone", false, 0)), nodes{"c"});
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
}

CAF_TEST(a backlog reported first places an unknown device at its node) {
  device_registry reg;
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", false, 0)), nodes{"a"});
  CAF_CHECK_EQUAL(reg.report(at("b", "phone", true, 50)), (nodes{"a", "b"}));
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
}

CAF_TEST(devices of a node that is down are not connected but stay there) {
  device_registry reg;
  reg.report(at("a", "phone", true, 100));
  reg.report(at("b", "laptop", true, 110));
  reg.report(at("b", "tablet", true, 120, "bob"));
  auto changed = reg.nodes_down([](const std::string& n) { return n != "a"; });
  CAF_CHECK_EQUAL(changed, std::vector<std::string>{"alice"});
  auto& phone = reg.find("alice")->at("phone");
  CAF_CHECK_EQUAL(phone.node_id, "a");
  CAF_CHECK(!phone.connected);
  CAF_CHECK(reg.find("bob")->at("tablet").connected);
  CAF_CHECK(
    reg.nodes_down([](const std::string& n) { return n != "a"; }).empty());
  reg.forget("alice");
  CAF_CHECK(reg.find("alice") == nullptr);
  CAF_CHECK_EQUAL(reg.users(), std::vector<std::string>{"bob"});
}

CAF_TEST(of two queues held without a connection the later wins) {
  device_registry reg;
  // A new home hears first of a restarted node's stored queue (since 0),
  // then of the queue of the node the device left last.
  reg.report(at("c", "phone", false, 0));
  CAF_CHECK_EQUAL(reg.report(at("y", "phone", false, 300)), (nodes{"c", "y"}));
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "y");
  // A connection beats a later queue held without one.
  reg.report(at("b", "phone", true, 200));
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
  CAF_CHECK_EQUAL(reg.report(at("y", "phone", false, 300)), nodes{"y"});
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
}

CAF_TEST(a queue taken over beats the old leader that comes back with it) {
  device_registry reg;
  auto gen = [](remote_device d, uint64_t g) {
    d.gen = g;
    return d;
  };
  // c led the phone's queue (generation 1) and died; b took it over at
  // generation 2 and tells the home.
  reg.report(gen(at("c", "phone", false, 0), 1));
  CAF_CHECK_EQUAL(reg.report(gen(at("b", "phone", false, 0), 2)),
                  (nodes{"b", "c"}));
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
  // c restarts with its disk and reports its stored queue: it loses, and
  // is told where the queue is, at the newer generation (it hands its copy
  // over, merged there).
  CAF_CHECK_EQUAL(reg.report(gen(at("c", "phone", false, 0), 1)), nodes{"c"});
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").node_id, "b");
  CAF_CHECK_EQUAL(reg.find("alice")->at("phone").gen, 2u);
  // The device connects to a, which has never heard of a generation: the
  // connection wins, the home keeps the newest generation for the routes
  // (b hands over, as its copy is that new).
  CAF_CHECK_EQUAL(reg.report(at("a", "phone", true, 500)), (nodes{"a", "b"}));
  auto& d = reg.find("alice")->at("phone");
  CAF_CHECK_EQUAL(d.node_id, "a");
  CAF_CHECK_EQUAL(d.gen, 2u);
  auto to_b = reg.routes_for("alice", "b");
  CAF_REQUIRE_EQUAL(to_b.size(), 1u);
  CAF_CHECK_EQUAL(to_b[0].gen, 2u);
  // a took the queue with its generation and says so: nothing moves.
  CAF_CHECK(reg.report(gen(at("a", "phone", true, 500), 2)).empty());
  // A home that hears the stale copy first, then the takeover (it was
  // re-homed): the takeover wins either way.
  device_registry late;
  late.report(gen(at("c", "phone", false, 0), 1));
  late.report(gen(at("b", "phone", false, 0), 2));
  CAF_CHECK_EQUAL(late.find("alice")->at("phone").node_id, "b");
  device_registry early;
  early.report(gen(at("b", "phone", false, 0), 2));
  early.report(gen(at("c", "phone", false, 0), 1));
  CAF_CHECK_EQUAL(early.find("alice")->at("phone").node_id, "b");
}

#define CAF_SUITE actors.route_gate
#include <caf/test/unit_test.hpp>

#include <string>
#include <vector>

#include "actors/connection/route_gate.hpp"

using namespace tether::actors;
using lane = route_gate::lane;
using strings = std::vector<std::string>;

namespace {

// Records what ran; the test completes requests with gate.done().
struct fixture {
  route_gate gate;
  strings ran;

  void send(lane l, std::string name) {
    gate.run(l, [this, name] { ran.push_back(name); });
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(route_gate_tests, fixture)

CAF_TEST(requests of one lane are pipelined) {
  send(lane::queues, "a");
  send(lane::queues, "b");
  send(lane::queues, "c");
  CAF_CHECK_EQUAL(ran, (strings{"a", "b", "c"}));
  CAF_CHECK_EQUAL(gate.in_flight(), 3u);
  CAF_CHECK_EQUAL(gate.waiting(), 0u);
}

CAF_TEST(another lane waits for the requests in flight) {
  send(lane::queues, "direct-1");
  send(lane::room, "publish");
  send(lane::queues, "direct-2"); // behind the publish: order is kept
  CAF_CHECK_EQUAL(ran, (strings{"direct-1"}));
  CAF_CHECK_EQUAL(gate.waiting(), 2u);
  gate.done(); // direct-1 completed
  CAF_CHECK_EQUAL(ran, (strings{"direct-1", "publish"}));
  CAF_CHECK(gate.current() == lane::room);
  gate.done(); // the publish completed
  CAF_CHECK_EQUAL(ran, (strings{"direct-1", "publish", "direct-2"}));
  CAF_CHECK_EQUAL(gate.waiting(), 0u);
}

CAF_TEST(waiting requests of the running lane go together) {
  send(lane::control, "join");
  send(lane::directory, "via-shard-1");
  send(lane::directory, "via-shard-2");
  send(lane::control, "leave");
  gate.done(); // join completed: both shard requests go, the leave waits
  CAF_CHECK_EQUAL(ran, (strings{"join", "via-shard-1", "via-shard-2"}));
  CAF_CHECK_EQUAL(gate.in_flight(), 2u);
  gate.done();
  CAF_CHECK_EQUAL(ran.size(), 3u); // one shard request still in flight
  gate.done();
  CAF_CHECK_EQUAL(ran.back(), "leave");
}

CAF_TEST(work that completes at once lets the rest through in order) {
  // A duplicate or a refused request calls done() from inside its work.
  gate.run(lane::queues, [this] { ran.push_back("a"); });
  gate.run(lane::control, [this] {
    ran.push_back("status");
    gate.done();
  });
  gate.run(lane::control, [this] {
    ran.push_back("ack-only");
    gate.done();
  });
  send(lane::queues, "b");
  CAF_CHECK_EQUAL(ran, (strings{"a"}));
  gate.done();
  CAF_CHECK_EQUAL(ran, (strings{"a", "status", "ack-only", "b"}));
  CAF_CHECK_EQUAL(gate.in_flight(), 1u); // b
}

CAF_TEST(a stray completion does not underflow) {
  gate.done();
  CAF_CHECK_EQUAL(gate.in_flight(), 0u);
  send(lane::room, "x");
  CAF_CHECK_EQUAL(ran, (strings{"x"}));
}

CAF_TEST_FIXTURE_SCOPE_END()

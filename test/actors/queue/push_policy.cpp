#define CAF_SUITE actors.push_policy
#include <caf/test/unit_test.hpp>

#include "actors/queue/push_policy.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;
using tether::protocol::priority;
using clock_type = std::chrono::steady_clock;

namespace {

struct fixture {
  clock_type::time_point t0 = clock_type::time_point{} + 1000s;
  push_policy p{push_params{priority::high, 2s, 60s}};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(push_policy_tests, fixture)

CAF_TEST(an offline device gets one push for three high messages) {
  p.set_available(false, t0);
  p.entered(1, priority::high, false, t0);
  p.entered(2, priority::critical, false, t0 + 100ms);
  p.entered(3, priority::high, false, t0 + 200ms);
  CAF_REQUIRE(p.due());
  CAF_CHECK(*p.due() == t0 + 2s);
  p.pushed(t0 + 2s);
  CAF_CHECK(!p.due()); // all three covered
  CAF_CHECK_EQUAL(p.waiting(), 3u);
}

CAF_TEST(low and normal messages call for none unless marked notify) {
  p.set_available(false, t0);
  p.entered(1, priority::low, false, t0);
  p.entered(2, priority::normal, false, t0);
  CAF_CHECK(!p.due());
  p.entered(3, priority::normal, true, t0 + 1s);
  CAF_REQUIRE(p.due());
  CAF_CHECK(*p.due() == t0 + 3s);
}

CAF_TEST(a device that comes back within the delay gets none) {
  p.set_available(false, t0);
  p.entered(1, priority::high, false, t0);
  CAF_CHECK(p.due());
  p.set_available(true, t0 + 1s);
  CAF_CHECK(!p.due());
  // Delivered and acked: gone.
  p.gone(1);
  p.set_available(false, t0 + 5s);
  CAF_CHECK(!p.due());
}

CAF_TEST(the delay counts from when the device became unavailable) {
  p.set_available(true, t0);
  p.entered(1, priority::high, false, t0); // written, not acked yet
  CAF_CHECK(!p.due());
  p.set_available(false, t0 + 10s); // to the background
  CAF_REQUIRE(p.due());
  CAF_CHECK(*p.due() == t0 + 12s);
}

CAF_TEST(a message taken before its push cancels it) {
  p.set_available(false, t0);
  p.entered(1, priority::high, false, t0);
  p.entered(2, priority::high, false, t0 + 1s);
  CAF_CHECK(*p.due() == t0 + 2s);
  p.gone(1);
  CAF_CHECK(*p.due() == t0 + 3s);
  p.gone(2);
  CAF_CHECK(!p.due());
}

CAF_TEST(new messages after a push wait for the minimum interval) {
  p.set_available(false, t0);
  p.entered(1, priority::high, false, t0);
  p.pushed(t0 + 2s);
  p.entered(2, priority::high, false, t0 + 3s);
  CAF_REQUIRE(p.due());
  CAF_CHECK(*p.due() == t0 + 62s);
  p.pushed(t0 + 62s);
  CAF_CHECK(!p.due());
  // Once it was pushed for, a message being acked changes nothing more.
  p.gone(1);
  p.gone(2);
  CAF_CHECK(!p.due());
  CAF_CHECK_EQUAL(p.waiting(), 0u);
}

CAF_TEST(a restart keeps coverage and gives devices the delay to return ) {
  auto start = t0 + 100s;
  p.restore(t0, start);
  p.entered(4, priority::high, false, t0 - 50s, true); // covered before
  CAF_CHECK(!p.due());
  p.entered(6, priority::high, false, t0 - 10s); // not covered
  CAF_REQUIRE(p.due());
  CAF_CHECK(*p.due() == start + 2s);
  CAF_CHECK_EQUAL(p.waiting(), 2u);
  p.gone(4);
  CAF_CHECK_EQUAL(p.waiting(), 1u);
  // Within the minimum interval of the push before the restart.
  push_policy q{push_params{priority::high, 2s, 60s}};
  q.restore(start - 30s, start);
  q.entered(1, priority::high, false, start - 40s);
  CAF_CHECK(*q.due() == start + 30s);
}

CAF_TEST(the message waiting longest decides whatever its key) {
  p.set_available(false, t0);
  p.entered(9, priority::high, false, t0 + 5s);
  p.entered(2, priority::high, false, t0 + 1s);
  CAF_CHECK(*p.due() == t0 + 3s);
}

CAF_TEST(a minimum priority of low pushes for every message) {
  push_policy all{push_params{priority::low, 0s, 0s}};
  all.set_available(false, t0);
  all.entered(1, priority::low, false, t0);
  CAF_REQUIRE(all.due());
  CAF_CHECK(*all.due() == t0);
}

CAF_TEST_FIXTURE_SCOPE_END()

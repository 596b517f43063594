#define CAF_SUITE actors.restart_budget
#include <caf/test/unit_test.hpp>

#include "actors/orchestrator/restart_budget.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

CAF_TEST(at most max_restarts within the period) {
  restart_budget b{restart_budget_params{3, 10s}};
  auto t0 = restart_budget::time_point{} + 1h;
  CAF_CHECK(b.charge(t0));
  CAF_CHECK(b.charge(t0 + 1s));
  CAF_CHECK(b.charge(t0 + 2s));
  CAF_CHECK(!b.charge(t0 + 3s));
  CAF_CHECK_EQUAL(b.used(), 3u);
  // Once the first restart leaves the window, one more is allowed.
  CAF_CHECK(b.charge(t0 + 10s));
  CAF_CHECK(!b.charge(t0 + 10s));
}

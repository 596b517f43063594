#define CAF_SUITE actors.inbound_guard
#include <caf/test/unit_test.hpp>

#include "actors/connection/inbound_guard.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

using tp = inbound_guard::time_point;
const tp t0 = tp{} + 1h;

} // namespace

CAF_TEST(a burst is admitted then the rate applies) {
  inbound_guard_params p;
  p.rate_per_second = 10;
  p.burst = 5;
  inbound_guard g{p, t0};
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(g.admit(t0));
  CAF_CHECK(!g.admit(t0));
  // 100 ms at 10/s refills one token.
  CAF_CHECK(g.admit(t0 + 100ms));
  CAF_CHECK(!g.admit(t0 + 100ms));
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(g.admit(t0 + 10s));
  CAF_CHECK(!g.admit(t0 + 10s));
}

CAF_TEST(violations close the connection past the budget within the window) {
  inbound_guard_params p;
  p.max_violations = 3;
  p.violation_window = 10s;
  inbound_guard g{p, t0};
  CAF_CHECK(!g.violation(t0));
  CAF_CHECK(!g.violation(t0 + 1s));
  CAF_CHECK(!g.violation(t0 + 2s));
  CAF_CHECK(g.violation(t0 + 3s));
  // Old violations age out of the window.
  inbound_guard h{p, t0};
  CAF_CHECK(!h.violation(t0));
  CAF_CHECK(!h.violation(t0 + 1s));
  CAF_CHECK(!h.violation(t0 + 2s));
  CAF_CHECK(!h.violation(t0 + 11s));
  CAF_CHECK_EQUAL(h.violations(), 2u);
}

#define CAF_SUITE actors.backoff_policy
#include <caf/test/unit_test.hpp>

#include "actors/orchestrator/backoff_policy.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

CAF_TEST(windows grow exponentially up to the cap) {
  backoff_params p;
  p.base = 1000ms;
  p.cap = 30000ms;
  p.multiplier = 2;
  backoff_policy b{p};
  // The original's sequence (inventory §4.3 #31) is the window sequence.
  std::vector<int64_t> expected{1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (uint32_t i = 0; i < expected.size(); ++i)
    CAF_CHECK_EQUAL(b.window(i).count(), expected[i]);
  CAF_CHECK_EQUAL(b.window(1000).count(), 30000);
}

CAF_TEST(full jitter spans zero to the window and never exceeds the cap) {
  backoff_params p;
  p.base = 1000ms;
  p.cap = 30000ms;
  backoff_policy b{p};
  CAF_CHECK_EQUAL(b.delay(3, 0.0).count(), 0);
  CAF_CHECK_EQUAL(b.delay(3, 0.5).count(), 4000);
  CAF_CHECK_EQUAL(b.delay(3, 0.999999).count(), 7999);
  // Unlike the original, jitter never pushes a capped delay past the cap.
  for (double u : {0.0, 0.25, 0.5, 0.75, 0.9999, 1.0, 7.0})
    CAF_CHECK(b.delay(20, u) <= p.cap);
}

CAF_TEST(attempt limits and the stable period) {
  backoff_params p;
  p.max_attempts = 3;
  p.reset_after = 60000ms;
  backoff_policy b{p};
  CAF_CHECK(b.allows(0));
  CAF_CHECK(b.allows(2));
  CAF_CHECK(!b.allows(3));
  CAF_CHECK(!b.stable(59999ms));
  CAF_CHECK(b.stable(60000ms));
  backoff_policy unlimited{backoff_params{}};
  CAF_CHECK(unlimited.allows(1000000));
}

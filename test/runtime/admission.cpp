#define CAF_SUITE runtime.admission
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <vector>

#include "runtime/admission.hpp"

using namespace tether::runtime;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

const admission::time_point t0{};

} // namespace

CAF_TEST(off admits everything) {
  admission a{0, 0, t0};
  for (int i = 0; i < 1000; ++i)
    CAF_CHECK(a.admit(t0, 0.5).admitted);
}

CAF_TEST(a burst is admitted then the rate) {
  admission a{100, 10, t0};
  for (int i = 0; i < 10; ++i)
    CAF_CHECK(a.admit(t0, 0).admitted);
  CAF_CHECK(!a.admit(t0, 0).admitted);
  // 100 per second: one every 10 ms.
  CAF_CHECK(!a.admit(t0 + 5ms, 0).admitted);
  CAF_CHECK(a.admit(t0 + 10ms, 0).admitted);
  // Idle for long: back to the burst, not beyond.
  int admitted = 0;
  for (int i = 0; i < 20; ++i)
    admitted += a.admit(t0 + 60s, 0).admitted ? 1 : 0;
  CAF_CHECK_EQUAL(admitted, 10);
}

CAF_TEST(a storm is told to come back spread at the rate) {
  // 1000 handshakes at once against 100/s and a burst of 100: the 900
  // refused get slots 10 ms apart, over 9 s, plus up to a second of jitter.
  admission a{100, 100, t0};
  std::vector<milliseconds> waits;
  for (int i = 0; i < 1000; ++i) {
    auto v = a.admit(t0, 0);
    if (!v.admitted)
      waits.push_back(v.retry_after);
  }
  CAF_REQUIRE_EQUAL(waits.size(), 900u);
  CAF_CHECK_EQUAL(waits.front(), milliseconds{10});
  CAF_CHECK_EQUAL(waits.back(), milliseconds{9000});
  CAF_CHECK(std::is_sorted(waits.begin(), waits.end()));
  // The jitter adds up to a second.
  admission b{100, 1, t0};
  b.admit(t0, 0);
  CAF_CHECK_EQUAL(b.admit(t0, 0.999).retry_after, milliseconds{1009});
  // If they come back at their slots, they are admitted at the rate.
  admission c{100, 1, t0};
  c.admit(t0, 0);
  auto w1 = c.admit(t0, 0).retry_after;
  auto w2 = c.admit(t0, 0).retry_after;
  CAF_CHECK(c.admit(t0 + w1, 0).admitted);
  CAF_CHECK(!c.admit(t0 + w1, 0).admitted);
  CAF_CHECK(c.admit(t0 + w2, 0).admitted);
}

CAF_TEST(the promised slots are bounded) {
  admission a{10, 1, t0};
  milliseconds last{0};
  for (int i = 0; i < 10000; ++i)
    last = a.admit(t0, 0).retry_after;
  CAF_CHECK(last <= admission::max_wait + 1s);
  CAF_CHECK(last >= admission::max_wait);
}

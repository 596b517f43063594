#define CAF_SUITE actors.dedup_window
#include <caf/test/unit_test.hpp>

#include "actors/directory/dedup_window.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

CAF_TEST(an id is a duplicate within the window with its first count) {
  dedup_window w{10s, 100};
  CAF_CHECK(!w.seen("m1", 0));
  w.remember("m1", 3, 0);
  CAF_CHECK_EQUAL(w.seen("m1", 9999).value_or(0), 3u);
  // A second acceptance does not replace the first count.
  w.remember("m1", 5, 10);
  CAF_CHECK_EQUAL(w.seen("m1", 20).value_or(0), 3u);
  // Past the window it is new again, and remembered afresh.
  CAF_CHECK(!w.seen("m1", 10000));
  w.remember("m1", 7, 10000);
  CAF_CHECK_EQUAL(w.seen("m1", 10001).value_or(0), 7u);
  CAF_CHECK_EQUAL(w.size(), 1u);
  // The superseded entry of the first acceptance does not evict the new one.
  w.remember("m2", 1, 10002);
  CAF_CHECK_EQUAL(w.seen("m1", 10003).value_or(0), 7u);
}

CAF_TEST(the capacity bounds the ids and the oldest go first) {
  dedup_window w{10min, 3};
  for (int i = 0; i < 5; ++i)
    w.remember("m" + std::to_string(i), 1, i);
  CAF_CHECK_EQUAL(w.size(), 3u);
  CAF_CHECK(!w.seen("m0", 10));
  CAF_CHECK(!w.seen("m1", 10));
  CAF_CHECK(w.seen("m2", 10));
  CAF_CHECK(w.seen("m4", 10));
}

CAF_TEST(expired ids are dropped as new ones come) {
  dedup_window w{100ms, 1000};
  for (int i = 0; i < 50; ++i)
    w.remember("a" + std::to_string(i), 1, 0);
  w.remember("late", 1, 100);
  CAF_CHECK_EQUAL(w.size(), 1u);
}

#define CAF_SUITE actors.push_checker
#include <caf/test/unit_test.hpp>

#include "actors/device/push_checker.hpp"

using namespace tether::actors;

namespace {

constexpr int64_t ms = 1'000'000;

push_check_params params() {
  push_check_params p;
  p.delay_ns = 1000 * ms;
  p.min_interval_ns = 1000 * ms;
  p.tolerance_ns = 300 * ms;
  return p;
}

// One background episode [from, to) (ms) with messages reaching the device
// at these times (ms), nothing acked before.
push_log episode(int64_t from, int64_t to, std::vector<int64_t> at) {
  push_log log;
  log.episodes.push_back({from * ms, to * ms, 0});
  uint64_t seq = 0;
  for (auto t : at)
    log.receipts.push_back({t * ms, ++seq});
  return log;
}

push_check_result check(const push_log& log, std::vector<int64_t> pushes_ms,
                        int64_t end_ms = 100000) {
  std::vector<int64_t> pushes;
  for (auto t : pushes_ms)
    pushes.push_back(t * ms);
  return check_pushes("alice/phone", log, pushes, end_ms * ms, params());
}

} // namespace

CAF_TEST(one push on time for what waits is neither missed nor unnecessary) {
  auto r = check(episode(0, 5000, {500, 1000}), {1520});
  CAF_CHECK_EQUAL(r.due, 1u);
  CAF_CHECK_EQUAL(r.sent, 1u);
  CAF_CHECK_EQUAL(r.missed, 0u);
  CAF_CHECK_EQUAL(r.unnecessary, 0u);
}

CAF_TEST(no push for a message waiting past the delay is missed) {
  auto r = check(episode(0, 5000, {500, 1000}), {});
  CAF_CHECK_EQUAL(r.due, 1u);
  CAF_CHECK_EQUAL(r.missed, 1u); // one missing push, not one per message
  CAF_REQUIRE_EQUAL(r.examples.size(), 1u);
  CAF_MESSAGE(r.examples.front());
}

CAF_TEST(a push in the foreground or before the delay is unnecessary) {
  // 9 s: the app was back at 5 s.
  auto r = check(episode(0, 5000, {500}), {1500, 9000});
  CAF_CHECK_EQUAL(r.unnecessary, 1u);
  CAF_CHECK_EQUAL(r.missed, 0u);
  // 0.6 s: the message had not waited push.delay.
  r = check(episode(0, 5000, {500}), {600});
  CAF_CHECK_EQUAL(r.unnecessary, 1u);
  // With nothing waiting at all.
  r = check(episode(0, 5000, {}), {2000});
  CAF_CHECK_EQUAL(r.due, 0u);
  CAF_CHECK_EQUAL(r.unnecessary, 1u);
}

CAF_TEST(pushes closer than the interval are unnecessary) {
  auto p = params();
  p.min_interval_ns = 3000 * ms;
  auto log = episode(0, 10000, {100, 2000});
  auto r = check_pushes("alice/phone", log, {1100 * ms, 3000 * ms}, 100000 * ms,
                        p);
  CAF_CHECK_EQUAL(r.unnecessary, 1u);
  // The second message is due once the interval passed: at 4.1 s.
  r = check_pushes("alice/phone", log, {1100 * ms, 4150 * ms}, 100000 * ms, p);
  CAF_CHECK_EQUAL(r.unnecessary, 0u);
  CAF_CHECK_EQUAL(r.missed, 0u);
  CAF_CHECK_EQUAL(r.due, 2u);
}

CAF_TEST(an episode too short to be sure asks for nothing and allows one) {
  // Due at 1.1 s, the app back at 1.2 s: within the tolerance.
  auto short_one = episode(0, 1200, {100});
  auto none = check(short_one, {});
  CAF_CHECK_EQUAL(none.due, 1u);
  CAF_CHECK_EQUAL(none.missed, 0u);
  auto one = check(short_one, {1150});
  CAF_CHECK_EQUAL(one.unnecessary, 0u);
}

CAF_TEST(messages not acked when the app left call for a push too) {
  push_log log;
  log.episodes.push_back({1000 * ms, 5000 * ms, 3}); // acked up to seq 3
  log.receipts = {{900 * ms, 3}, {950 * ms, 4}};     // seq 4: not acked
  auto r = check(log, {});
  CAF_CHECK_EQUAL(r.due, 1u); // at 2 s: 1 s after the app left
  CAF_CHECK_EQUAL(r.missed, 1u);
  CAF_CHECK_EQUAL(check(log, {2050}).missed, 0u);
  // All acked: nothing waits, nothing is due.
  log.episodes[0].acked_seq = 4;
  CAF_CHECK_EQUAL(check(log, {}).due, 0u);
}

CAF_TEST(a message after a push calls for another) {
  auto log = episode(0, 10000, {100, 5000});
  auto r = check(log, {1100});
  CAF_CHECK_EQUAL(r.due, 2u);
  CAF_CHECK_EQUAL(r.missed, 1u);
  r = check(log, {1100, 6050});
  CAF_CHECK_EQUAL(r.missed, 0u);
  CAF_CHECK_EQUAL(r.unnecessary, 0u);
  // An episode still open at the end is cut there.
  push_log open;
  open.episodes.push_back({0, 0, 0});
  open.receipts = {{100 * ms, 1}};
  CAF_CHECK_EQUAL(check(open, {}, 5000).missed, 1u);
  CAF_CHECK_EQUAL(check(open, {}, 1200).missed, 0u);
}

CAF_TEST(results add up) {
  push_check_result total;
  merge(total, check(episode(0, 5000, {500}), {}));
  merge(total, check(episode(0, 5000, {500}), {1500}));
  CAF_CHECK_EQUAL(total.due, 2u);
  CAF_CHECK_EQUAL(total.sent, 1u);
  CAF_CHECK_EQUAL(total.missed, 1u);
  CAF_CHECK_EQUAL(total.examples.size(), 1u);
}

#define CAF_SUITE actors.push_policy
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <vector>

#include "actors/queue/push_policy.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;
using tether::protocol::priority;

namespace {

constexpr int64_t t0 = 1'000'000;

// The queue's rule: the earliest due time over its waiting messages that
// call for a push.
std::optional<int64_t> earliest(const push_params& p, const push_state& s,
                                const std::vector<int64_t>& entered) {
  std::optional<int64_t> out;
  for (auto t : entered)
    if (auto at = push_due(p, s, t); at && (!out || *at < *out))
      out = at;
  return out;
}

push_params params{priority::high, 2s, 60s};

} // namespace

CAF_TEST(which messages call for a push) {
  CAF_CHECK(calls_for_push(params, priority::high, false));
  CAF_CHECK(calls_for_push(params, priority::critical, false));
  CAF_CHECK(!calls_for_push(params, priority::normal, false));
  CAF_CHECK(!calls_for_push(params, priority::low, false));
  CAF_CHECK(calls_for_push(params, priority::low, true));
  push_params all{priority::low, 0s, 0s};
  CAF_CHECK(calls_for_push(all, priority::low, false));
}

CAF_TEST(an offline device gets one push for three messages) {
  push_state s{false, t0, std::nullopt};
  std::vector<int64_t> waiting{t0, t0 + 100, t0 + 200};
  CAF_CHECK(earliest(params, s, waiting) == t0 + 2000);
  // The push at t0 + 2000 covers all three.
  s.last_push_ms = t0 + 2000;
  CAF_CHECK(!earliest(params, s, waiting));
}

CAF_TEST(a device available again calls for none) {
  push_state s{true, t0, std::nullopt};
  CAF_CHECK(!push_due(params, s, t0));
}

CAF_TEST(the delay counts from when the device became unavailable) {
  // Written while the device was in the foreground, not acked; then it
  // went to the background at t0 + 10 s.
  push_state s{false, t0 + 10000, std::nullopt};
  CAF_CHECK(push_due(params, s, t0) == t0 + 12000);
}

CAF_TEST(new messages after a push wait for the minimum interval) {
  push_state s{false, t0, t0 + 2000};
  CAF_CHECK(!push_due(params, s, t0)); // covered
  // Entered in the millisecond of the push: maybe after it, so it calls for
  // the next one (a second push rather than none).
  CAF_CHECK(push_due(params, s, t0 + 2000) == t0 + 62000);
  CAF_CHECK(push_due(params, s, t0 + 3000) == t0 + 62000);
  // Long after the interval: the delay alone.
  CAF_CHECK(push_due(params, s, t0 + 100000) == t0 + 102000);
}

CAF_TEST(a message taken before its push cancels it) {
  push_state s{false, t0, std::nullopt};
  std::vector<int64_t> waiting{t0, t0 + 1000};
  CAF_CHECK(earliest(params, s, waiting) == t0 + 2000);
  waiting.erase(waiting.begin()); // acked
  CAF_CHECK(earliest(params, s, waiting) == t0 + 3000);
  waiting.clear();
  CAF_CHECK(!earliest(params, s, waiting));
}

CAF_TEST(a restarted queue gives its device the delay to come back) {
  auto start = t0 + 100000;
  // Stored messages from before the restart, one covered by the push then.
  push_state s{false, start, t0 - 20000};
  CAF_CHECK(!push_due(params, s, t0 - 50000));
  CAF_CHECK(push_due(params, s, t0 - 10000) == start + 2000);
  // Within the minimum interval of the push before the restart.
  push_state r{false, start, start - 30000};
  CAF_CHECK(push_due(params, r, start - 20000) == start + 30000);
}

CAF_TEST(no delay and no interval push at once) {
  push_params now{priority::low, 0s, 0s};
  push_state s{false, t0, std::nullopt};
  CAF_CHECK(push_due(now, s, t0) == t0);
}

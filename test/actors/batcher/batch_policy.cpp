#define CAF_SUITE actors.batch_policy
#include <caf/test/unit_test.hpp>

#include <deque>

#include "actors/batcher/batch_policy.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;
using tether::protocol::priority;

namespace {

using tp = batch_policy::time_point;
const tp t0 = tp{} + 1h;

// The policy with the pending messages' sizes beside it, as the batcher
// holds them: decide() reads them, flushed() takes the first ones off.
struct pending_batch {
  batch_policy policy;
  std::deque<uint64_t> sizes;

  explicit pending_batch(batch_params params = {}) : policy(params) {}

  void add(tp now, uint64_t bytes, priority prio) {
    policy.add(now, bytes, prio);
    sizes.push_back(bytes);
  }

  batch_policy::decision decide(tp now) const {
    return policy.decide(now, [this](uint32_t i) { return sizes[i]; });
  }

  void flushed(tp now, uint32_t items) {
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < items && !sizes.empty(); ++i) {
      bytes += sizes.front();
      sizes.pop_front();
    }
    policy.flushed(now, items, bytes);
  }

  void written() { policy.written(); }
  bool hold_for_round(bool loaded) const {
    return policy.hold_for_round(loaded);
  }
  uint32_t pending() const { return policy.pending(); }
};

} // namespace

CAF_TEST(an idle link sends at once) {
  pending_batch b;
  b.add(t0, 100, priority::normal);
  auto d = b.decide(t0);
  CAF_CHECK(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u);
}

CAF_TEST(under load messages coalesce until the write completes) {
  batch_params p;
  p.max_delay = 10ms;
  pending_batch b{p};
  b.add(t0, 100, priority::normal);
  b.flushed(t0, 1);
  // A frame is being written: new messages wait for it, at most max_delay.
  b.add(t0 + 1ms, 100, priority::normal);
  b.add(t0 + 2ms, 100, priority::normal);
  auto d = b.decide(t0 + 2ms);
  CAF_CHECK(!d.flush);
  CAF_REQUIRE(d.wake_at.has_value());
  CAF_CHECK(*d.wake_at == t0 + 10ms);
  // The write completed: both go in one frame.
  b.written();
  d = b.decide(t0 + 3ms);
  CAF_CHECK(d.flush);
  CAF_CHECK_EQUAL(d.take, 2u);
}

CAF_TEST(a slow write delays a message by max_delay at most) {
  batch_params p;
  p.max_delay = 10ms;
  pending_batch b{p};
  b.add(t0, 100, priority::normal);
  b.flushed(t0, 1);
  b.add(t0 + 1ms, 100, priority::normal);
  CAF_CHECK(!b.decide(t0 + 9ms).flush);
  auto d = b.decide(t0 + 10ms);
  CAF_CHECK(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u);
}

CAF_TEST(counts bytes and priority flush early) {
  batch_params p;
  p.max_items = 3;
  p.max_bytes = 1000;
  p.max_delay = 10ms;
  pending_batch b{p};
  b.flushed(t0, 0); // a frame in flight: the link is busy
  for (int i = 0; i < 3; ++i)
    b.add(t0, 10, priority::normal);
  CAF_CHECK(b.decide(t0).flush);
  pending_batch big{p};
  big.flushed(t0, 0);
  big.add(t0, 1000, priority::low);
  CAF_CHECK(big.decide(t0).flush);
  pending_batch urgent{p};
  urgent.flushed(t0, 0);
  urgent.add(t0, 10, priority::low);
  CAF_CHECK(!urgent.decide(t0).flush);
  urgent.add(t0, 10, priority::critical);
  auto d = urgent.decide(t0);
  CAF_CHECK(d.flush);
  CAF_CHECK_EQUAL(d.take, 2u);
}

CAF_TEST(write credit bounds frames in flight) {
  batch_params p;
  p.max_frames_in_flight = 1;
  pending_batch b{p};
  b.add(t0, 10, priority::critical);
  CAF_CHECK(b.decide(t0).flush);
  b.flushed(t0, 1);
  b.add(t0, 10, priority::critical);
  auto d = b.decide(t0);
  CAF_CHECK(!d.flush);
  CAF_CHECK(!d.wake_at.has_value());
  b.written();
  CAF_CHECK(b.decide(t0).flush);
}

CAF_TEST(no message waits longer than max_delay) {
  // A steady stream (one message per ms) on a link whose writes take 4 ms:
  // frames carry several messages, and every message leaves within
  // max_delay of its arrival (the added latency bound).
  batch_params p;
  p.max_delay = 10ms;
  p.max_items = 1000;
  p.max_frames_in_flight = 1;
  pending_batch b{p};
  std::vector<tp> waiting;
  std::vector<tp> writes_done;
  auto worst = 0ms;
  uint32_t frames = 0;
  auto now = t0;
  for (int i = 0; i < 1000; ++i, now += 1ms) {
    while (!writes_done.empty() && writes_done.front() <= now) {
      b.written();
      writes_done.erase(writes_done.begin());
    }
    b.add(now, 10, priority::normal);
    waiting.push_back(now);
    auto d = b.decide(now);
    if (d.flush) {
      for (uint32_t k = 0; k < d.take; ++k)
        worst = std::max(worst,
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                           now - waiting[k]));
      waiting.erase(waiting.begin(), waiting.begin() + d.take);
      b.flushed(now, d.take);
      writes_done.push_back(now + 4ms);
      ++frames;
    }
  }
  CAF_CHECK(worst <= 10ms);
  CAF_CHECK(frames < 300); // about one frame per write
}

CAF_TEST(batching off sends every message alone) {
  batch_params p;
  p.enabled = false;
  pending_batch b{p};
  b.add(t0, 10, priority::low);
  b.add(t0, 10, priority::low);
  auto d = b.decide(t0);
  CAF_CHECK(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u);
}

CAF_TEST(a loaded node holds messages for the round unless they are urgent) {
  pending_batch b;
  CAF_CHECK(!b.hold_for_round(true)); // nothing pending
  b.add(t0, 100, priority::normal);
  CAF_CHECK(!b.hold_for_round(false)); // idle node: at once
  CAF_CHECK(b.hold_for_round(true));
  b.add(t0, 100, priority::critical);
  CAF_CHECK(!b.hold_for_round(true)); // critical goes at once
  auto d = b.decide(t0);
  CAF_REQUIRE(d.flush);
  b.flushed(t0, d.take);
  b.add(t0, 100, priority::normal);
  // A frame is being written: the write completion is the round already.
  CAF_CHECK(!b.hold_for_round(true));
}

CAF_TEST(a frame carries at most max_bytes of messages and a larger one alone) {
  batch_params p;
  p.max_items = 10;
  p.max_bytes = 1000;
  pending_batch b{p};
  b.flushed(t0, 0); // a frame in flight: messages coalesce
  b.add(t0, 400, priority::normal);
  b.add(t0, 400, priority::normal);
  b.add(t0, 400, priority::normal); // 1200 bytes pending: flush
  b.add(t0, 5000, priority::normal);
  b.add(t0, 10, priority::normal);
  auto d = b.decide(t0);
  CAF_REQUIRE(d.flush);
  CAF_CHECK_EQUAL(d.take, 2u); // 800 bytes; a third would make 1200
  b.flushed(t0, d.take);
  b.written();
  d = b.decide(t0);
  CAF_REQUIRE(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u); // 400, then the 5000-byte one does not fit
  b.flushed(t0, d.take);
  b.written();
  b.written();
  d = b.decide(t0);
  CAF_REQUIRE(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u); // larger than max_bytes: alone
  b.flushed(t0, d.take);
  b.written();
  d = b.decide(t0);
  CAF_REQUIRE(d.flush);
  CAF_CHECK_EQUAL(d.take, 1u);
  b.flushed(t0, d.take);
  CAF_CHECK_EQUAL(b.pending(), 0u);
}

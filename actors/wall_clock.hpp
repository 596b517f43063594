#pragma once

// Wall-clock milliseconds derived from an actor's clock, so that actors that
// persist or report wall times (queues: TTLs; rooms: last seen) follow the
// test clock in tests. `skew` is a test seam shared by a node's actors
// (node::advance_clock); zero or null in production. Pure.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace tether::actors {

/// TEST SEAM: milliseconds a test adds to the wall clock of a node's
/// actors (node::advance_clock) to exercise TTLs and retention without
/// waiting. Zero (or null) in production: only tests move it.
using test_clock_skew_ptr = std::shared_ptr<std::atomic<int64_t>>;

class wall_clock {
public:
  using steady = std::chrono::steady_clock;

  wall_clock() = default;

  /// Epoch milliseconds of the system clock: the one reading of real wall
  /// time in actors/ (an actor anchors its clock to it once, code outside
  /// actors, like the store's migration at open, reads it directly).
  static int64_t system_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
  }

  /// Anchored at `now` of the actor's clock; `skew` is the test seam
  /// (node::advance_clock).
  wall_clock(steady::time_point now, test_clock_skew_ptr skew = nullptr)
    : base_ms_(system_ms()), steady_base_(now), skew_(std::move(skew)) {
    // nop
  }

  /// Epoch milliseconds at the actor-clock time `now`.
  int64_t at(steady::time_point now) const noexcept {
    auto skew = skew_ ? skew_->load() : 0;
    return base_ms_ + skew
           + std::chrono::duration_cast<std::chrono::milliseconds>(
               now - steady_base_)
               .count();
  }

private:
  int64_t base_ms_ = 0;
  steady::time_point steady_base_;
  test_clock_skew_ptr skew_;
};

/// Epoch milliseconds now on the clock of an actor whose state keeps its
/// wall_clock as `clock`.
template <class Self>
int64_t wall_ms(Self* self) {
  return self->state.clock.at(self->clock().now());
}

/// Milliseconds on an actor's own (monotonic) clock: for durations and
/// deadlines that never leave the node.
template <class Self>
int64_t steady_ms(Self* self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

} // namespace tether::actors

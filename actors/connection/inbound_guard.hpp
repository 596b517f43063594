#pragma once

// Per-connection admission of inbound messages: a token bucket for the
// message rate and a count of rejected frames that, past a budget, closes the
// connection (close 1008). Pure: time is passed in.

#include <chrono>
#include <cstdint>

#include "actors/lazy_deque.hpp"

namespace tether::actors {

struct inbound_guard_params {
  /// Sustained messages/s per connection; an interactive device sends < 10/s.
  double rate_per_second = 200;
  /// Bucket depth; absorbs the burst of an outbox flushed after a reconnect.
  double burst = 400;
  /// Rejected frames tolerated per window before closing with 1008.
  uint32_t max_violations = 20;
  /// Window over which violations are counted.
  std::chrono::seconds violation_window{60};
};

class inbound_guard {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit inbound_guard(inbound_guard_params params,
                         time_point now = time_point{});

  /// Takes one token for a message; false means rate limited.
  bool admit(time_point now);

  /// Records a rejected frame or message; true once the connection has
  /// exceeded its violation budget and must be closed.
  bool violation(time_point now);

  /// Violations inside the current window.
  size_t violations() const noexcept { return violations_.size(); }

  const inbound_guard_params& params() const noexcept { return params_; }

private:
  inbound_guard_params params_;
  double tokens_;
  time_point refilled_;
  // Bounded: never holds more than max_violations + 1 entries.
  lazy_deque<time_point> violations_;
};

} // namespace tether::actors

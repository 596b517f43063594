#pragma once

// Exponential backoff with full jitter ("AWS style"): the n-th retry waits a
// uniformly random time in [0, min(cap, base * multiplier^n)], so that a
// crowd of clients that lost their links together spreads out instead of
// reconnecting in waves. Pure: the random draw is passed in.

#include <chrono>
#include <cstdint>

namespace tether::actors {

struct backoff_params {
  /// First retry window; short enough that a blip heals in well under 1 s.
  std::chrono::milliseconds base{250};
  /// Longest window; bounds the wait after a long outage.
  std::chrono::milliseconds cap{30000};
  /// Growth per attempt.
  double multiplier = 2.0;
  /// Attempts before giving up; 0 retries forever (a phone should).
  uint32_t max_attempts = 0;
  /// A child that stayed up this long starts again at attempt 0.
  std::chrono::milliseconds reset_after{60000};
};

class backoff_policy {
public:
  using duration = std::chrono::milliseconds;

  explicit backoff_policy(backoff_params params = {}) : params_(params) {}

  /// The upper bound of the window for `attempt` (0-based), capped.
  duration window(uint32_t attempt) const noexcept;

  /// The delay for `attempt` given a uniform draw `u` in [0, 1).
  duration delay(uint32_t attempt, double u) const noexcept;

  /// Whether another attempt is allowed after `attempts` failed ones.
  bool allows(uint32_t attempts) const noexcept {
    return params_.max_attempts == 0 || attempts < params_.max_attempts;
  }

  /// Whether an uptime resets the attempt counter.
  bool stable(duration uptime) const noexcept {
    return uptime >= params_.reset_after;
  }

private:
  backoff_params params_;
};

} // namespace tether::actors

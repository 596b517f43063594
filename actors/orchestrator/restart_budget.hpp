#pragma once

// Erlang-style restart intensity: at most `max_restarts` restarts within
// `period`. A child that exceeds it is not restarted again; the orchestrator
// escalates instead of looping. Pure: time is passed in.

#include <chrono>
#include <cstdint>
#include <deque>

namespace tether::actors {

struct restart_budget_params {
  /// Restarts allowed per period; a crash loop beyond it is a bug, not a blip.
  uint32_t max_restarts = 5;
  /// Sliding window for counting restarts.
  std::chrono::seconds period{60};
};

class restart_budget {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit restart_budget(restart_budget_params params = {})
    : params_(params) {}

  /// Charges a restart at `now`; false if the budget is exhausted (the
  /// restart must not happen).
  bool charge(time_point now);

  /// Restarts counted inside the current window.
  size_t used() const noexcept { return restarts_.size(); }

private:
  restart_budget_params params_;
  // Bounded by max_restarts.
  std::deque<time_point> restarts_;
};

} // namespace tether::actors

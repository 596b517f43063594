#include "actors/orchestrator/backoff_policy.hpp"

#include <algorithm>
#include <cmath>

namespace tether::actors {

backoff_policy::duration
backoff_policy::window(uint32_t attempt) const noexcept {
  auto base = static_cast<double>(params_.base.count());
  auto cap = static_cast<double>(params_.cap.count());
  // pow() overflows to inf for large attempts; min() then yields the cap.
  auto w = std::min(cap, base * std::pow(params_.multiplier, attempt));
  return duration{static_cast<duration::rep>(w)};
}

backoff_policy::duration backoff_policy::delay(uint32_t attempt,
                                               double u) const noexcept {
  u = std::clamp(u, 0.0, 1.0);
  auto w = static_cast<double>(window(attempt).count());
  return duration{static_cast<duration::rep>(std::floor(w * u))};
}

} // namespace tether::actors

#include "actors/connection/inbound_guard.hpp"

#include <algorithm>

namespace tether::actors {

inbound_guard::inbound_guard(inbound_guard_params params, time_point now)
  : params_(params), tokens_(params.burst), refilled_(now) {
  // nop
}

bool inbound_guard::admit(time_point now) {
  if (now > refilled_) {
    std::chrono::duration<double> elapsed = now - refilled_;
    tokens_ = std::min(params_.burst,
                       tokens_ + elapsed.count() * params_.rate_per_second);
    refilled_ = now;
  }
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

bool inbound_guard::violation(time_point now) {
  while (!violations_.empty()
         && now - violations_.front() >= params_.violation_window)
    violations_.pop_front();
  violations_.push_back(now);
  if (violations_.size() > params_.max_violations) {
    violations_.pop_front();
    return true;
  }
  return false;
}

} // namespace tether::actors

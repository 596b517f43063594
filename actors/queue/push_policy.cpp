#include "actors/queue/push_policy.hpp"

#include <algorithm>

namespace tether::actors {

void push_policy::restore(std::optional<time_point> last_push, time_point now) {
  last_push_ = last_push;
  available_ = false;
  unavailable_since_ = now;
}

void push_policy::entered(uint64_t key, protocol::priority p, bool notify,
                          time_point at, bool covered) {
  if (!calls_for_push(p, notify))
    return;
  if (covered)
    covered_.insert(key);
  else
    uncovered_.emplace(key, at);
}

void push_policy::gone(uint64_t key) {
  if (uncovered_.erase(key) == 0)
    covered_.erase(key);
}

void push_policy::set_available(bool available, time_point at) {
  if (available == available_)
    return;
  available_ = available;
  if (!available)
    unavailable_since_ = at;
}

std::optional<push_policy::time_point> push_policy::due() const {
  if (available_ || uncovered_.empty())
    return std::nullopt;
  // The one waiting longest (keys need not follow entry times: a restored
  // backlog enters with its stored times).
  auto first = std::min_element(uncovered_.begin(), uncovered_.end(),
                                [](const auto& a, const auto& b) {
                                  return a.second < b.second;
                                });
  auto at = std::max(first->second, unavailable_since_) + p_.delay;
  if (last_push_)
    at = std::max(at, *last_push_ + p_.min_interval);
  return at;
}

void push_policy::pushed(time_point at) {
  last_push_ = at;
  for (auto& [key, entered] : uncovered_)
    covered_.insert(key);
  uncovered_.clear();
}

} // namespace tether::actors

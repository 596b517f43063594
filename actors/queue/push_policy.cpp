#include "actors/queue/push_policy.hpp"

#include <algorithm>

namespace tether::actors {

void push_policy::restore(uint64_t covered_through,
                          std::optional<time_point> last_push, time_point now) {
  covered_ = covered_through;
  last_push_ = last_push;
  available_ = false;
  unavailable_since_ = now;
}

void push_policy::entered(uint64_t key, protocol::priority p, bool notify,
                          time_point at) {
  if (calls_for_push(p, notify))
    waiting_.emplace(key, at);
}

void push_policy::gone(uint64_t key) {
  waiting_.erase(key);
}

void push_policy::set_available(bool available, time_point at) {
  if (available == available_)
    return;
  available_ = available;
  if (!available)
    unavailable_since_ = at;
}

std::optional<push_policy::time_point> push_policy::due() const {
  if (available_)
    return std::nullopt;
  // The first waiting message no push covered yet (keys increase with
  // entry, so it is also the one waiting longest).
  auto first = waiting_.upper_bound(covered_);
  if (first == waiting_.end())
    return std::nullopt;
  auto at = std::max(first->second, unavailable_since_) + s_.delay;
  if (last_push_)
    at = std::max(at, *last_push_ + s_.min_interval);
  return at;
}

void push_policy::pushed(time_point at) {
  last_push_ = at;
  if (!waiting_.empty())
    covered_ = std::max(covered_, waiting_.rbegin()->first);
}

} // namespace tether::actors

#include "actors/queue/push_policy.hpp"

#include <algorithm>

namespace tether::actors {

std::optional<int64_t> push_due(const push_params& p, const push_state& s,
                                int64_t entered_ms) {
  // Strictly before: one that entered in the millisecond of the push may
  // have come after it (pushed for again, an interval later, rather than
  // never).
  if (s.available || (s.last_push_ms && entered_ms < *s.last_push_ms))
    return std::nullopt;
  auto at = std::max(entered_ms, s.unavailable_since_ms) + p.delay.count();
  if (s.last_push_ms)
    at = std::max(at, *s.last_push_ms + p.min_interval.count());
  return at;
}

} // namespace tether::actors

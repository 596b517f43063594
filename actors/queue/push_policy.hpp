#pragma once

// When a device's queue should wake its app with a push (SPEC §5.10): a
// message that calls for one (at or above push.min_priority, or one its
// sender marked `notify`) is still waiting push.delay after it entered the
// queue and after the device became unable to take it (offline, or in the
// background by its own word), and the device's last push is at least
// push.min_interval ago. One push covers every message waiting when it is
// sent: a message that entered before the last push calls for no other (one
// that entered in its millisecond may have come after it, and calls for the
// next). A message taken (acked, expired, withdrawn) before its push is due
// cancels it. Times are the queue's wall milliseconds, so a restarted
// queue decides from its stored messages and the stored time of the last
// push. Pure.

#include <chrono>
#include <cstdint>
#include <optional>

#include "protocol/model.hpp"

namespace tether::actors {

struct push_params {
  /// Messages at or above it call for a push.
  protocol::priority min_priority = protocol::priority::high;
  /// How long such a message waits for its device before the push.
  std::chrono::milliseconds delay{2000};
  /// At most one push per device within this.
  std::chrono::milliseconds min_interval{60000};
};

/// What the queue knows of its device for the decision.
struct push_state {
  /// Connected and in the foreground (tether.lifecycle): no push.
  bool available = false;
  /// Since when the device cannot take messages (a restarted queue: its
  /// start, so devices reconnecting to a restarted node get push.delay).
  int64_t unavailable_since_ms = 0;
  /// The last push (nullopt: none yet).
  std::optional<int64_t> last_push_ms;
};

/// Whether a message of this priority (and `notify` flag) calls for a push.
constexpr bool calls_for_push(const push_params& p, protocol::priority prio,
                              bool notify) noexcept {
  return notify || prio >= p.min_priority;
}

/// When a push is due for a waiting message that calls for one and entered
/// at `entered_ms`; nullopt if it calls for none (the device is available,
/// or the last push covered it). The earliest over the waiting messages is
/// when the queue pushes.
std::optional<int64_t> push_due(const push_params& p, const push_state& s,
                                int64_t entered_ms);

} // namespace tether::actors

#pragma once

// When a device's queue should wake its app with a push (SPEC §5.10): a
// message that calls for one (at or above push.min_priority, or one its
// sender marked `notify`) is still waiting push.delay after it entered the
// queue and after the device became unable to take it (offline, or in the
// background by its own word), and the device's last push is at least
// push.min_interval ago. One push covers every message waiting when it is
// sent; a message taken (acked, expired, withdrawn) before its push is due
// cancels it. The queue keeps which durable messages a push covered and
// when it was sent, so a restart neither pushes for them again nor sooner
// than the interval allows. Pure: times are given by the caller.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

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

class push_policy {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit push_policy(push_params p = {}) : p_(p) {}

  /// A restarted queue: its last push was at `last_push` (nullopt: never),
  /// and the device counts as unable to take messages since `now` (devices
  /// reconnecting to a restarted node get push.delay to come back, as after
  /// any disconnect).
  void restore(std::optional<time_point> last_push, time_point now);

  /// Whether a message of this priority (and `notify` flag) calls for one.
  bool calls_for_push(protocol::priority p, bool notify) const noexcept {
    return notify || p >= p_.min_priority;
  }

  /// A message entered the queue at `at` under `key` (unique in the
  /// queue); only those that call for a push are remembered. `covered`: a
  /// push before a restart covered it already.
  void entered(uint64_t key, protocol::priority p, bool notify, time_point at,
               bool covered = false);

  /// The message under `key` left the queue (acked, expired, withdrawn).
  void gone(uint64_t key);

  /// The device can take messages now (connected in the foreground), or
  /// cannot since `at` (gone, or in the background).
  void set_available(bool available, time_point at);

  bool available() const noexcept { return available_; }

  /// When the next push is due; nullopt while none is (the device is
  /// available, or nothing waiting calls for one that a push has not
  /// covered yet).
  std::optional<time_point> due() const;

  /// A push was sent at `at`: it covers every message waiting now.
  void pushed(time_point at);

  std::optional<time_point> last_push() const noexcept { return last_push_; }

  /// Messages waiting that call for a push, covered or not.
  size_t waiting() const noexcept {
    return uncovered_.size() + covered_.size();
  }

private:
  push_params p_;
  /// Waiting messages that call for a push and no push covered yet, by key,
  /// with their entry time.
  std::map<uint64_t, time_point> uncovered_;
  /// Those a push covered.
  std::set<uint64_t> covered_;
  std::optional<time_point> last_push_;
  bool available_ = false;
  time_point unavailable_since_{};
};

} // namespace tether::actors

#pragma once

// When a device's queue should wake its app with a push (issue 22): a
// message that calls for one (at or above push.min_priority, or one its
// sender marked `notify`) is still waiting push.delay after it entered the
// queue and after the device became unable to take it (offline, or in the
// background by its own word), and the device's last push is at least
// push.min_interval ago. One push covers every message waiting when it is
// sent; a message taken (acked, expired, withdrawn) before its push is due
// cancels it. Coverage is a watermark over the queue's keys (increasing in
// the order messages enter), so the queue keeps it across a restart with
// the time of the last push. Pure: times are given by the caller.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "protocol/model.hpp"

namespace tether::actors {

struct push_settings {
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

  explicit push_policy(push_settings s = {}) : s_(s) {}

  /// What the queue kept across a restart: the key the last push covered
  /// and when it was sent (nullopt: never). The device counts as unable to
  /// take messages since `now`: devices reconnecting to a restarted node
  /// get push.delay to come back, as after any disconnect.
  void restore(uint64_t covered_through, std::optional<time_point> last_push,
               time_point now);

  /// Whether a message of this priority (and `notify` flag) calls for one.
  bool calls_for_push(protocol::priority p, bool notify) const noexcept {
    return notify || p >= s_.min_priority;
  }

  /// A message entered the queue at `at` under `key` (increasing); only
  /// those that call for a push are remembered.
  void entered(uint64_t key, protocol::priority p, bool notify, time_point at);

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

  /// The key the last push covered (0: none), for the queue to keep.
  uint64_t covered_through() const noexcept { return covered_; }

  std::optional<time_point> last_push() const noexcept { return last_push_; }

  /// Messages waiting that call for a push, covered or not.
  size_t waiting() const noexcept { return waiting_.size(); }

private:
  push_settings s_;
  /// Keys of waiting messages that call for a push, with their entry time.
  std::map<uint64_t, time_point> waiting_;
  uint64_t covered_ = 0;
  std::optional<time_point> last_push_;
  bool available_ = false;
  time_point unavailable_since_{};
};

} // namespace tether::actors

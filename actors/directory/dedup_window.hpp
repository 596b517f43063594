#pragma once

// Which message ids a sender device sent recently: a resent id within the
// window is acknowledged again (with the recipient count of its first
// acceptance) but not delivered twice (SPEC §5.4). Bounded by time and by a
// count per device. Pure: time is passed in.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "actors/lazy_deque.hpp"

namespace tether::actors {

class dedup_window {
public:
  explicit dedup_window(std::chrono::milliseconds window
                        = std::chrono::minutes{10},
                        size_t capacity = 4096)
    : window_(window.count()), capacity_(capacity) {}

  /// The recipient count `id` was accepted with, if within the window.
  std::optional<uint32_t> seen(const std::string& id, int64_t now_ms) const;

  /// Records the first acceptance of `id`; the oldest ids make room.
  void remember(std::string id, uint32_t recipients, int64_t now_ms);

  /// Forgets `id`: a resend is taken again (its first try was refused).
  void forget(const std::string& id) { ids_.erase(id); }

  size_t size() const noexcept { return ids_.size(); }

private:
  struct entry {
    int64_t at_ms = 0;
    uint32_t recipients = 0;
  };

  int64_t window_;
  size_t capacity_;
  std::unordered_map<std::string, entry> ids_;
  lazy_deque<std::pair<int64_t, std::string>> order_;
};

/// A device's window as its connections share it: it outlives each
/// connection (a resend after a reconnect is a duplicate too), and an old
/// and a new connection of the device may briefly use it at once.
struct device_dedup {
  explicit device_dedup(dedup_window w) : window(std::move(w)) {}
  std::mutex mx;
  dedup_window window;
};

} // namespace tether::actors

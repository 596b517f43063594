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
#include <utility>
#include <vector>

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
  void forget(const std::string& id);

  size_t size() const noexcept { return live_; }

private:
  // The ids in order of acceptance, in a ring that grows (doubling) up to
  // the capacity, and an open-addressing index of ring positions keyed by
  // the id's hash (linear probing, at most half full, deletion by backward
  // shift): a lookup is one hash and, as a rule, one probe; an id costs
  // its slot and 8 bytes of index, no node of its own (a node-based map and
  // an order list held each id twice, ~170 bytes per id).
  struct slot {
    std::string id;
    uint64_t hash = 0;
    int64_t at_ms = 0;
    uint32_t recipients = 0;
    /// False once forgotten or superseded (the slot waits for its turn to
    /// leave the ring).
    bool live = false;
  };

  static constexpr size_t npos = ~size_t{0};

  /// The index cell holding `id`, or npos.
  size_t find(const std::string& id, uint64_t hash) const;
  /// The index cell holding ring position `pos` (which is indexed).
  size_t cell_of(size_t pos) const;
  /// Empties index cell `cell`, shifting later probes back.
  void unindex(size_t cell);
  void index(size_t pos);
  /// Drops the oldest slot of the ring.
  void pop_front();
  /// Room for one more slot (count_ < capacity_ holds).
  void grow();
  size_t ring_pos(size_t k) const noexcept {
    return (head_ + k) % ring_.size();
  }

  int64_t window_;
  size_t capacity_;
  std::vector<slot> ring_;
  size_t head_ = 0;
  /// Slots in the ring, live or not.
  size_t count_ = 0;
  size_t live_ = 0;
  /// Ring position + 1 per cell, 0 for an empty cell; a power of two at
  /// least twice the ring's size.
  std::vector<uint32_t> index_;
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

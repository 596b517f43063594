#pragma once

// The ids of the last messages a queue delivered (acked, or written when no
// ack was asked) or saw handled on another device, so that the same message
// handed over from another copy of the device's queue (SPEC §14.3: an old
// leader back after a takeover, or a lineage that started elsewhere) is not
// delivered again. A ring of 64-bit hashes of the ids: 8 bytes a message,
// grown as ids come up to its capacity (0: kept off, R = 1), then the
// oldest are forgotten (such a message may come twice, under its id, which
// clients drop).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tether::actors {

class delivered_ids {
public:
  explicit delivered_ids(size_t capacity = 0) : capacity_(capacity) {
    // nop
  }

  void add(const std::string& id) {
    if (capacity_ == 0)
      return;
    auto h = std::hash<std::string>{}(id);
    if (ring_.size() < capacity_) {
      ring_.push_back(h);
      return;
    }
    ring_[next_] = h;
    next_ = (next_ + 1) % capacity_;
  }

  /// Whether `id` is among the remembered (a 64-bit hash: a message taken
  /// for another by a collision is as likely as 1 in 2^64 / capacity).
  bool contains(const std::string& id) const {
    if (ring_.empty())
      return false;
    auto h = std::hash<std::string>{}(id);
    return std::find(ring_.begin(), ring_.end(), h) != ring_.end();
  }

private:
  size_t capacity_;
  size_t next_ = 0;
  std::vector<uint64_t> ring_;
};

} // namespace tether::actors

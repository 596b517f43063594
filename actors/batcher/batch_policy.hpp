#pragma once

// When a connection's batcher writes a frame. Adaptive, like TCP autocorking:
// while no frame is being written a message goes out at once (no added
// latency); while one is being written, messages coalesce until that write
// completes, for at most `max_delay` (sooner when `max_items`/`max_bytes`
// are reached, at once for priorities at or above `flush_priority`). So
// frames grow exactly when the socket is the bottleneck. A frame holds at
// most `max_items` messages and `max_bytes` of them (a larger message goes
// alone). Write credit bounds the frames in flight. Pure: time is passed in.

#include <chrono>
#include <cstdint>
#include <optional>

#include "protocol/model.hpp"

namespace tether::actors {

struct batch_params {
  /// Messages per frame; one frame per 32 messages cuts syscalls ~30x.
  uint32_t max_items = 32;
  /// Bytes of the messages of one frame (before compression) at most; a
  /// message larger than this goes alone. Stays well under
  /// max_message_bytes.
  uint64_t max_bytes = 64 * 1024;
  /// Longest a message waits for the frame being written; invisible to
  /// people (< 1 frame of a 60 Hz display).
  std::chrono::milliseconds max_delay{10};
  /// Messages at or above this priority flush at once (the original's
  /// priorityThreshold, whose default let only critical bypass).
  protocol::priority flush_priority = protocol::priority::critical;
  /// Frames written but not confirmed; 2 keeps the socket busy while the
  /// next frame is built.
  uint32_t max_frames_in_flight = 2;
  /// Batching off: one message per frame, still bounded by credit.
  bool enabled = true;
};

class batch_policy {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit batch_policy(batch_params params = {}) : params_(params) {}

  /// A message of `bytes` and priority `prio` joined the pending set.
  void add(time_point now, uint64_t bytes, protocol::priority prio);

  struct decision {
    /// Write a frame now with the first `take` pending messages (>= 1,
    /// within max_items and max_bytes).
    bool flush = false;
    uint32_t take = 0;
    /// Otherwise, when to ask again (nullopt: wait for input or credit).
    std::optional<time_point> wake_at;
  };

  /// What to do at `now`; `size_of(i)` is the size of the i-th pending
  /// message, oldest first (the caller holds them): a frame takes messages
  /// while they fit in max_bytes. Each flush must be followed by flushed().
  template <class SizeOf>
  decision decide(time_point now, SizeOf&& size_of) const {
    auto d = decide_flush(now);
    if (d.flush) {
      uint32_t take = 1;
      uint64_t bytes = size_of(0);
      while (take < d.take && bytes + size_of(take) <= params_.max_bytes)
        bytes += size_of(take++);
      d.take = take;
    }
    return d;
  }

  /// A frame with the first `items` pending messages, of `bytes` in all,
  /// was handed to the socket.
  void flushed(time_point now, uint32_t items, uint64_t bytes);

  /// A frame of messages this policy did not hold (the queue wrote one
  /// itself) went to the socket at `now`: in flight as one of its own, so
  /// messages coalesce behind it as behind any other.
  void other_flushed(time_point now) noexcept {
    ++in_flight_;
    last_flush_ = now;
  }

  /// A frame's write completed (credit returned).
  void written() noexcept;

  /// Whether to hold the pending messages until the end of the current
  /// scheduling round instead of writing at once to an idle socket: only
  /// while the node is `loaded` (so frames grow with the load, not with a
  /// timer), and never for a priority at or above flush_priority.
  bool hold_for_round(bool loaded) const noexcept {
    return loaded && params_.enabled && in_flight_ == 0 && pending_ > 0
           && max_prio_ < params_.flush_priority;
  }

  uint32_t pending() const noexcept { return pending_; }

private:
  /// Whether to flush at `now`, with up to max_items (1 unbatched).
  decision decide_flush(time_point now) const;

  batch_params params_;
  uint32_t pending_ = 0;
  uint64_t pending_bytes_ = 0;
  protocol::priority max_prio_ = protocol::priority::low;
  uint32_t in_flight_ = 0;
  std::optional<time_point> last_flush_;
};

} // namespace tether::actors

#pragma once

// The BATCHER actor: one per connection. It pulls deliveries from the
// device's queue (demand-driven, so that its buffer stays bounded), lets its
// batch_policy decide when to write, builds one frame per flush (a message,
// or a BatchMessage of several), compresses it when the device asked for
// app-level compression, and writes it to the session within the write
// credit. Write completions come back as a write_progress counter that it
// and the queue read (the queue retires no-ack messages by it). While it
// holds nothing and the loop is not loaded, the queue writes a message
// itself (write_progress.hpp): the batcher is the path under load.

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/batcher/batch_policy.hpp"
#include "actors/interfaces.hpp"
#include "actors/lazy_deque.hpp"
#include "actors/metrics.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct batcher_params {
  batch_params batch;
  /// Frames at least this large are compressed when the device asked for
  /// it; below it the header and CPU cost more than they save.
  uint64_t compress_threshold = config::batch_settings{}.compress_threshold;
  /// zlib level for app-level compression.
  int compress_level
    = static_cast<int>(config::batch_settings{}.compress_level);
};

struct batcher_state {
  std::weak_ptr<session_port> port;
  protocol::codec codec = protocol::codec::json;
  std::string session_id;
  batcher_params params;
  batch_policy policy;
  /// Batch frames' timestamps: the actor clock as wall time.
  wall_clock clock;
  delivery_source source;
  lazy_deque<queued_delivery> pending;
  /// Batch frames' ids.
  uint64_t next_frame = 1;
  /// Shared with the session's completions and the queue: the count of
  /// messages sent (a frame's tag), the compression in use.
  write_progress_ptr progress;
  /// The write tag of each frame in flight, oldest first (a frame the
  /// queue wrote itself among them: take_direct_frame).
  lazy_deque<uint64_t> frame_ends;
  /// progress->written() when last read.
  uint64_t seen = 0;
  uint64_t flush_generation = 0;
  /// When the pending flush timer fires, if one is pending.
  std::optional<caf::actor_clock::time_point> flush_at;
  /// Holding a frame until the end of the round (the node is loaded).
  bool round_pending = false;
  std::shared_ptr<node_metrics> metrics;

  static inline const char* name = "batcher";
};

/// Spawned with its connection; quits when `owner` (the connection) ends.
batcher_actor::behavior_type
batcher(batcher_actor::stateful_pointer<batcher_state> self,
        const std::shared_ptr<session_port>& port, batcher_params params,
        std::shared_ptr<node_metrics> metrics, write_progress_ptr progress);

} // namespace tether::actors

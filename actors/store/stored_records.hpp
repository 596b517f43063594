#pragma once

// The rows of the durable store as plain structs: what queues and the store
// actor exchange (messages.hpp gives them inspect overloads) without the
// SQLite schema behind them (durable_log.hpp).

#include <cstdint>
#include <string>

namespace tether::actors {

/// One queued message as stored.
struct stored_message {
  std::string user_id;
  std::string device_id;
  /// Per-device enqueue number (the queue's key of the message).
  uint64_t qid = 0;
  uint8_t priority = 1;
  int64_t enqueued_ms = 0;
  int64_t expires_ms = 0;
  bool needs_ack = false;
  std::string msg_id;
  std::string sender_device;
  /// The envelope, msgpack-encoded.
  std::string body;
  bool dead = false;
};

/// A device known to the node (it connected at least once).
struct device_record {
  std::string user_id;
  std::string device_id;
  uint8_t type = 0;
  std::string role;
  /// Identifies this incarnation of the device's queue (resume token).
  std::string epoch;
  /// Highest delivery seq that may have been handed out.
  uint64_t seq_reserved = 0;
  /// Next enqueue number.
  uint64_t next_qid = 1;
  /// Dropped messages not yet reported to the device.
  uint64_t gap_expired = 0;
  uint64_t gap_evicted = 0;
  uint64_t gap_dead = 0;
  int64_t last_seen_ms = 0;
};

struct store_stats {
  uint64_t devices = 0;
  uint64_t queued = 0;
  uint64_t dead = 0;
};

} // namespace tether::actors

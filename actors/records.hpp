#pragma once

// The kernel's value types: what crosses actors (and nodes, and the store's
// thread) as plain structs, with no framework. actors/messages.hpp gives
// them their CAF inspectors. Components include this; it includes no
// component (tools/lint/check_layers.sh).

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/model.hpp"

namespace tether::actors {

// -- the cluster (actors/cluster/membership.hpp keeps the view) --------------

/// The version of what nodes say to each other (the cluster actor's
/// messages). A node refuses a peer of another version.
inline constexpr uint32_t cluster_protocol_version = 6;

/// A node as its peers know it.
struct member_info {
  std::string node_id;
  /// Where its cluster port (CAF's middleman) listens.
  std::string host;
  uint16_t port = 0;
  uint32_t protocol = cluster_protocol_version;
  /// When the node started (wall ms): a restarted node has a newer one.
  int64_t incarnation = 0;
  /// Its store's id (made when its data dir was): a node back with another
  /// one lost what it led (SPEC §14.3).
  std::string store_id;

  std::string address() const { return host + ":" + std::to_string(port); }
};

// -- the store's rows (actors/store/durable_log.hpp has the schema) ----------

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
  /// When the device's last push was sent (wall ms; 0: never).
  int64_t push_last_ms = 0;
  /// The generation of the device's queue on this node (SPEC §14.3): raised
  /// when a follower takes the queue over, carried by handovers.
  uint64_t gen = 0;
};

/// A follower's copy of a device queue another node leads (SPEC §14.3):
/// which queue, the leader's generation and its follower list then.
struct replica_header {
  std::string leader;
  std::string user_id;
  std::string device_id;
  uint8_t type = 0;
  std::string role;
  uint64_t gen = 0;
  /// The leader's followers, in its order (the first live one takes over).
  std::vector<std::string> followers;
  /// The leader's store id: a copy whose leader is back with another store
  /// is an orphan (its leader lost the queue) and is adopted by the node
  /// that keeps it (empty: unknown, from before store ids).
  std::string lineage;
};

/// What a follower's store made of a leader's batch (SPEC §14.3).
enum class replica_outcome : uint8_t {
  stored,
  /// Older than the copy (a newer generation, or fenced): refused, but for
  /// its retirements.
  stale,
  /// The leader is back with another store: the copy here is an orphan,
  /// untouched until this node adopts it.
  orphan,
};

/// What a leader sends a follower of one device queue: new rows, retired
/// ones, or a part of a snapshot (every row with a qid in (after, upto]:
/// those not in `rows` go), or that the follower's copy goes (`drop`: it
/// left the replica set).
struct replica_batch {
  replica_header header;
  std::vector<stored_message> rows;
  std::vector<uint64_t> removed;
  uint64_t after = 0;
  uint64_t upto = 0;
  bool drop = false;
};

/// What the store answers when it registers a device (atom::open): its
/// record, the messages stored for it, and whether this call registered it.
struct registration {
  device_record record;
  std::vector<stored_message> backlog;
  bool fresh = false;
};

struct store_stats {
  uint64_t devices = 0;
  uint64_t queued = 0;
  uint64_t dead = 0;
};

// -- a simulated device's link (actors/ports.hpp: link_port) -----------------

/// The outcome of connecting and upgrading.
struct link_opened {
  bool ok = false;
  /// HTTP status of the upgrade response (101 on success, 0 if none).
  int status = 0;
  std::string subprotocol;
  bool deflate = false;
  /// Retry-After of a 503 in milliseconds, if any.
  int64_t retry_after_ms = 0;
  std::string error;
};

// -- routing (actors/directory/routing.hpp: plan_route) ----------------------

/// One device of a user as routing sees it.
struct device_entry {
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  /// Whether the device's token carries role `extension`.
  bool extension = false;
  bool online = false;
};

// -- the dashboard's summaries (actors/orchestrator/overview.hpp) ------------

/// One device queue as the dashboard shows it (node-local: rendered to
/// JSON on its node).
struct queue_summary {
  std::string user_id;
  std::string device_id;
  /// Queued, never delivered.
  uint32_t waiting = 0;
  /// Delivered, not yet retired.
  uint32_t unacked = 0;
  uint64_t bytes = 0;
  /// Age of the oldest waiting message (0: none waits).
  int64_t oldest_age_ms = 0;
  bool connected = false;
  /// Connected, and its oldest waiting message is older than
  /// queue.slow_after (a slow consumer).
  bool slow = false;
};

/// One room as the dashboard shows it (node-local).
struct room_summary {
  std::string name;
  /// Members in the room's cluster-wide view.
  uint32_t members = 0;
  /// Of them, connected to this node.
  uint32_t local = 0;
};

} // namespace tether::actors

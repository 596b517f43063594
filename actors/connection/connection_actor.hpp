#pragma once

// The CONNECTION actor: one per WebSocket session. It decodes what the device
// sends (inflating app-level compressed frames), applies the inbound guard
// and the identity check, drops resent message ids (the device's dedup
// window), routes messages straight into the recipients' queues with the
// route table its directory shard keeps current (through the shard where a
// queue does not run yet) and room publishes straight to the room (the
// handle from the join's answer), acknowledges them, and forwards the
// device's delivery acks to its queue.
// Deliveries reach the session through the connection's BATCHER, which it
// spawns when its queue first has something to deliver (an idle device has
// none). It never restarts: the device reconnects and resumes (SPEC.md
// §Resume).

#include <chrono>
#include <deque>
#include <functional>
#include <memory>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/batcher/batcher_actor.hpp"
#include "actors/connection/inbound_guard.hpp"
#include "actors/connection/route_gate.hpp"
#include "actors/interfaces.hpp"
#include "actors/lazy_deque.hpp"
#include "actors/metrics.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"
#include "protocol/codec.hpp"

namespace tether::actors {

struct connection_params {
  protocol::limits limits;
  inbound_guard_params guard;
  /// Bound on every request to another actor (routing, joining).
  std::chrono::milliseconds request_timeout
    = config::node_settings{}.request_timeout;
  /// Announced in the welcome message.
  std::chrono::milliseconds ping_interval
    = config::heartbeat_settings{}.ping_interval;
  std::chrono::milliseconds pong_timeout
    = config::heartbeat_settings{}.pong_timeout;
  uint64_t max_message_bytes = config::limits_settings{}.max_message_bytes;
  /// How long to wait for the session to confirm a close before quitting.
  std::chrono::milliseconds close_grace{5000};
  /// Activity is reported to the device's rooms at most this often (a
  /// quarter of presence.away_after, as the node sets it).
  std::chrono::milliseconds activity_interval
    = config::presence_settings{}.presence.away_after / 4;
  /// The batcher's, for the one it spawns.
  batcher_params batcher;
  /// Where the device's push addresses are kept (the node's store).
  store_actor store;
};

struct connection_state {
  std::weak_ptr<session_port> port;
  device_identity me;
  /// The shard of this device's user.
  directory_actor directory;
  /// The user's devices and their queues (from the shard).
  route_table routes;
  /// The device's recent message ids.
  std::shared_ptr<device_dedup> dedup;
  /// The device's queue, once joined.
  queue_actor queue;
  /// The device's app said it is in the background (tether.lifecycle).
  bool background = false;
  /// The rooms the device publishes to, by name: from its joins' answers,
  /// or asked of the shard at the first publish (a room joined by an
  /// earlier connection, the user's own room). A few per device.
  std::vector<std::pair<std::string, room_actor>> rooms;
  /// Spawned when the queue first has something to deliver.
  batcher_actor batcher;
  /// The batcher's write credit, shared with the session and the queue.
  write_progress_ptr progress;
  /// What the session reports (frames, writes, the close) goes through it.
  std::shared_ptr<session_events> events;
  /// App-level compression the device chose (0: off, 1: deflate, 2: gzip),
  /// kept for the write_progress of a batcher spawned later.
  uint8_t compress = 0;
  /// Whether permessage-deflate is on (app-level compression is then off).
  bool deflate = false;
  /// Shared by the node's connections.
  std::shared_ptr<const connection_params> params;
  inbound_guard guard{inbound_guard_params{}};
  caf::actor_clock::time_point activity_reported;
  std::shared_ptr<node_metrics> metrics;
  /// Timestamps on the wire and the token's expiry: the actor clock as
  /// wall time.
  wall_clock clock;
  bool closing = false;

  /// The order of this device's requests across paths (SPEC §5.5).
  route_gate gate;

  static inline const char* name = "connection";
};

/// Spawned by the orchestrator for an upgraded session.
connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           const std::shared_ptr<session_port>& port, directory_actor directory,
           std::shared_ptr<const connection_params> params,
           std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

#pragma once

// The ORCHESTRATOR actor: spawns and monitors the node's actors.
//
//   orchestrator
//   |- store       permanent; detached; its failure stops the node
//   |- directory*  permanent shards (directory.shards); restarted together
//   |              with backoff within a budget
//   |- queue*      one per device, spawned on demand, transient
//   |- room*       one per room with members, spawned on demand, transient
//   |              (the directory shard of its name registers it)
//   |- connection* one per session, temporary (the device reconnects)
//   |  `- batcher  spawned by its connection on first delivery, linked
//   `- peer link*  one per cluster address the cluster actor asked for;
//                  restarted with backoff (a reconnect), without a budget:
//                  a peer may stay away for long`
//
// When a directory shard fails, every connection is closed with 1011 and every
// queue is stopped (their registrations died with it; queues reload from the
// store), then the directory is respawned after backoff_policy's delay while
// restart_budget allows; past the budget the orchestrator fails, and with it
// the node (escalation).

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cluster/peer_link_actor.hpp"
#include "actors/cluster/replica_actor.hpp"
#include "actors/connection/connection_actor.hpp"
#include "actors/directory/directory_actor.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/orchestrator/backoff_policy.hpp"
#include "actors/orchestrator/restart_budget.hpp"
#include "actors/push/pusher_actor.hpp"
#include "actors/queue/queue_actor.hpp"
#include "actors/room/room_actor.hpp"
#include "actors/store/durable_log.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"

namespace tether::actors {

/// A drain's pace (SPEC §12): a slot of `drain_slot` at a time, the first
/// at once, each closing this many of `n` connections: `rate` per second,
/// or more to be done within `window` (0: all at once).
inline constexpr std::chrono::milliseconds drain_slot{100};
size_t drain_per_slot(size_t n, std::chrono::milliseconds window,
                      uint32_t rate);

/// How long a drain of `n` connections takes at that pace.
std::chrono::milliseconds
drain_duration(size_t n, std::chrono::milliseconds window, uint32_t rate);

struct orchestrator_params {
  /// Its batcher's among them.
  connection_params connection;
  queue_actor_params queue;
  room_params room;
  directory_params directory;
  backoff_params backoff;
  restart_budget_params budget;
  /// How long a graceful stop waits for connections to close.
  std::chrono::milliseconds stop_timeout = config::node_settings{}.stop_timeout;
  /// The opened store; the orchestrator's store actor owns it.
  std::shared_ptr<durable_log> log;
  /// Spawn the store detached (its own thread); off in deterministic tests.
  bool detached_store = true;
  store_params store;
  /// This node's cluster actor (empty on a single node); the orchestrator
  /// gives it to the directory shards and rooms it spawns.
  cluster_actor cluster;
  /// What its peer links say, how they dial and through what (cluster).
  peer_link_params peer;
  /// Replicated queues (with a cluster, factor above 1: a replica actor in
  /// front of the store for queues and connections).
  replica_params replica;
  /// How long the overview waits for each queue and room to answer.
  std::chrono::milliseconds overview_timeout{1000};
  /// The node's client of the push providers (null: no pushes are sent;
  /// addresses are still kept) and the pusher's settings.
  std::shared_ptr<push_transport> pushes;
  pusher_params pusher;
};

/// A child that is respawned when it fails.
struct permanent_child {
  uint64_t generation = 0;
  uint32_t attempts = 0;
  caf::actor_clock::time_point started;
  restart_budget budget;
};

/// A peer link kept to one cluster address.
struct peer_child {
  std::string host;
  uint16_t port = 0;
  peer_link_actor link;
  /// Its restarts (the budget unused: a peer may stay away for long).
  permanent_child restarts;
};

struct orchestrator_state {
  orchestrator_params params;
  std::shared_ptr<node_metrics> metrics;
  store_actor store;
  /// What queues and connections write through: the replica actor (SPEC
  /// §14.3), or the store itself.
  replica_actor replica;
  store_actor queue_store;
  /// The directory shards; a user's is shards[shard_of(user, size)].
  std::vector<directory_actor> shards;
  permanent_child directory_child;
  struct connection_child {
    connection_actor handle;
    /// When its token expires (epoch ms; 0: expired at open, no timer).
    int64_t expires_ms = 0;
  };
  std::unordered_map<caf::actor_addr, connection_child> connections;
  /// params.connection, shared by every connection.
  std::shared_ptr<const connection_params> shared_connection_params;
  /// The connections' expiries, earliest first, and one timer for them all:
  /// a delayed message per connection kept each closed connection in CAF's
  /// clock, strongly referenced, until its token would have expired.
  std::set<std::pair<int64_t, caf::actor_addr>> expiries;
  std::optional<int64_t> expiry_timer_ms;
  uint64_t expiry_generation = 0;
  wall_clock clock;
  std::unordered_map<caf::actor_addr, queue_actor> queues;
  /// Running rooms (their names are registered by the directory shards).
  std::unordered_map<caf::actor_addr, room_actor> rooms;
  /// Peer links by cluster address (host:port), and the address of each.
  std::unordered_map<std::string, peer_child> peers;
  std::unordered_map<caf::actor_addr, std::string> peer_addrs;
  /// Set by stop; new sessions are turned away from then on.
  bool stopping = false;
  /// Answered once the last connection is gone.
  std::optional<caf::typed_response_promise<atom::ok>> stop_promise;
  /// Draining: the connections still to be told (closed a slot at a time,
  /// `drain_per_slot` each), and who waits for the last to go.
  bool draining = false;
  std::vector<connection_actor> drain_queue;
  size_t drain_per_slot = 0;
  std::vector<caf::typed_response_promise<atom::ok>> drain_promises;
  std::minstd_rand rng{std::random_device{}()};
  /// Waiting for the overview being gathered (empty: none is).
  std::vector<caf::typed_response_promise<std::string>> overview_waiters;

  orchestrator_state() = default;
  orchestrator_state(const orchestrator_state&) = delete;
  orchestrator_state& operator=(const orchestrator_state&) = delete;

  /// Ends the children still held: monitors do not propagate an exit, and
  /// an orchestrator that is killed or throws never runs its exit handler
  /// (CAF destroys the state whatever ended the actor). Connections then
  /// close their sessions with 1011.
  ~orchestrator_state();

  static inline const char* name = "orchestrator";
};

orchestrator_actor::behavior_type
orchestrator(orchestrator_actor::stateful_pointer<orchestrator_state> self,
             orchestrator_params params, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

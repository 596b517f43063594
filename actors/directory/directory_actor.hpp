#pragma once

// A DIRECTORY shard: the users whose id hashes to it (shard_of), each with
// its known devices (loaded from the store on first use), their connections,
// queues, room memberships and dedup windows. It is not on the path of a
// routed message: connections route to queues from the route table the
// shard gives them at join and updates whenever a device, connection or
// queue of the user changes. Through the shard go what needs it: a message
// for a device whose queue does not run (the shard starts it), room joins
// (the join rules; which rooms each device is in), presence changes. It
// also registers the rooms whose names hash to it (directory_rooms.cpp).
// A user being loaded
// waits alone: the shard keeps serving others. Users idle for
// `idle_user_ttl` (no connection, no running queue) are forgotten; they
// reload from the store on next use.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/directory/routing.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/room/room_rules.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct directory_params {
  /// Directory shards of a node; more spread the work over CAF's threads.
  uint32_t shards = config::directory_settings{}.shards;
  /// A resent message id (same sender device) within this window is
  /// acknowledged again but not delivered twice.
  std::chrono::milliseconds dedup_window
    = config::queue_settings{}.dedup_window;
  /// Remembered message ids per sender device; bounds the dedup memory.
  size_t dedup_capacity = config::queue_settings{}.dedup_capacity;
  std::chrono::milliseconds request_timeout
    = config::node_settings{}.request_timeout;
  /// The queues' (queue_actor_params::seq_block): a new device's record
  /// reserves its first seqs.
  uint64_t seq_block = 4096;
  /// A user with no connection and no running queue is forgotten after
  /// this; as long as the dedup window, so that resends stay duplicates.
  std::chrono::milliseconds idle_user_ttl
    = config::directory_settings{}.idle_user_ttl;
  /// Users one shard holds at most; past it the longest idle go first.
  size_t max_users = config::directory_settings{}.max_users;
  /// Who may join rooms: the rooms' rules (room_params::rules), given by
  /// the orchestrator.
  std::vector<room_rule> room_rules;
  /// Rooms one device may be in at once (its own user room included).
  uint32_t max_rooms = config::presence_settings{}.max_rooms;
  /// This node's cluster actor (empty on a single node).
  cluster_actor cluster;
};

struct device_slot {
  device_identity id;
  /// Valid while the device is connected.
  connection_actor conn;
  /// Valid while its queue actor runs.
  queue_actor queue;
  /// The queue being released (routes go around it; work for it waits).
  queue_actor releasing;
  /// The record of the released queue (or of one not started yet: an idle
  /// device has none), for its next start.
  std::unique_ptr<queue_record> record;
  /// Its record is being read from the store (work for its queue waits).
  bool opening = false;
  /// Waiting for the queue being started (in arrival order).
  std::vector<std::function<void(queue_actor)>> queue_waiting;
  /// Rooms the device is a member of, with their actors.
  std::unordered_map<std::string, room_actor> rooms;
  /// Created at the device's first connection; shared with its connections.
  std::shared_ptr<device_dedup> dedup;
  /// The device's last declared presence (tether.presence.set), for the
  /// rooms it joins later (most devices declare none: boxed).
  std::unique_ptr<presence_update> status;
};

struct user_slot {
  bool loaded = false;
  /// Work for this user that waits for its devices to load (bounded by its
  /// connections' joins: nothing else reaches a user before that).
  std::vector<std::function<void(user_slot&)>> waiting;
  std::vector<device_slot> devices;
  /// The table last given to the user's connections.
  route_table routes;
  /// Whether the user's own presence room runs: started once a device of
  /// the user joins it or asks for its presence, then every connected
  /// device of the user is in it. Until then nobody can watch it, so an
  /// idle user costs no room.
  bool presence_room = false;
  /// When the user last had no connection and no running queue (-1: busy).
  int64_t idle_since_ms = -1;
  /// The user's devices connected to other nodes (a cluster).
  std::vector<remote_route> remote;
};

struct directory_state {
  directory_params params;
  orchestrator_actor orchestrator;
  store_actor store;
  std::shared_ptr<node_metrics> metrics;
  std::unordered_map<std::string, user_slot> users;
  /// users.size() as the metrics know it (outlives the state at exit).
  std::shared_ptr<int64_t> held = std::make_shared<int64_t>(0);
  /// Monitored connection or queue -> (user, device).
  std::unordered_map<caf::actor_addr, std::pair<std::string, std::string>>
    by_addr;
  /// The node's shards (this one too): a room's name is registered at
  /// (*shards)[shard_of(name)], users and rooms sharded independently.
  std::shared_ptr<const std::vector<directory_actor>> shards;
  /// The registry of the rooms whose names this shard owns: the running
  /// room, or the joins waiting for the orchestrator to spawn it.
  struct room_entry {
    room_actor room;
    std::vector<caf::typed_response_promise<room_actor>> waiting;
  };
  std::unordered_map<std::string, room_entry> rooms;
  /// Monitored room -> its name.
  std::unordered_map<caf::actor_addr, std::string> room_names;

  static inline const char* name = "directory";
};

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self,
          orchestrator_actor orchestrator, store_actor store,
          directory_params params, std::shared_ptr<node_metrics> metrics,
          std::shared_ptr<const std::vector<directory_actor>> shards);

} // namespace tether::actors

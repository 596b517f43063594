#pragma once

// The ROOM actor: one per room that has members, spawned by the orchestrator
// for the directory shard that registers the room's name. It owns the
// room's membership: applies its presence_set's decisions, batches presence
// changes into one diff per `diff_interval` (the latest change per member
// wins) for the members that asked for presence, and takes its members'
// publishes straight from their connections (membership and the publish
// rules checked here), encoded once per codec into every member's queue
// and relayed to the room's other nodes. A large room's members on another
// event loop get a publish from a fan-out actor on that loop (one message
// from the room per loop), so that each loop serves its own members.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/room/cluster_presence.hpp"
#include "actors/room/member_lists.hpp"
#include "actors/room/presence_set.hpp"
#include "actors/room/room_rules.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct room_params {
  presence_params presence;
  /// Presence diffs are sent at most this often per room; changes in
  /// between are coalesced (a member's latest state wins).
  std::chrono::milliseconds diff_interval
    = config::presence_settings{}.diff_interval;
  /// Largest snapshot page.
  uint32_t max_page_size = config::presence_settings{}.max_page_size;
  /// Who may join and publish to non-private rooms (room_rules.hpp); config
  /// presence.rules, whose default is this. The directory checks joins
  /// with them, the room publishes.
  std::vector<room_rule> rules = config::presence_settings{}.rules;
  /// This node's cluster actor (empty on a single node).
  cluster_actor cluster;
};

struct room_state {
  std::string room_name;
  room_params params;
  /// The node's directory shards (a member's is shard_of(user)).
  std::vector<directory_actor> shards;
  std::shared_ptr<node_metrics> metrics;
  presence_set presence;
  /// What every member sees: this node's members and, in a cluster, those
  /// of the room on the other nodes.
  cluster_presence view;
  /// This node's changes not yet told to the room's other nodes.
  std::vector<presence_row> outbox;
  /// Where each member's messages go, in which codec, by the loop of the
  /// member's queue.
  member_lists<queue_actor> members;
  /// The fan-outs on other loops, by group of `members` (spawned when a
  /// loop has many members).
  std::vector<fanout_actor> fanouts;
  /// Changes not yet sent, latest per member.
  std::map<member_key, protocol::presence_entry> pending;
  bool diff_scheduled = false;
  int64_t last_diff_ms = 0;
  uint64_t tick_generation = 0;
  std::optional<int64_t> tick_at_ms;
  wall_clock clock;

  static inline const char* name = "room";
};

room_actor::behavior_type
room(room_actor::stateful_pointer<room_state> self, std::string name,
     std::vector<directory_actor> shards, room_params params,
     std::shared_ptr<node_metrics> metrics,
     test_clock_skew_ptr test_clock_skew);

} // namespace tether::actors

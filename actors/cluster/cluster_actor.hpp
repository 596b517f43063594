#pragma once

// The CLUSTER actor: this node's membership view (membership.hpp) as an
// actor. It asks the orchestrator for a peer link to every seed and every
// member it learns of, answers other nodes' hellos, logs each member change
// once, and publishes the view for /healthz and /metrics. Other nodes
// cannot reach it: their messages come through the GATE with the id of the
// node they came from, and are checked against what that node may say
// (peer_rules.hpp); this node's go out through its PEER LINKs.
//
// Routing across nodes: every user has a home node (rendezvous placement
// of user_key over the live members). Each node tells a user's home which
// of the user's devices connect to it and leave (their queues stay), and
// which devices it holds stored messages for after a restart; the home's
// device_registry decides where each device is and tells every node with a
// device of the user, and their directory shards put the others in the
// user's route table. A connection then forwards a message for a device on
// another node to that node's cluster actor, which hands it to its shard
// (the device's queue there). A node told that a device it holds a queue
// of is elsewhere now hands that queue over. The registry is soft state:
// when the members change, every node tells the new homes again.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster/device_registry.hpp"
#include "actors/cluster/membership.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"
#include "protocol/codec.hpp"

namespace tether::actors {

struct cluster_params {
  member_info self;
  /// host, port of each seed (one reachable seed is enough).
  std::vector<std::pair<std::string, uint16_t>> seeds;
  std::shared_ptr<cluster_board> board;
  /// How often this node pings its peers (cluster.heartbeat_interval):
  /// the grain of the detection time in /metrics.
  std::chrono::milliseconds heartbeat_interval
    = config::cluster_settings{}.heartbeat_interval;
  /// Bounds a relay to another node (node.request_timeout).
  std::chrono::milliseconds request_timeout
    = config::node_settings{}.request_timeout;
  /// What a forwarded message may hold (the node's limits.*: the nodes of
  /// a cluster are configured alike).
  protocol::limits limits;
};

struct cluster_state {
  cluster_params params;
  /// Given by atom::start (it is spawned after this actor).
  orchestrator_actor orchestrator;
  /// This node's replica actor (SPEC §14.3; none: replication factor 1).
  replica_actor replica;
  std::shared_ptr<node_metrics> metrics;
  membership view{member_info{}};
  /// The address of the link each linked member came up on.
  std::map<std::string, std::string> link_of;
  /// The link to each linked member.
  std::map<std::string, peer_link_actor> peers;
  /// When each linked member was heard from last (epoch ms).
  std::map<std::string, int64_t> last_heard;
  /// The live ids placement used last (a change re-homes users).
  std::vector<std::string> live;
  /// Devices whose queue is on this node (connected here, or were last),
  /// by user: what their homes were told.
  std::unordered_map<std::string, std::map<std::string, remote_device>> local;
  /// Users homed here (placement of user_key): where their devices are.
  device_registry homed;
  /// Users whose routes are for a node not linked from here yet (its own
  /// link may be up first): given once this node's link to it is.
  std::map<std::string, std::set<std::string>> unsent;
  /// The routes each user's home gave this node last: when a home dies
  /// with a node, what they say of devices on dead nodes goes to the new
  /// home (senders then learn those devices are unavailable).
  std::unordered_map<std::string, std::vector<remote_device>> heard;
  wall_clock clock;

  static inline const char* name = "cluster";
};

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_params params, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

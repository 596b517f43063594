#pragma once

// The CLUSTER actor: this node's membership view (membership.hpp) as an
// actor. It asks the orchestrator for a peer link to every seed and every
// member it learns of, answers other nodes' hellos, logs each member change
// once, and publishes the view for /healthz and /metrics.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster/membership.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/wall_clock.hpp"

namespace tether::actors {

struct cluster_params {
  member_info self;
  /// host, port of each seed (one reachable seed is enough).
  std::vector<std::pair<std::string, uint16_t>> seeds;
  orchestrator_actor orchestrator;
  std::shared_ptr<cluster_board> board;
};

struct cluster_state {
  cluster_params params;
  std::shared_ptr<node_metrics> metrics;
  membership view{member_info{}};
  /// The address of the link each linked member came up on.
  std::map<std::string, std::string> link_of;
  wall_clock clock;

  static inline const char* name = "cluster";
};

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_params params, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

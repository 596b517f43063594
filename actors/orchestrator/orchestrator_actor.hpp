#pragma once

// The ORCHESTRATOR actor: spawns and monitors the node's actors. Connections
// are temporary children (never restarted: the device reconnects). The
// directory is a permanent child: when it fails, every connection is closed
// with 1011 (their registrations died with it) and the directory is respawned
// after backoff_policy, within restart_budget; past the budget the
// orchestrator fails, and with it the node (escalation).

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/connection/connection_actor.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/orchestrator/backoff_policy.hpp"
#include "actors/orchestrator/restart_budget.hpp"

namespace tether::actors {

struct orchestrator_params {
  connection_params connection;
  backoff_params backoff;
  restart_budget_params budget;
  /// How long a graceful stop waits for connections to close.
  std::chrono::milliseconds stop_timeout{5000};
};

/// A child that is respawned when it fails.
struct permanent_child {
  uint64_t generation = 0;
  uint32_t attempts = 0;
  caf::actor_clock::time_point started;
  restart_budget budget;
};

struct orchestrator_state {
  orchestrator_params params;
  std::shared_ptr<node_metrics> metrics;
  directory_actor directory;
  permanent_child directory_child;
  std::unordered_map<caf::actor_addr, connection_actor> connections;
  /// Set by stop; new sessions are turned away from then on.
  bool stopping = false;
  /// Answered once the last connection is gone.
  std::optional<caf::typed_response_promise<atom::ok>> stop_promise;
  std::minstd_rand rng{std::random_device{}()};

  static inline const char* name = "orchestrator";
};

orchestrator_actor::behavior_type
orchestrator(orchestrator_actor::stateful_pointer<orchestrator_state> self,
             orchestrator_params params, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

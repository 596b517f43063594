#pragma once

// FLEET: the supervisor of the simulated devices of `tether devices` and
// `tether bench`. It starts the devices (paced), monitors them, and when a
// device's link ends restarts it — a new DEVICE actor with the same
// device_memory, so it resumes — after the delay its reconnect_policy
// decides (exponential backoff with full jitter, Retry-After honoured,
// terminal close codes never retried, a restart budget against loops).

#include <chrono>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/device/device_actor.hpp"
#include "actors/device/reconnect_policy.hpp"
#include "actors/orchestrator/restart_budget.hpp"

namespace tether::actors {

struct fleet_plan {
  std::vector<device_spec> devices;
  device_params params;
  /// One per device, same order; read by the caller once the fleet stopped.
  std::vector<std::shared_ptr<device_memory>> memories;
  std::shared_ptr<fleet_counters> counters;
  link_factory connect;
  /// How a device reconnects (backoff, and when a link counts as
  /// established).
  reconnect_params reconnect;
  /// Restarts allowed per device and period before it gives up.
  restart_budget_params budget{120, std::chrono::seconds{60}};
  /// Devices started per second (0: all at once).
  double start_rate = 0;
  uint32_t seed = 1;

  /// Fills `memories` (one fresh memory per device).
  void make_memories();
};

struct fleet_state {
  struct slot {
    device_actor handle;
    reconnect_policy policy;
    restart_budget budget;
    std::chrono::steady_clock::time_point started;
    /// Bumped whenever a pending restart must not happen any more.
    uint64_t generation = 0;
    bool live = false;
    /// A restart is pending; not before this (the server's Retry-After).
    bool waiting = false;
    std::chrono::steady_clock::time_point not_before;
  };

  std::shared_ptr<fleet_plan> plan;
  std::vector<slot> slots;
  std::unordered_map<caf::actor_addr, uint32_t> by_addr;
  size_t next_start = 0;
  size_t live = 0;
  bool stopping = false;
  std::vector<caf::typed_response_promise<atom::ok>> stop_promises;
  /// The run drains: restarts happen at once (Retry-After still holds).
  bool draining = false;
  std::minstd_rand rng;

  static inline const char* name = "fleet";
};

fleet_actor::behavior_type
fleet(fleet_actor::stateful_pointer<fleet_state> self,
      std::shared_ptr<fleet_plan> plan);

} // namespace tether::actors

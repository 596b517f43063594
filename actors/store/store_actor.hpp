#pragma once

// The STORE actor: owns the durable_log and is spawned detached (its disk
// waits never block a scheduler thread). Group commit: a write request only
// records its operation; a flush message sent to itself behind the requests
// already in the mailbox commits them all in one transaction, and only then
// are they answered. A reply to `append` therefore means "on disk".

#include <functional>
#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/store/durable_log.hpp"

namespace tether::actors {

struct store_state {
  std::shared_ptr<durable_log> log;
  std::shared_ptr<node_metrics> metrics;
  /// Operations of the open transaction, applied at flush.
  std::vector<std::function<void(durable_log&)>> ops;
  /// Called after the commit with its outcome (empty string: success).
  std::vector<std::function<void(const std::string& error)>> done;
  bool flush_scheduled = false;

  static inline const char* name = "store";
};

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<durable_log> log, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

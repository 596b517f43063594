#pragma once

// The STORE actor: owns the durable_log and is spawned detached (its disk
// waits never block a scheduler thread). Group commit: a write request is
// applied at once inside an open transaction; a flush message sent to itself
// behind the requests already in the mailbox commits them all (one fsync),
// and only then are they answered. A reply to `append` therefore means "on
// disk". Reads run on the same connection and see the open transaction, so
// they never wait for a commit.

#include <functional>
#include <memory>
#include <string>
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
  /// Whether a transaction is open (writes since the last commit).
  bool in_tx = false;
  /// Writes applied in the open transaction.
  size_t tx_ops = 0;
  /// The first failure in the open transaction: it will be rolled back.
  std::string tx_error;
  /// Called after the commit with its outcome (empty string: success).
  std::vector<std::function<void(const std::string& error)>> done;
  bool flush_scheduled = false;

  static inline const char* name = "store";
};

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<durable_log> log, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

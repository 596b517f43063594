#pragma once

// The STORE actor: owns the durable_log and is spawned detached (its disk
// waits never block a scheduler thread). Group commit: a write request is
// applied at once inside an open transaction; a flush message sent to itself
// behind the requests already in the mailbox commits them all (one fsync),
// and only then are they answered. A reply to `append` therefore means "on
// disk". Reads run on the same connection and see the open transaction, so
// they never wait for a commit. Its thread runs as a batch thread (SCHED_BATCH,
// store_actor.cpp): it does not preempt the event loops when woken.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/store/durable_log.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct store_params {
  /// How long dead letters are kept before they are purged (0: forever).
  std::chrono::milliseconds dead_letter_retention
    = config::store_settings{}.dead_letter_retention;
  /// TEST SEAM (wall_clock.hpp): zero or null in production.
  test_clock_skew_ptr test_clock_skew;
};

struct store_state {
  store_params params;
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
  /// Burial and purge times: the actor clock as wall time.
  wall_clock clock;

  static inline const char* name = "store";
};

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<durable_log> log, std::shared_ptr<node_metrics> metrics,
      store_params params);

/// How often dead letters are purged: a tenth of the retention, between a
/// second and an hour.
std::chrono::milliseconds purge_interval(std::chrono::milliseconds retention);

} // namespace tether::actors

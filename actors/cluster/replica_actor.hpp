#pragma once

// The REPLICA actor (SPEC §14.3): with cluster.replication_factor R above
// 1, the STORE as this node's queues and connections see it. It passes
// every request on to the store; for a device queue led here (this node
// holds it) it also sends each durable row and each retirement to the
// queue's followers (replication.hpp: the R - 1 live members after this
// node by placement), and answers an append once a majority of the R
// copies is on disk. As a follower it keeps the copies other leaders send
// (checked by the cluster actor). When a leader is gone and this node is
// the first live follower of the leader's list, it gathers what the other
// live followers hold that it lacks, takes the queue over under the next
// generation and hands the copy to the device's queue here (through the
// cluster actor: the queue is held here now). A copy whose leader is back
// with another store (its data dir lost) is an orphan, adopted the same way.
// When the members change, it repairs the replica sets of the queues led
// here: snapshots to new followers, drops to those that left, a few
// devices at a time.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct replica_params {
  /// This node's id.
  std::string self;
  /// This node's store id (the lineage its copies carry).
  std::string lineage;
  /// cluster.replication_factor (above 1).
  size_t factor = 2;
  /// How long a follower may take to answer (node.request_timeout).
  std::chrono::milliseconds timeout = config::node_settings{}.request_timeout;
  /// Devices whose replica sets a repair round checks, and the pause
  /// between rounds (the repair's bounded rate).
  size_t repair_batch = 32;
  std::chrono::milliseconds repair_pause{20};
  /// How long members must stay unchanged before a repair starts (a node
  /// that starts sees its links come up one by one).
  std::chrono::milliseconds repair_delay{300};
};

struct replica_state {
  replica_params params;
  store_actor store;
  cluster_actor cluster;
  std::shared_ptr<node_metrics> metrics;
  /// The members and links the cluster actor gave last (this node alone
  /// until it does).
  links_ptr links;
  /// The live members the last repair was computed for (the followers
  /// each queue had then).
  std::vector<std::string> repaired_for;
  /// What a copy's header says of a device led here: type, role,
  /// generation (from the store's answers), by device_key.
  struct device_info {
    uint8_t type = 0;
    std::string role;
    uint64_t gen = 0;
  };
  std::unordered_map<std::string, device_info> devices;
  /// Followers a batch failed to reach, by device (user, device): they get
  /// a snapshot in the next repair.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> dirty;
  /// The misses the pass under way repairs.
  std::map<std::pair<std::string, std::string>, std::set<std::string>>
    repairing_dirty;
  /// The repair under way: the devices still to check, and a counter that
  /// ends a pass superseded by a newer change.
  std::deque<device_record> to_repair;
  std::vector<std::string> repair_old_live;
  uint64_t repair_pass = 0;
  bool repair_running = false;
  /// Leaders gone whose queues could not be taken over for want of copies
  /// (tried again when the members change).
  std::set<std::string> unresolved;
  /// The store id each member was last seen with.
  std::map<std::string, std::string> stores_seen;
  /// Orphan copies being adopted (leader, user, device), and what runs
  /// once they are.
  std::map<std::tuple<std::string, std::string, std::string>,
           std::vector<std::function<void()>>>
    adopting;

  static inline const char* name = "replica";
};

replica_actor::behavior_type
replica(replica_actor::stateful_pointer<replica_state> self, store_actor store,
        cluster_actor cluster, std::shared_ptr<node_metrics> metrics,
        replica_params params);

} // namespace tether::actors

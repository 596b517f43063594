#pragma once

// The DIRECTORY actor: the devices of every user on this node (known from
// the store, connected or not) with their connections and queues. It
// resolves a routed message with the pure routing rules, suppresses a
// resent message id within the dedup window, and fans the message into the
// recipients' queues, answering once every queue accepted it (durable
// messages: once on disk). It also keeps the room registry and each
// device's memberships: it checks the room rules, joins devices to rooms
// (every device to its user's presence room), tells rooms when a device's
// connection ends or returns, and routes room publishes.

#include <chrono>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/directory/room_rules.hpp"
#include "actors/directory/routing.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"

namespace tether::actors {

struct directory_params {
  /// A resent message id (same sender device) within this window is
  /// acknowledged again but not delivered twice.
  std::chrono::milliseconds dedup_window{600000};
  /// Remembered message ids; bounds the dedup memory of the node.
  size_t dedup_capacity = 200000;
  std::chrono::milliseconds request_timeout{5000};
  /// Who may join and publish to non-private rooms (room_rules.hpp);
  /// config presence.rules, whose default is this.
  std::vector<room_rule> room_rules{{room_action::join, "*", ""},
                                    {room_action::publish, "*", ""}};
};

struct device_slot {
  device_identity id;
  /// Valid while the device is connected.
  connection_actor conn;
  /// Valid while its queue actor runs.
  queue_actor queue;
  /// Rooms the device is a member of.
  std::set<std::string> rooms;
};

struct user_slot {
  std::vector<device_slot> devices;
};

struct dedup_entry {
  int64_t seen_ms = 0;
  uint32_t recipients = 0;
};

struct directory_state {
  directory_params params;
  orchestrator_actor orchestrator;
  store_actor store;
  std::shared_ptr<node_metrics> metrics;
  /// user id -> known devices (loaded from the store on first use).
  std::unordered_map<std::string, user_slot> users;
  /// user \0 sender device \0 message id -> first acceptance.
  std::unordered_map<std::string, dedup_entry> seen;
  std::deque<std::pair<int64_t, std::string>> seen_order;
  /// Rooms with members on this node.
  std::unordered_map<std::string, room_actor> rooms;
  /// Monitored connection or queue -> (user, device).
  std::unordered_map<caf::actor_addr, std::pair<std::string, std::string>>
    by_addr;

  static inline const char* name = "directory";
};

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self,
          orchestrator_actor orchestrator, store_actor store,
          directory_params params, std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

#pragma once

// Where a user's devices are, as the user's home node keeps it: for each
// device the node holding its queue (where it is connected, or was last)
// and whether it is connected there. Nodes report in any order; of two
// nodes claiming a device, one where it is connected beats one holding its
// queue without, and of two alike the later one (since_ms) wins, so a
// delayed report of an older connection never moves a device back. Pure.
//
// Of two nodes holding a device's queue without a connection, the newer
// generation wins (SPEC §14.3: a follower that took the queue over beats
// the old leader that comes back with its copy). The registry keeps the
// newest generation heard of for each device, whoever holds it.
//
// A node whose report loses (it holds a queue of a device that is now
// elsewhere) is told where the device is, with that generation: it hands
// that queue over, or drops it if its own is older.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"

namespace tether::actors {

class device_registry {
public:
  /// Node `r.node_id` says the device is connected there (r.connected) or
  /// that its queue is there. Returns the nodes to give the user's routes.
  std::set<std::string> report(const remote_device& r);

  /// The nodes for which `alive` is false are down: their devices are not
  /// connected any more (their queues stay there). Returns the users whose
  /// devices changed.
  std::vector<std::string>
  nodes_down(const std::function<bool(const std::string&)>& alive);

  /// Where the user's devices are, by device id (null if none known).
  const std::map<std::string, remote_device>*
  find(const std::string& user) const;

  /// The nodes holding a device of the user.
  std::set<std::string> nodes_of(const std::string& user) const;

  /// What `node` routes to elsewhere: the user's devices held by others.
  std::vector<remote_device> routes_for(const std::string& user,
                                        const std::string& node) const;

  /// The user is homed elsewhere now.
  void forget(const std::string& user) { users_.erase(user); }

  /// Users known, for re-homing.
  std::vector<std::string> users() const;

  size_t size() const noexcept { return users_.size(); }

private:
  std::unordered_map<std::string, std::map<std::string, remote_device>> users_;
};

} // namespace tether::actors

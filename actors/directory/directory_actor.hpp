#pragma once

// The DIRECTORY actor: the live devices of every user on this node. It
// resolves a routed message with the pure routing rules, encodes it once per
// codec its recipients speak and hands it to their connections.

#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/directory/routing.hpp"
#include "actors/interfaces.hpp"

namespace tether::actors {

struct live_device {
  device_identity id;
  /// Invalid while the device is offline.
  connection_actor conn;
};

struct directory_state {
  /// user id -> the user's devices seen since start (a handful each);
  /// connected ones have a connection handle.
  std::unordered_map<std::string, std::vector<live_device>> users;

  static inline const char* name = "directory";
};

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self);

} // namespace tether::actors

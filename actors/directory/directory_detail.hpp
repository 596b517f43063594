#pragma once

// Internal to the directory shard (directory_actor.cpp: users, devices,
// queues and routes; directory_rooms.cpp: rooms): what both halves use.

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <caf/expected.hpp>

#include "actors/directory/directory_actor.hpp"

namespace tether::actors::directory_detail {

using self_ptr = directory_actor::stateful_pointer<directory_state>;

/// A joining device whose user's load registers it (directory_actor.cpp).
struct join_load;

device_slot* find_device(user_slot& u, const std::string& device);

device_slot* find_device(self_ptr self, const std::string& user,
                         const std::string& device);

/// Runs `f` with the user's slot once its known devices are loaded; while
/// they load, the shard serves everyone else. A join that starts the load
/// gets its device registered with it (`opening`).
void with_user(self_ptr self, const std::string& user,
               std::function<void(user_slot&)> f,
               const std::shared_ptr<join_load>& opening = nullptr);

/// Runs `f` with the device's queue, asking the orchestrator to start it
/// first if it does not run. Calls for one device run in arrival order.
void with_queue(self_ptr self, const std::string& user,
                const std::string& device, std::function<void(queue_actor)> f);

// -- rooms (directory_rooms.cpp) ---------------------------------------------

/// What a join gives: the member count and the room.
using joined_room = caf::expected<std::pair<uint32_t, room_actor>>;

/// Puts the device into its user's presence room (without asking for
/// presence diffs).
void join_user_room(self_ptr self, const device_identity& id,
                    std::function<void(joined_room)> done = nullptr);

/// The handlers of the rooms' messages, one each.
caf::result<uint32_t, room_actor> join(self_ptr self, const device_identity& id,
                                       const room_ask& ask);
caf::result<room_actor> room_of(self_ptr self, const device_identity& id,
                                const std::string& name);
caf::result<room_actor> registered(self_ptr self, const std::string& name);
room_actor running(self_ptr self, const std::string& name);
void leave(self_ptr self, const device_identity& id, const std::string& name);
caf::result<atom::ok> presence_page(self_ptr self, const device_identity& id,
                                    const room_ask& ask);
void status(self_ptr self, const presence_update& u);

} // namespace tether::actors::directory_detail

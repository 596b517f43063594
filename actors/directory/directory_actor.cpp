#include "actors/directory/directory_actor.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace tether::actors {

namespace {

using self_ptr = directory_actor::stateful_pointer<directory_state>;

caf::error route_error(const route_plan& plan) {
  return caf::error{static_cast<uint8_t>(plan.error), error_category,
                    caf::make_message(plan.reason)};
}

// The device stays known (offline) so that senders learn it is offline
// rather than unknown.
void forget(self_ptr self, const caf::actor_addr& conn) {
  for (auto& [user, devs] : self->state.users) {
    for (auto& d : devs) {
      if (d.conn && d.conn.address() == conn) {
        d.conn = nullptr;
        return;
      }
    }
  }
}

} // namespace

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self) {
  self->set_down_handler(
    [=](const caf::down_msg& dm) { forget(self, dm.source); });
  return {
    [=](atom::join, device_identity& id, connection_actor& conn) -> uint32_t {
      auto& devs = self->state.users[id.user_id];
      auto i = std::find_if(devs.begin(), devs.end(), [&](auto& d) {
        return d.id.device_id == id.device_id;
      });
      self->monitor(conn);
      if (i != devs.end()) {
        if (i->conn) {
          // The device reconnected while its old link lingered (common on
          // mobile); the newer connection wins.
          spdlog::info("user={} device={}: session {} replaced by {}",
                       id.user_id, id.device_id, i->id.session_id,
                       id.session_id);
          self->send(i->conn, atom::close_v,
                     protocol::to_int(protocol::close_code::replaced));
          self->demonitor(i->conn.address());
        }
        *i = live_device{std::move(id), std::move(conn)};
      } else {
        devs.push_back(live_device{std::move(id), std::move(conn)});
      }
      return static_cast<uint32_t>(
        std::count_if(devs.begin(), devs.end(), [](auto& d) { return d.conn; }));
    },
    [=](atom::route, const device_identity& sender,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      static const std::vector<live_device> none;
      auto u = self->state.users.find(sender.user_id);
      const auto& devs = u == self->state.users.end() ? none : u->second;
      std::vector<device_entry> table;
      // Devices of the user seen since the node started: connected ones
      // are online, the others offline.
      table.reserve(devs.size());
      for (auto& d : devs)
        table.push_back(device_entry{d.id.device_id, d.id.type,
                                     d.id.is_extension(), d.conn != nullptr});
      auto plan = plan_route(table, sender.user_id, sender.device_id,
                             msg->destination, false);
      if (!plan.ok())
        return route_error(plan);
      // Encode once per codec, share the bytes between recipients.
      shared_bytes encoded[2];
      for (auto i : plan.recipients) {
        auto& d = devs[i];
        auto& bytes = encoded[static_cast<size_t>(d.id.codec)];
        if (!bytes)
          bytes = std::make_shared<const std::string>(
            protocol::encode(d.id.codec, *msg));
        self->send(d.conn, atom::deliver_v, msg, bytes);
      }
      return static_cast<uint32_t>(plan.recipients.size());
    },
    [=](atom::get, const std::string& user) {
      std::vector<device_identity> result;
      if (auto u = self->state.users.find(user); u != self->state.users.end())
        for (auto& d : u->second)
          if (d.conn)
            result.push_back(d.id);
      return result;
    },
  };
}

} // namespace tether::actors

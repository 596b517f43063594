#include "actors/directory/directory_actor.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "actors/fan_in.hpp"

namespace tether::actors {

namespace {

using self_ptr = directory_actor::stateful_pointer<directory_state>;

int64_t steady_ms(self_ptr self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

device_slot* find_device(user_slot& u, const std::string& device) {
  for (auto& d : u.devices)
    if (d.id.device_id == device)
      return &d;
  return nullptr;
}

// Runs `f` with the user's slot, loading the user's known devices from the
// store first if needed (await: nothing else runs meanwhile, so order holds).
template <class F>
void with_user(self_ptr self, const std::string& user, F f) {
  auto& st = self->state;
  if (auto i = st.users.find(user); i != st.users.end()) {
    f(i->second);
    return;
  }
  self
    ->request(st.store, st.params.request_timeout, atom::get_v,
              atom::devices_v, user)
    .await(
      [self, user, f](std::vector<device_record>& records) mutable {
        auto& u = self->state.users[user];
        for (auto& r : records) {
          if (find_device(u, r.device_id))
            continue;
          device_slot slot;
          slot.id.user_id = r.user_id;
          slot.id.device_id = r.device_id;
          slot.id.type = static_cast<protocol::device_type>(
            std::min<uint8_t>(r.type, 3));
          slot.id.role = r.role;
          u.devices.push_back(std::move(slot));
        }
        f(u);
      },
      [self, user, f](caf::error& err) mutable {
        spdlog::error("directory: cannot load the devices of {}: {}", user,
                      self->system().render(err));
        f(self->state.users[user]);
      });
}

// Runs `f` with the device's queue, asking the orchestrator for one first
// if it does not run.
template <class F>
void with_queue(self_ptr self, const std::string& user,
                const std::string& device, F f) {
  auto& st = self->state;
  auto* slot = find_device(st.users[user], device);
  if (slot && slot->queue) {
    f(slot->queue);
    return;
  }
  auto id = slot ? slot->id : device_identity{user, device, {}, {}, {}, {}};
  self->request(st.orchestrator, st.params.request_timeout, atom::queue_v, id)
    .await(
      [self, user, device, f](queue_actor& q) mutable {
        auto& st = self->state;
        if (auto* s = find_device(st.users[user], device)) {
          s->queue = q;
          st.by_addr.emplace(q.address(), std::make_pair(user, device));
          self->monitor(q);
        }
        f(q);
      },
      [self, f](caf::error& err) mutable {
        spdlog::error("directory: cannot get a queue: {}",
                      self->system().render(err));
        f(queue_actor{});
      });
}

// Runs `f` with the room's actor, asking the orchestrator for one first if
// the room has no actor yet.
template <class F>
void with_room(self_ptr self, const std::string& name, F f) {
  auto& st = self->state;
  if (auto i = st.rooms.find(name); i != st.rooms.end()) {
    f(i->second);
    return;
  }
  self->request(st.orchestrator, st.params.request_timeout, atom::room_v, name)
    .await(
      [self, name, f](room_actor& r) mutable {
        auto& st = self->state;
        st.rooms.emplace(name, r);
        st.by_addr.emplace(r.address(), std::make_pair(std::string{}, name));
        self->monitor(r);
        f(r);
      },
      [self, f](caf::error& err) mutable {
        spdlog::error("directory: cannot get a room: {}",
                      self->system().render(err));
        f(room_actor{});
      });
}

// Adds the device to a room; `done(count or error)`.
template <class F>
void join_room(self_ptr self, const device_identity& id, const room_ask& ask,
               F done) {
  with_queue(self, id.user_id, id.device_id,
             [self, id, ask, done](queue_actor q) mutable {
               with_room(self, ask.room, [self, id, ask, q,
                                          done](room_actor r) mutable {
                 if (!q || !r) {
                   done(caf::expected<uint32_t>{make_tether_error(
                     protocol::errc::internal_error, "room unavailable")});
                   return;
                 }
                 self
                   ->request(r, self->state.params.request_timeout,
                             atom::join_v, room_member{id, q, ask})
                   .then(
                     [self, id, ask, done](uint32_t n) mutable {
                       auto& st = self->state;
                       if (auto* d = find_device(st.users[id.user_id],
                                                 id.device_id))
                         d->rooms.insert(ask.room);
                       done(caf::expected<uint32_t>{n});
                     },
                     [done](caf::error& err) mutable {
                       done(caf::expected<uint32_t>{std::move(err)});
                     });
               });
             });
}

void remember(self_ptr self, std::string key, uint32_t recipients) {
  auto& st = self->state;
  auto now = steady_ms(self);
  auto window = st.params.dedup_window.count();
  while (!st.seen_order.empty()
         && (now - st.seen_order.front().first >= window
             || st.seen_order.size() >= st.params.dedup_capacity)) {
    st.seen.erase(st.seen_order.front().second);
    st.seen_order.pop_front();
  }
  if (st.seen.emplace(key, dedup_entry{now, recipients}).second)
    st.seen_order.emplace_back(now, std::move(key));
}

std::optional<uint32_t> seen_before(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto i = st.seen.find(key);
  if (i == st.seen.end()
      || steady_ms(self) - i->second.seen_ms >= st.params.dedup_window.count())
    return std::nullopt;
  return i->second.recipients;
}

void fan_out(self_ptr self, const device_identity& sender,
             const std::vector<std::string>& devices,
             const protocol::message_ptr& msg, std::shared_ptr<fan_in> fi) {
  for (auto& device : devices) {
    with_queue(self, sender.user_id, device,
               [self, fi, msg, device](queue_actor q) {
                 if (!q) {
                   fi->failed(device, protocol::errc::internal_error,
                              "queue unavailable");
                   return;
                 }
                 // No timeout (a timer per message is costly): a queue
                 // answers at once, or after its own store request, which
                 // has one; a dead queue bounces the request.
                 self
                   ->request(q, caf::infinite,
                             atom::enqueue_v, msg)
                   .then([fi](uint32_t) { fi->accepted(); },
                         [self, fi, device](caf::error& err) {
                           fi->failed(device, to_errc(err),
                                      reason_of(self->system(), err));
                         });
               });
  }
}

void publish(self_ptr self, const device_identity& sender,
             const protocol::message_ptr& msg,
             caf::typed_response_promise<uint32_t> rp, std::string key) {
  auto& st = self->state;
  auto& name = *msg->destination.broadcast->room;
  auto* slot = find_device(st.users[sender.user_id], sender.device_id);
  if (!slot || slot->rooms.count(name) == 0) {
    rp.deliver(make_tether_error(protocol::errc::forbidden,
                                "join room '" + name
                                  + "' before publishing to it"));
    return;
  }
  if (!room_allowed(st.params.room_rules, room_action::publish, name,
                    sender.user_id, sender.role)) {
    rp.deliver(make_tether_error(protocol::errc::forbidden,
                                "publishing to room '" + name
                                  + "' is not allowed for this device"));
    return;
  }
  auto r = st.rooms.find(name);
  if (r == st.rooms.end()) {
    rp.deliver(make_tether_error(protocol::errc::forbidden,
                                "join room '" + name
                                  + "' before publishing to it"));
    return;
  }
  self->request(r->second, st.params.request_timeout, atom::publish_v, sender,
                msg)
    .then(
      [self, rp, key](uint32_t n) mutable {
        remember(self, std::move(key), n);
        rp.deliver(n);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

} // namespace

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self,
          orchestrator_actor orchestrator, store_actor store,
          directory_params params, std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.orchestrator = std::move(orchestrator);
  st.store = std::move(store);
  st.params = params;
  st.metrics = std::move(metrics);
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.by_addr.find(dm.source);
    if (i == st.by_addr.end())
      return;
    auto [user, device] = i->second;
    st.by_addr.erase(i);
    if (user.empty()) {
      // A room ended (it had no members left).
      if (auto r = st.rooms.find(device);
          r != st.rooms.end() && r->second.address() == dm.source)
        st.rooms.erase(r);
      return;
    }
    if (auto* d = find_device(st.users[user], device)) {
      if (d->conn && d->conn.address() == dm.source) {
        d->conn = nullptr;
        // Rooms keep the device for their grace period.
        for (auto& name : d->rooms)
          if (auto r = st.rooms.find(name); r != st.rooms.end())
            self->send(r->second, atom::closed_v, user, device);
      }
      if (d->queue && d->queue.address() == dm.source)
        d->queue = nullptr;
    }
  });
  return {
    [=](atom::join, device_identity& id,
        connection_actor& conn) -> caf::result<queue_actor> {
      auto rp = self->make_response_promise<queue_actor>();
      auto user = id.user_id;
      with_user(self, user, [=](user_slot& u) mutable {
        auto& st = self->state;
        auto* slot = find_device(u, id.device_id);
        if (!slot) {
          u.devices.push_back(device_slot{id, {}, {}, {}});
          slot = &u.devices.back();
        }
        if (slot->conn) {
          // The device reconnected while its old link lingered (common on
          // mobile); the newer connection wins.
          spdlog::info("user={} device={}: session {} replaced by {}",
                       id.user_id, id.device_id, slot->id.session_id,
                       id.session_id);
          self->send(slot->conn, atom::close_v,
                     protocol::to_int(protocol::close_code::replaced));
          st.by_addr.erase(slot->conn.address());
          self->demonitor(slot->conn.address());
        }
        slot->id = id;
        slot->conn = conn;
        st.by_addr.emplace(conn.address(),
                           std::make_pair(id.user_id, id.device_id));
        self->monitor(conn);
        auto rooms = slot->rooms;
        with_queue(self, id.user_id, id.device_id,
                   [self, rp, id, rooms](queue_actor q) mutable {
                     if (!q) {
                       rp.deliver(make_tether_error(
                         protocol::errc::internal_error, "queue unavailable"));
                       return;
                     }
                     rp.deliver(q);
                     // Back within the grace: rooms report nothing.
                     auto& st = self->state;
                     for (auto& name : rooms)
                       if (auto r = st.rooms.find(name); r != st.rooms.end())
                         self->send(r->second, atom::attach_v, id, q);
                     // Every device is present in its user's room; it gets
                     // diffs only once it asks (joins with presence: true).
                     room_ask ask;
                     ask.room = user_room(id.user_id);
                     join_room(self, id, ask, [](caf::expected<uint32_t>) {});
                   });
      });
      return rp;
    },
    [=](atom::route, const device_identity& sender,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      auto rp = self->make_response_promise<uint32_t>();
      with_user(self, sender.user_id, [=](user_slot& u) mutable {
        auto key = sender.user_id + '\0' + sender.device_id + '\0' + msg->id;
        if (auto n = seen_before(self, key)) {
          self->state.metrics->queue_event(queue_counter::duplicate, 1);
          rp.deliver(*n);
          return;
        }
        auto& dst = msg->destination;
        if (dst.to == protocol::target::broadcast && dst.broadcast
            && dst.broadcast->scope == protocol::broadcast_scope::room) {
          publish(self, sender, msg, rp, std::move(key));
          return;
        }
        std::vector<device_entry> table;
        table.reserve(u.devices.size());
        for (auto& d : u.devices)
          table.push_back(device_entry{d.id.device_id, d.id.type,
                                       d.id.is_extension(), d.conn != nullptr});
        // Offline devices receive too: their queues hold the message.
        auto plan = plan_route(table, sender.user_id, sender.device_id,
                               msg->destination, true);
        if (!plan.ok()) {
          rp.deliver(make_tether_error(plan.error, plan.reason));
          return;
        }
        if (plan.recipients.empty()) {
          remember(self, key, 0);
          rp.deliver(uint32_t{0});
          return;
        }
        std::vector<std::string> devices;
        for (auto i : plan.recipients)
          devices.push_back(u.devices[i].id.device_id);
        auto fi = std::make_shared<fan_in>(
          rp, devices.size(),
          [self, key = std::move(key)](uint32_t n) { remember(self, key, n); });
        fan_out(self, sender, devices, msg, std::move(fi));
      });
      return rp;
    },
    [=](atom::get, const std::string& user) {
      std::vector<device_identity> result;
      if (auto u = self->state.users.find(user);
          u != self->state.users.end())
        for (auto& d : u->second.devices)
          if (d.conn)
            result.push_back(d.id);
      return result;
    },
    [=](atom::room, atom::join, const device_identity& id,
        const room_ask& ask) -> caf::result<uint32_t> {
      if (!room_allowed(self->state.params.room_rules, room_action::join,
                        ask.room, id.user_id, id.role))
        return make_tether_error(protocol::errc::forbidden,
                                "joining room '" + ask.room
                                  + "' is not allowed for this device");
      auto rp = self->make_response_promise<uint32_t>();
      with_user(self, id.user_id, [=](user_slot&) mutable {
        join_room(self, id, ask, [rp](caf::expected<uint32_t> r) mutable {
          if (r)
            rp.deliver(*r);
          else
            rp.deliver(std::move(r.error()));
        });
      });
      return rp;
    },
    [=](atom::room, atom::leave, const device_identity& id,
        const std::string& name) {
      auto& st = self->state;
      if (auto* d = find_device(st.users[id.user_id], id.device_id))
        d->rooms.erase(name);
      if (auto r = st.rooms.find(name); r != st.rooms.end())
        self->send(r->second, atom::leave_v, id.user_id, id.device_id);
    },
    [=](atom::room, atom::get, const device_identity& id,
        const room_ask& ask) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto* d = find_device(st.users[id.user_id], id.device_id);
      auto r = st.rooms.find(ask.room);
      // Presence is visible to members only.
      if (!d || d->rooms.count(ask.room) == 0 || r == st.rooms.end())
        return make_tether_error(protocol::errc::forbidden,
                                "join room '" + ask.room
                                  + "' to see its presence");
      self->send(r->second, atom::get_v, id, ask);
      return atom::ok_v;
    },
    [=](atom::status, const presence_update& u) {
      auto& st = self->state;
      auto* d = find_device(st.users[u.user_id], u.device_id);
      if (!d)
        return;
      for (auto& name : d->rooms)
        if (auto r = st.rooms.find(name); r != st.rooms.end())
          self->send(r->second, atom::status_v, u);
    },
    [=](atom::left, const std::string& user, const std::string& device,
        const std::string& room) {
      if (auto* d = find_device(self->state.users[user], device))
        d->rooms.erase(room);
    },
  };
}

} // namespace tether::actors

// A directory shard's rooms: the rooms each device of its users is in
// (joins with the join rules, leaves, the presence page a device asks
// for, the device's declared status for them, the user's own room started
// on demand) and the registry of the room names it owns (the room of a
// name, spawned by the orchestrator once however many joins wait).

#include <utility>

#include "actors/directory/directory_detail.hpp"
#include "actors/directory/shard.hpp"

namespace tether::actors::directory_detail {

namespace {

// The registry shard of a room's name.
const directory_actor& registry_of(self_ptr self, const std::string& room) {
  auto& shards = *self->state.shards;
  return shards[shard_of(room, shards.size())];
}

// Adds the device to a room: `done(count and room, or error)`. A room that
// ended between the lookup and the join is looked up once more.
void join_room(self_ptr self, const device_identity& id, const room_ask& ask,
               std::function<void(joined_room)> done, bool retry = true) {
  with_queue(self, id.user_id, id.device_id, [=](const queue_actor& q) mutable {
    if (!q) {
      done(
        make_tether_error(protocol::errc::internal_error, "queue unavailable"));
      return;
    }
    auto& st = self->state;
    self
      ->request(registry_of(self, ask.room), st.params.request_timeout,
                atom::room_v, ask.room)
      .then(
        [=](room_actor& r) mutable {
          self
            ->request(r, self->state.params.request_timeout, atom::join_v,
                      room_member{id, q, ask})
            .then(
              [=](uint32_t n) mutable {
                if (auto* d = find_device(self, id.user_id, id.device_id)) {
                  d->rooms[ask.room] = r;
                  // The room learns what the device declared before.
                  if (d->status)
                    self->send(r, atom::status_v, *d->status);
                }
                done(std::make_pair(n, r));
              },
              [=](caf::error& err) mutable {
                if (retry && err == caf::sec::request_receiver_down)
                  join_room(self, id, ask, std::move(done), false);
                else
                  done(std::move(err));
              });
        },
        [=](caf::error& err) mutable { done(std::move(err)); });
  });
}

// Starts the user's presence room with every connected device of the user
// but `except` (which joins by its own request).
void start_user_room(self_ptr self, user_slot& u, const std::string& except) {
  if (u.presence_room)
    return;
  u.presence_room = true;
  for (auto& d : u.devices)
    if (d.conn && d.id.device_id != except
        && d.rooms.count(user_room(d.id.user_id)) == 0)
      join_user_room(self, d.id);
}

} // namespace

void join_user_room(self_ptr self, const device_identity& id,
                    std::function<void(joined_room)> done) {
  if (!done)
    done = [](const joined_room&) {};
  room_ask ask;
  ask.room = user_room(id.user_id);
  join_room(self, id, ask, std::move(done));
}

caf::result<uint32_t, room_actor> join(self_ptr self, const device_identity& id,
                                       const room_ask& ask) {
  if (!room_allowed(self->state.params.room_rules, room_action::join, ask.room,
                    id.user_id, id.role))
    return make_tether_error(protocol::errc::forbidden,
                             "joining room '" + ask.room
                               + "' is not allowed for this device");
  auto rp = self->make_response_promise<uint32_t, room_actor>();
  with_user(self, id.user_id, [=](user_slot& u) mutable {
    auto& st = self->state;
    if (auto* d = find_device(u, id.device_id);
        d && d->rooms.count(ask.room) == 0
        && d->rooms.size() >= st.params.max_rooms) {
      rp.deliver(make_tether_error(
        protocol::errc::forbidden,
        "a device may be in at most " + std::to_string(st.params.max_rooms)
          + " rooms (presence.max_rooms); leave one first"));
      return;
    }
    if (ask.room == user_room(id.user_id))
      start_user_room(self, u, id.device_id);
    join_room(self, id, ask, [rp](joined_room r) mutable {
      if (r)
        rp.deliver(r->first, std::move(r->second));
      else
        rp.deliver(std::move(r.error()));
    });
  });
  return rp;
}

caf::result<room_actor> room_of(self_ptr self, const device_identity& id,
                                const std::string& name) {
  auto* d = find_device(self, id.user_id, id.device_id);
  if (!d)
    return room_actor{};
  if (auto r = d->rooms.find(name); r != d->rooms.end())
    return r->second;
  if (name != user_room(id.user_id))
    return room_actor{};
  // The user's own room is the device's even before it runs.
  start_user_room(self, self->state.users[id.user_id], id.device_id);
  auto rp = self->make_response_promise<room_actor>();
  join_user_room(self, id, [rp](joined_room r) mutable {
    if (r)
      rp.deliver(std::move(r->second));
    else
      rp.deliver(std::move(r.error()));
  });
  return rp;
}

caf::result<room_actor> registered(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto& e = st.rooms[name];
  if (e.room)
    return e.room;
  // Asked of the orchestrator once however many joins wait for it.
  auto rp = self->make_response_promise<room_actor>();
  e.waiting.push_back(rp);
  if (e.waiting.size() == 1) {
    auto finish = [self, name](caf::expected<room_actor> r) {
      auto& st = self->state;
      auto i = st.rooms.find(name);
      if (i == st.rooms.end())
        return;
      auto waiting = std::move(i->second.waiting);
      if (r) {
        self->monitor(*r);
        st.room_names.emplace(r->address(), name);
        i->second.room = *r;
      } else {
        st.rooms.erase(i);
      }
      for (auto& w : waiting)
        if (r)
          w.deliver(*r);
        else
          w.deliver(r.error());
    };
    self
      ->request(st.orchestrator, st.params.request_timeout, atom::room_v, name)
      .then([finish](room_actor& r) { finish(std::move(r)); },
            [finish](caf::error& err) { finish(std::move(err)); });
  }
  return rp;
}

room_actor running(self_ptr self, const std::string& name) {
  auto& rooms = self->state.rooms;
  auto i = rooms.find(name);
  return i != rooms.end() ? i->second.room : room_actor{};
}

void leave(self_ptr self, const device_identity& id, const std::string& name) {
  if (auto* d = find_device(self, id.user_id, id.device_id))
    if (auto r = d->rooms.find(name); r != d->rooms.end()) {
      self->send(r->second, atom::leave_v, id.user_id, id.device_id);
      d->rooms.erase(r);
    }
}

caf::result<atom::ok> presence_page(self_ptr self, const device_identity& id,
                                    const room_ask& ask) {
  auto* d = find_device(self, id.user_id, id.device_id);
  if (d && ask.room == user_room(id.user_id) && d->rooms.count(ask.room) == 0) {
    // The user's own room is the device's even before it runs: start
    // it, then answer from it.
    start_user_room(self, self->state.users[id.user_id], id.device_id);
    join_user_room(self, id, [=](const joined_room& r) {
      auto* d = find_device(self, id.user_id, id.device_id);
      if (!r || !d)
        return;
      if (auto i = d->rooms.find(ask.room); i != d->rooms.end())
        self->send(i->second, atom::get_v, id, ask);
    });
    return atom::ok_v;
  }
  auto r = d ? d->rooms.find(ask.room) : decltype(d->rooms.end()){};
  // Presence is visible to members only.
  if (!d || r == d->rooms.end())
    return make_tether_error(protocol::errc::forbidden,
                             "join room '" + ask.room
                               + "' to see its presence");
  self->send(r->second, atom::get_v, id, ask);
  return atom::ok_v;
}

void status(self_ptr self, const presence_update& u) {
  if (auto* d = find_device(self, u.user_id, u.device_id)) {
    if (!u.activity_only) {
      // What the device declared so far, field by field.
      if (!d->status)
        d->status = std::make_unique<presence_update>(u);
      if (u.status != 255)
        d->status->status = u.status;
      if (u.app_state != 255)
        d->status->app_state = u.app_state;
      if (u.has_custom || u.clear_custom) {
        d->status->has_custom = u.has_custom;
        d->status->clear_custom = u.clear_custom;
        d->status->custom_text = u.custom_text;
        d->status->custom_emoji = u.custom_emoji;
        d->status->custom_expires_ms = u.custom_expires_ms;
      }
    }
    for (auto& [name, r] : d->rooms)
      self->send(r, atom::status_v, u);
  }
}

} // namespace tether::actors::directory_detail

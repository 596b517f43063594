// The connection's answers to messages for the server itself (target
// `cloud`): heartbeats, device registration (app-level compression), and
// the room, presence, handled, push and lifecycle requests it forwards in
// the control lane of its route gate.

#include <algorithm>

#include "actors/connection/connection_detail.hpp"
#include "protocol/compression.hpp"
#include "protocol/control.hpp"
#include "protocol/presence.hpp"
#include "protocol/push.hpp"

namespace tether::actors::connection_detail {

namespace {

using protocol::errc;
using lane = route_gate::lane;

void handle_room(self_ptr self, const protocol::mobile_message& m,
                 const std::optional<std::string>& batch_id) {
  auto& st = self->state;
  std::vector<protocol::field_error> errors;
  if (m.type == "tether.presence.set") {
    protocol::status_request r;
    if (!protocol::read_status_request(m.payload, r, errors)) {
      refuse(self, m.id, batch_id, errc::validation_error,
             "invalid presence: see details.errors", errors);
      return;
    }
    presence_update u;
    u.user_id = st.me.user_id;
    u.device_id = st.me.device_id;
    if (r.status)
      u.status = static_cast<uint8_t>(*r.status);
    if (r.custom) {
      u.has_custom = true;
      u.custom_text = r.custom->text;
      u.custom_emoji = r.custom->emoji;
      u.custom_expires_ms = r.custom->expires_ms;
    }
    u.clear_custom = r.clear_custom;
    self->state.gate.run(
      lane::control,
      [self, u = std::move(u), id = m.id,
       wants_ack = m.optimization.requires_ack, batch_id]() mutable {
        self->send(self->state.directory, atom::status_v, std::move(u));
        ack_processed(self, id, wants_ack, batch_id);
        self->state.gate.done();
      });
    return;
  }
  protocol::room_request r;
  if (!protocol::read_room_request(m.payload, r, errors)) {
    refuse(self, m.id, batch_id, errc::validation_error,
           "invalid room request: see details.errors", errors);
    return;
  }
  room_ask ask;
  ask.room = r.room;
  ask.presence = r.presence;
  for (auto x : r.status_filter)
    ask.status_filter.push_back(static_cast<uint8_t>(x));
  for (auto x : r.type_filter)
    ask.type_filter.push_back(static_cast<uint8_t>(x));
  ask.page = r.page;
  ask.page_size = r.page_size;
  auto id = m.id;
  auto wants_ack = m.optimization.requires_ack;
  if (m.type == "tether.leave") {
    self->state.gate.run(lane::control, [=] {
      set_room(self, r.room, room_actor{});
      self->send(self->state.directory, atom::room_v, atom::leave_v,
                 self->state.me, r.room);
      ack_processed(self, id, wants_ack, batch_id);
      self->state.gate.done();
    });
    return;
  }
  auto ok = [=](auto&&...) {
    ack_processed(self, id, wants_ack, batch_id);
    self->state.gate.done();
  };
  auto fail = [=](caf::error& err) {
    fail_request(self, id, batch_id, err);
    self->state.gate.done();
  };
  auto join = m.type == "tether.join";
  self->state.gate.run(lane::control, [=]() mutable {
    auto& st = self->state;
    if (join)
      self
        ->request(st.directory, st.params->request_timeout, atom::room_v,
                  atom::join_v, st.me, std::move(ask))
        .then(
          [self, ok, name = r.room](uint32_t, room_actor& room) {
            set_room(self, name, std::move(room));
            ok();
          },
          fail);
    else
      self
        ->request(st.directory, st.params->request_timeout, atom::room_v,
                  atom::get_v, st.me, std::move(ask))
        .then([ok](atom::ok) { ok(); }, fail);
  });
}

// The device handled these messages: their copies for the user's other
// devices are withdrawn (SPEC §5.9), in the control lane so that what the
// device sent before is routed first.
void handle_handled(self_ptr self, const protocol::mobile_message& m,
                    const std::optional<std::string>& batch_id) {
  std::vector<std::string> ids;
  std::vector<protocol::field_error> errors;
  if (!protocol::read_message_ids(m.payload, protocol::max_handled_ids, ids,
                                  errors)) {
    refuse(self, m.id, batch_id, errc::validation_error,
           "invalid tether.handled: see details.errors", errors);
    return;
  }
  self->state.gate.run(lane::control, [self, ids = std::move(ids), id = m.id,
                                       wants_ack = m.optimization.requires_ack,
                                       batch_id] {
    self->send(self->state.directory, atom::handled_v, self->state.me, ids);
    ack_processed(self, id, wants_ack, batch_id);
    self->state.gate.done();
  });
}

// A push address registered or removed (SPEC §5.10): acked `processed`
// once the store has it on disk, in the control lane like the requests
// before it.
void handle_push(self_ptr self, const protocol::mobile_message& m,
                 const std::optional<std::string>& batch_id) {
  std::vector<protocol::field_error> errors;
  auto reg = m.type == "tether.push.register";
  protocol::push_address address;
  std::optional<protocol::push_provider> which;
  if (reg ? !protocol::read_push_register(m.payload, address, errors)
          : !protocol::read_push_unregister(m.payload, which, errors)) {
    refuse(self, m.id, batch_id, errc::validation_error,
           "invalid " + m.type + ": see details.errors", errors);
    return;
  }
  auto& st = self->state;
  if (!st.params->store) {
    refuse(self, m.id, batch_id, errc::unsupported_target,
           "this node keeps no push addresses");
    return;
  }
  auto ok = [self, id = m.id, wants_ack = m.optimization.requires_ack,
             batch_id](atom::ok) {
    ack_processed(self, id, wants_ack, batch_id);
    self->state.gate.done();
  };
  auto fail = [self, id = m.id, batch_id](caf::error& err) {
    fail_request(self, id, batch_id, err);
    self->state.gate.done();
  };
  st.gate.run(lane::control, [=]() mutable {
    auto& st = self->state;
    if (reg)
      self
        ->request(st.params->store, st.params->request_timeout, atom::push_v,
                  atom::append_v, st.me.user_id, st.me.device_id,
                  std::move(address))
        .then(ok, fail);
    else
      self
        ->request(st.params->store, st.params->request_timeout, atom::push_v,
                  atom::remove_v, st.me.user_id, st.me.device_id,
                  which ? static_cast<int32_t>(*which) : int32_t{-1})
        .then(ok, fail);
  });
}

// The app went to the background or came back (SPEC §5.10): its queue
// counts it as unable to take messages for the push decision, its rooms
// show it away. In the control lane, after what the device sent before.
void handle_lifecycle(self_ptr self, const protocol::mobile_message& m,
                      const std::optional<std::string>& batch_id) {
  std::vector<protocol::field_error> errors;
  protocol::app_state state;
  if (!protocol::read_lifecycle(m.payload, state, errors)) {
    refuse(self, m.id, batch_id, errc::validation_error,
           "invalid tether.lifecycle: see details.errors", errors);
    return;
  }
  auto background = state == protocol::app_state::background;
  self->state.gate.run(lane::control, [self, background, id = m.id,
                                       wants_ack = m.optimization.requires_ack,
                                       batch_id] {
    auto& st = self->state;
    if (st.background != background) {
      st.background = background;
      if (st.queue)
        self->send(st.queue, atom::status_v, background);
      presence_update u;
      u.user_id = st.me.user_id;
      u.device_id = st.me.device_id;
      u.app_state = background ? 1 : 0;
      self->send(st.directory, atom::status_v, std::move(u));
    }
    ack_processed(self, id, wants_ack, batch_id);
    st.gate.done();
  });
}

} // namespace

void handle_cloud(self_ptr self, const protocol::mobile_message& m,
                  const std::optional<std::string>& batch_id) {
  if (m.type == "heartbeat") {
    ack_processed(self, m.id, m.optimization.requires_ack, batch_id);
    return;
  }
  if (m.type == "device_registration") {
    std::vector<protocol::compression> algorithms;
    std::vector<protocol::field_error> errors;
    if (!protocol::read_capabilities(m.payload, algorithms, errors)) {
      refuse(self, m.id, batch_id, errc::validation_error,
             "invalid device registration: see details.errors", errors);
      return;
    }
    // App-level compression only where permessage-deflate is off; deflate
    // (zlib) is preferred over gzip for its smaller header.
    uint8_t algo = 0;
    if (!self->state.deflate) {
      for (auto want :
           {protocol::compression::deflate, protocol::compression::gzip}) {
        if (algo == 0
            && std::find(algorithms.begin(), algorithms.end(), want)
                 != algorithms.end())
          algo = want == protocol::compression::deflate ? 1 : 2;
      }
    }
    // Kept for a batcher spawned later.
    self->state.compress = algo;
    if (self->state.progress)
      self->state.progress->set_compress(algo);
    ack_processed(self, m.id, m.optimization.requires_ack, batch_id);
    return;
  }
  if (m.type == "tether.join" || m.type == "tether.leave"
      || m.type == "tether.presence.get" || m.type == "tether.presence.set") {
    handle_room(self, m, batch_id);
    return;
  }
  if (m.type == "tether.handled") {
    handle_handled(self, m, batch_id);
    return;
  }
  if (m.type == "tether.push.register" || m.type == "tether.push.unregister") {
    handle_push(self, m, batch_id);
    return;
  }
  if (m.type == "tether.lifecycle") {
    handle_lifecycle(self, m, batch_id);
    return;
  }
  refuse(self, m.id, batch_id, errc::unsupported_target,
         "target 'cloud' serves heartbeat, device_registration, tether.join, "
         "tether.leave, tether.presence.set, tether.presence.get, "
         "tether.handled, tether.push.register, tether.push.unregister and "
         "tether.lifecycle; "
         "got '"
           + m.type + "'");
}

} // namespace tether::actors::connection_detail

// The cluster actor's relays (cluster_actor.cpp keeps the membership
// view and the registry of users): what this node sends to the others for
// a room (publishes, presence), and what it takes from them (forwarded
// messages, room publishes, presence, queues handed over), each checked
// against the node it came from (peer_rules); the cluster-wide overview.

#include <memory>

#include <spdlog/spdlog.h>

#include "actors/cluster/cluster_detail.hpp"
#include "actors/cluster/peer_rules.hpp"
#include "actors/cluster/relay.hpp"
#include "actors/fan_in.hpp"
#include "actors/orchestrator/overview.hpp"
#include "protocol/validate.hpp"

namespace tether::actors::cluster_detail {

namespace {

// with_shard for a request: while the directory restarts (no shard), `rp`
// is answered with an internal error instead of calling `f`.
template <class T, class F>
void with_shard_or_refuse(self_ptr self, const std::string& user,
                          caf::typed_response_promise<T> rp, F f) {
  with_shard(self, user,
             [rp, f = std::move(f)](const directory_actor& shard) mutable {
               if (!shard) {
                 rp.deliver(make_tether_error(protocol::errc::internal_error,
                                              "the directory is restarting"));
                 return;
               }
               f(shard);
             });
}

// Hands a message from another node to the shard of its user here.
void forward_here(self_ptr self, const device_identity& sender,
                  std::vector<std::string> devices,
                  const protocol::message_ptr& msg,
                  caf::typed_response_promise<uint32_t> rp) {
  with_shard_or_refuse(self, sender.user_id, rp,
                       [self, sender, devices = std::move(devices), msg,
                        rp](const directory_actor& shard) mutable {
                         self
                           ->request(shard, caf::infinite, atom::forward_v,
                                     sender, std::move(devices), msg)
                           .then([rp](uint32_t n) mutable { rp.deliver(n); },
                                 [rp](caf::error& err) mutable {
                                   rp.deliver(std::move(err));
                                 });
                       });
}

caf::expected<protocol::message_ptr>
read_forwarded(self_ptr self, traffic_kind kind, const std::string& bytes) {
  self->state.metrics->cluster_received(kind, bytes.size());
  // Validated by the sender's node; decoded again to be routed here.
  auto frame = read_forwarded_form(bytes, self->state.params.limits);
  if (!frame.ok() || frame.kind != protocol::frame_kind::message)
    return make_tether_error(protocol::errc::malformed_frame,
                             "a forwarded message could not be read: "
                               + frame.error_message);
  return std::make_shared<const protocol::mobile_message>(
    std::move(frame.messages.front().msg));
}

// Publishes a room message another node relayed to the room's members here.
void publish_here(self_ptr self, const device_identity& sender,
                  const std::string& room, const protocol::message_ptr& msg,
                  caf::typed_response_promise<uint32_t> rp) {
  self
    ->request(self->state.orchestrator, caf::infinite, atom::get_v,
              atom::room_v, room)
    .then(
      [self, sender, msg, rp](room_actor& r) mutable {
        if (!r) {
          rp.deliver(uint32_t{0}); // no member here
          return;
        }
        self
          ->request(r, caf::infinite, atom::publish_v, atom::forward_v, sender,
                    msg)
          .then([rp](uint32_t n) mutable { rp.deliver(n); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

// What a room's presence rows weigh (ids, texts, fixed fields).
size_t presence_bytes(const std::string& room,
                      const std::vector<presence_row>& rows) {
  size_t n = room.size();
  for (auto& r : rows)
    n += r.user_id.size() + r.device_id.size() + r.custom_text.size()
         + r.custom_emoji.size() + r.event.size() + 20;
  return n;
}

// Reads a message another node relayed from device `sender`, checked as if
// it came from that device's socket (peer_rules); an error if it cannot
// be read or is forged (refused and counted).
caf::expected<protocol::message_ptr>
read_relayed(self_ptr self, const std::string& from, traffic_kind kind,
             const device_identity& sender, const std::string& bytes,
             const std::string& room = {}) {
  auto msg = read_forwarded(self, kind, bytes);
  if (!msg)
    return msg;
  auto why = check_relayed(
    **msg, sender_claim{sender.user_id, sender.device_id, sender.type},
    self->state.params.limits, room);
  if (!why.empty()) {
    refuse(self, peer_refusal::forged, from,
           "a relayed message " + (*msg)->id + ": " + why);
    return make_tether_error(protocol::errc::validation_error,
                             "refused a relayed message: " + why);
  }
  return msg;
}

// Hands `msgs` (a queue's messages of generation `gen`) to the device's
// queue here, which is held here from then on; replies with the ids the
// queue refused.
caf::result<std::vector<std::string>>
hand_to_queue(self_ptr self, const device_identity& id, uint64_t gen,
              message_list msgs) {
  auto rp = self->make_response_promise<std::vector<std::string>>();
  with_shard_or_refuse(
    self, id.user_id, rp,
    [self, id, gen, msgs = std::move(msgs),
     rp](const directory_actor& shard) mutable {
      self
        ->request(shard, caf::infinite, atom::handover_v, id, gen,
                  std::move(msgs))
        .then(
          [self, id, gen, rp](std::vector<std::string>& refused) mutable {
            rp.deliver(std::move(refused));
            hold(self, id, gen + 1);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    });
  return rp;
}

} // namespace

caf::result<std::vector<std::string>>
take_handover(self_ptr self, const std::string& from, const device_identity& id,
              uint64_t gen, const std::vector<std::string>& forms) {
  auto& st = self->state;
  // Taken by the node the device's home names: its queue is here (it
  // connected here, or its messages were handed here before), from a
  // member linked from here.
  auto mine = st.local.find(id.user_id);
  if (st.peers.count(from) == 0 || mine == st.local.end()
      || mine->second.count(id.device_id) == 0) {
    refuse(self, peer_refusal::claim, from,
           "the queue of " + id.user_id + "/" + id.device_id
             + ", which is not here");
    return make_peer_error(peer_exit::refused, "the device " + id.user_id + "/"
                                                 + id.device_id
                                                 + " is not on this node");
  }
  message_list msgs;
  msgs.reserve(forms.size());
  for (auto& bytes : forms) {
    auto msg = read_forwarded(self, traffic_kind::message, bytes);
    auto why = msg ? check_handed_over(**msg, st.params.limits)
                   : reason_of(self->system(), msg.error());
    if (!why.empty()) {
      // Its node encoded it: sending it again would not help.
      refuse(self, peer_refusal::forged, from,
             "a message handed over for " + id.user_id + "/" + id.device_id
               + ": " + why);
      continue;
    }
    msgs.push_back(std::move(*msg));
  }
  return hand_to_queue(self, id, gen, std::move(msgs));
}

caf::result<bool> take_replica(self_ptr self, const std::string& from,
                               replica_batch& b) {
  auto& st = self->state;
  if (!st.replica)
    return make_tether_error(protocol::errc::internal_error,
                             "queues are not replicated on this node");
  // A member (the gate proved it), writing only its own copies (the
  // leader is the node the batch came from, whatever it names).
  auto why = check_replica(b, st.params.limits);
  if (!why.empty()) {
    refuse(self, peer_refusal::forged, from,
           "a replica batch for " + b.header.user_id + "/" + b.header.device_id
             + ": " + why);
    return make_tether_error(protocol::errc::validation_error,
                             "refused a replica batch: " + why);
  }
  auto rp = self->make_response_promise<bool>();
  self
    ->request(st.replica, caf::infinite, atom::replicate_v, from, std::move(b))
    .then([rp](bool applied) mutable { rp.deliver(applied); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::vector<std::string>>
take_copy(self_ptr self, const device_identity& id, uint64_t gen,
          const std::vector<stored_message>& rows) {
  // The replica actor's own copy (checked when its leader sent it): the
  // rows go into the device's queue here as a handover's would, and the
  // device's home learns the queue is here.
  message_list msgs;
  msgs.reserve(rows.size());
  for (auto& r : rows) {
    auto f = protocol::decode(protocol::codec::msgpack, r.body,
                              self->state.params.limits);
    if (!f.ok() || f.messages.size() != 1) {
      // (Checked when it was copied: a damaged store. It can never be
      // delivered; kept, it would keep the copy from going.)
      spdlog::error("cluster: a copied message {} of {}/{} is unreadable; "
                    "dropped",
                    r.msg_id, id.user_id, id.device_id);
      continue;
    }
    msgs.push_back(std::make_shared<const protocol::mobile_message>(
      std::move(f.messages.front().msg)));
  }
  return hand_to_queue(self, id, gen, std::move(msgs));
}

caf::result<std::vector<stored_message>>
give_replica(self_ptr self, const std::string& from, const std::string& leader,
             const std::string& user, const std::string& device, uint64_t gen) {
  auto& st = self->state;
  if (!st.replica)
    return make_tether_error(protocol::errc::internal_error,
                             "queues are not replicated on this node");
  spdlog::debug("cluster: {} takes over the queue of {}/{} led by {}", from,
                user, device, leader);
  auto rp = self->make_response_promise<std::vector<stored_message>>();
  self
    ->request(st.replica, caf::infinite, atom::get_v, atom::replicate_v, leader,
              user, device, gen, from)
    .then(
      [rp](std::vector<stored_message>& rows) mutable {
        rp.deliver(std::move(rows));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<uint32_t> take_forward(self_ptr self, const std::string& from,
                                   const device_identity& sender,
                                   std::vector<std::string> devices,
                                   const std::string& bytes) {
  auto msg = read_relayed(self, from, traffic_kind::message, sender, bytes);
  if (!msg)
    return std::move(msg.error());
  auto rp = self->make_response_promise<uint32_t>();
  forward_here(self, sender, std::move(devices), *msg, rp);
  return rp;
}

void take_handled(self_ptr self, const std::string& from,
                  const device_identity& by,
                  const std::vector<std::string>& devices,
                  const std::vector<std::string>& ids) {
  auto why = check_handled(sender_claim{by.user_id, by.device_id, by.type},
                           devices, ids);
  if (!why.empty()) {
    refuse(self, peer_refusal::forged, from, "a handled request: " + why);
    return;
  }
  with_shard(self, by.user_id, [self, by, devices, ids](const auto& shard) {
    if (shard)
      self->send(shard, atom::handled_v, atom::forward_v, by, devices, ids);
  });
}

caf::result<uint32_t>
relay_publish(self_ptr self, const device_identity& sender,
              const std::string& room, const std::string& bytes) {
  // Every other member node once; those without members answer 0.
  auto& st = self->state;
  std::vector<std::pair<std::string, peer_link_actor>> others;
  for (auto& id : st.live)
    if (!is_self(self, id))
      if (auto h = link_of_node(self, id))
        others.emplace_back(id, h);
  if (others.empty())
    return uint32_t{0};
  auto rp = self->make_response_promise<uint32_t>();
  auto fi = std::make_shared<fan_in>(rp, others.size());
  for (auto& [id, h] : others) {
    st.metrics->cluster_sent(traffic_kind::batch, bytes.size());
    self
      ->request(h, st.params.request_timeout, atom::room_v, sender, room, bytes)
      .then([fi](uint32_t n) { fi->accepted(n); },
            [self, fi, who = "node " + id](caf::error& err) {
              fi->failed(who, to_errc(err), reason_of(self->system(), err));
            });
  }
  return rp;
}

caf::result<uint32_t> take_publish(self_ptr self, const std::string& from,
                                   const device_identity& sender,
                                   const std::string& room,
                                   const std::string& bytes) {
  auto msg = read_relayed(self, from, traffic_kind::batch, sender, bytes, room);
  if (!msg)
    return std::move(msg.error());
  auto rp = self->make_response_promise<uint32_t>();
  publish_here(self, sender, room, *msg, rp);
  return rp;
}

void relay_presence(self_ptr self, const std::string& room,
                    const std::vector<presence_row>& rows, bool full,
                    bool ask) {
  auto& st = self->state;
  auto bytes = presence_bytes(room, rows);
  for (auto& id : st.live)
    if (!is_self(self, id))
      if (auto h = link_of_node(self, id)) {
        st.metrics->cluster_sent(traffic_kind::control, bytes);
        self->send(h, atom::presence_v, room, rows, full, ask);
      }
}

void take_presence(self_ptr self, const std::string& from,
                   const std::string& room,
                   const std::vector<presence_row>& rows, bool full, bool ask) {
  auto& st = self->state;
  st.metrics->cluster_received(traffic_kind::control,
                               presence_bytes(room, rows));
  // Rows are the sending node's own members (it cannot name another
  // node's), each one a device of it could have set.
  auto why = protocol::valid_room_name(room)
               ? std::string{}
               : std::string{"an invalid room name"};
  for (auto& r : rows) {
    if (!why.empty())
      break;
    why = check_member(member_claim{r.user_id, r.device_id, r.type, r.status,
                                    r.custom_text, r.custom_emoji, r.event});
  }
  if (!why.empty()) {
    refuse(self, peer_refusal::forged, from,
           "presence of room " + room + ": " + why);
    return;
  }
  self->request(st.orchestrator, caf::infinite, atom::get_v, atom::room_v, room)
    .then(
      [self, from, rows, full, ask](room_actor& r) {
        // No room here: no member here to tell; it asks once it runs.
        if (r)
          self->send(r, atom::presence_v, from, rows, full, ask);
      },
      [](caf::error&) {});
}

caf::result<std::vector<std::string>> gather_overviews(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<std::vector<std::string>>();
  auto& members = st.view.members();
  // One slot per member in the view's order; an unanswered ask leaves
  // the member's state.
  auto out = std::make_shared<std::vector<std::string>>();
  auto pending = std::make_shared<size_t>(1);
  // Half the asker's bound: a silent member is named, not a timeout.
  auto timeout = st.params.request_timeout / 2;
  auto done = [rp, out, pending]() mutable {
    if (--*pending == 0)
      rp.deliver(std::move(*out));
  };
  for (auto& [id, e] : members) {
    auto slot = out->size();
    out->push_back(render_absent_node(id, to_string(e.state)));
    auto peer = st.peers.find(id);
    if (e.state != node_state::alive || peer == st.peers.end())
      continue;
    ++*pending;
    self->request(peer->second, timeout, atom::overview_v)
      .then(
        [out, slot, done](std::string& json) mutable {
          (*out)[slot] = std::move(json);
          done();
        },
        [out, slot, id = id, done](const caf::error&) mutable {
          (*out)[slot] = render_absent_node(id, "unreachable");
          done();
        });
  }
  done();
  return rp;
}

caf::result<std::string> overview_here(self_ptr self) {
  auto rp = self->make_response_promise<std::string>();
  self
    ->request(self->state.orchestrator, self->state.params.request_timeout,
              atom::get_v, atom::overview_v)
    .then([rp](std::string& json) mutable { rp.deliver(std::move(json)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace tether::actors::cluster_detail

#include "actors/cluster/cluster_actor.hpp"

#include <algorithm>
#include <set>

#include <caf/actor_system.hpp>
#include <spdlog/spdlog.h>

#include "actors/directory/placement.hpp"
#include "actors/fan_in.hpp"
#include "protocol/codec.hpp"

namespace tether::actors {

cluster_actor cluster_of(caf::actor_system& sys) {
  return caf::actor_cast<cluster_actor>(sys.registry().get(cluster_name));
}

namespace {

using self_ptr = cluster_actor::stateful_pointer<cluster_state>;

int64_t now_ms(self_ptr self) {
  return self->state.clock.at(self->clock().now());
}

void publish(self_ptr self) {
  auto& st = self->state;
  if (st.params.board)
    st.params.board->publish(board_rows(st.view));
  st.metrics->cluster_members(static_cast<int64_t>(st.view.live_ids().size()));
}

void link_to(self_ptr self, const member_info& m) {
  self->send(self->state.params.orchestrator, atom::link_v,
             caf::actor_cast<cluster_actor>(self), m.host, m.port);
}

void learn(self_ptr self, const std::vector<member_info>& view) {
  for (auto& m : self->state.view.learn(view, now_ms(self))) {
    spdlog::info("cluster: learned of {} at {}", m.node_id, m.address());
    link_to(self, m);
  }
}

void log_event(self_ptr self, const member_event& e, const std::string& addr) {
  using change = node_metrics::member_change;
  auto& m = *self->state.metrics;
  switch (e.kind) {
    case member_event::joined:
      spdlog::info("cluster: {} joined ({})", e.node_id, addr);
      m.member_changed(change::joined);
      break;
    case member_event::rejoined:
      spdlog::info("cluster: {} is back ({})", e.node_id, addr);
      m.member_changed(change::rejoined);
      break;
    case member_event::restarted:
      spdlog::info("cluster: {} restarted ({})", e.node_id, addr);
      m.member_changed(change::restarted);
      break;
    case member_event::down:
      spdlog::warn("cluster: {} is down ({})", e.node_id, addr);
      m.member_changed(change::down);
      break;
  }
}

// -- routing across nodes ------------------------------------------------

cluster_actor handle_of(self_ptr self, const std::string& node_id) {
  auto& st = self->state;
  if (node_id == st.params.self.node_id)
    return caf::actor_cast<cluster_actor>(self);
  auto i = st.peers.find(node_id);
  return i != st.peers.end() ? i->second : cluster_actor{};
}

std::string home_of_user(self_ptr self, const std::string& user) {
  auto& live = self->state.live;
  return live[home_of(user_key(user), live)];
}

// Tells the user's home that `id` connected here or left.
void tell_home(self_ptr self, const device_identity& id, bool connected) {
  if (auto h = handle_of(self, home_of_user(self, id.user_id)))
    self->send(h, atom::devices_v, self->state.params.self.node_id, id,
               connected);
}

// At the user's home: tells every node with a device of the user (and
// `also`, which just lost its last one) where the others are.
void push(self_ptr self, const std::string& user, const std::string& also) {
  auto& st = self->state;
  std::set<std::string> nodes;
  if (!also.empty())
    nodes.insert(also);
  auto i = st.homed.find(user);
  if (i != st.homed.end())
    for (auto& [device, r] : i->second)
      nodes.insert(r.node_id);
  for (auto& n : nodes) {
    // A node without devices of the user any more needs no routes.
    std::vector<remote_device> others;
    if (i != st.homed.end() && n != also)
      for (auto& [device, r] : i->second)
        if (r.node_id != n)
          others.push_back(r);
    if (auto h = handle_of(self, n))
      self->send(h, atom::routes_v, user, std::move(others));
  }
  if (i != st.homed.end() && i->second.empty())
    st.homed.erase(i);
}

// The members changed: homes move, devices of members gone are gone.
void rehome(self_ptr self) {
  auto& st = self->state;
  auto live = st.view.live_ids();
  if (live == st.live)
    return;
  st.live = std::move(live);
  auto alive = [&](const std::string& n) {
    return std::binary_search(st.live.begin(), st.live.end(), n);
  };
  for (auto i = st.homed.begin(); i != st.homed.end();) {
    if (home_of_user(self, i->first) != st.params.self.node_id) {
      i = st.homed.erase(i); // its nodes tell the new home
      continue;
    }
    for (auto d = i->second.begin(); d != i->second.end();)
      d = alive(d->second.node_id) ? std::next(d) : i->second.erase(d);
    auto user = (i++)->first;
    push(self, user, "");
  }
  for (auto& [user, devices] : st.local)
    for (auto& [device, id] : devices)
      tell_home(self, id, true);
}

// Runs `f` with the directory shard of `user` on this node (empty while
// the directory restarts).
template <class F>
void with_shard(self_ptr self, const std::string& user, F f) {
  self
    ->request(self->state.params.orchestrator, caf::infinite, atom::get_v,
              atom::directory_v, user)
    .then([f](directory_actor& shard) mutable { f(shard); },
          [f](caf::error&) mutable { f(directory_actor{}); });
}

// Hands a message from another node to the shard of its user here.
void forward_here(self_ptr self, const device_identity& sender,
                  std::vector<std::string> devices, protocol::message_ptr msg,
                  caf::typed_response_promise<uint32_t> rp) {
  with_shard(self, sender.user_id,
             [self, sender, devices = std::move(devices), msg,
              rp](const directory_actor& shard) mutable {
               if (!shard) {
                 rp.deliver(make_tether_error(protocol::errc::internal_error,
                                              "the directory is restarting"));
                 return;
               }
               self
                 ->request(shard, caf::infinite, atom::forward_v, sender,
                           std::move(devices), msg)
                 .then([rp](uint32_t n) mutable { rp.deliver(n); },
                       [rp](caf::error& err) mutable {
                         rp.deliver(std::move(err));
                       });
             });
}

caf::expected<protocol::message_ptr> read_forwarded(self_ptr self,
                                                    traffic_kind kind,
                                                    const std::string& bytes) {
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
                  const std::string& room, protocol::message_ptr msg,
                  caf::typed_response_promise<uint32_t> rp) {
  self
    ->request(self->state.params.orchestrator, caf::infinite, atom::get_v,
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

caf::error refusal(const member_info& peer, peer_verdict v) {
  return make_peer_error(v == peer_verdict::is_self ? peer_exit::redundant
                                                    : peer_exit::refused,
                         "refused " + peer.node_id + " at " + peer.address()
                           + ": " + to_string(v));
}

} // namespace

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_params params, std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.params = std::move(params);
  st.metrics = std::move(metrics);
  st.view = membership{st.params.self};
  st.live = st.view.live_ids();
  st.clock = wall_clock{self->clock().now(), nullptr};
  spdlog::info("cluster: node {} on {}, {} seeds", st.params.self.node_id,
               st.params.self.address(), st.params.seeds.size());
  for (auto& [host, port] : st.params.seeds) {
    member_info seed;
    seed.host = host;
    seed.port = port;
    link_to(self, seed);
  }
  publish(self);
  return {
    [=](atom::hello, const member_info& peer)
      -> caf::result<member_info, std::vector<member_info>> {
      auto& st = self->state;
      auto v = st.view.check(peer);
      if (v == peer_verdict::wrong_protocol
          || v == peer_verdict::duplicate_id) {
        spdlog::error("cluster: refused {} at {}: {}", peer.node_id,
                      peer.address(), to_string(v));
        return refusal(peer, v);
      }
      if (v == peer_verdict::accepted) {
        learn(self, {peer});
        publish(self);
      }
      return {st.view.self(), st.view.view()};
    },
    [=](atom::linked, const std::string& addr, const member_info& peer,
        const std::vector<member_info>& their_view,
        const caf::actor& remote) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto v = st.view.check(peer);
      if (v == peer_verdict::accepted) {
        if (auto i = st.link_of.find(peer.node_id);
            i != st.link_of.end() && i->second != addr) {
          auto& e = st.view.members().at(peer.node_id);
          if (e.state == node_state::alive)
            return make_peer_error(peer_exit::redundant,
                                   peer.node_id + " is linked at "
                                     + i->second + " already");
        }
      }
      if (v != peer_verdict::accepted) {
        if (v != peer_verdict::is_self)
          spdlog::error("cluster: not linking to {} at {}: {}", peer.node_id,
                        peer.address(), to_string(v));
        return refusal(peer, v);
      }
      st.link_of[peer.node_id] = addr;
      st.peers[peer.node_id] = caf::actor_cast<cluster_actor>(remote);
      if (auto e = st.view.link_up(peer, now_ms(self)))
        log_event(self, *e, peer.address());
      learn(self, their_view);
      publish(self);
      rehome(self);
      return atom::ok_v;
    },
    [=](atom::unlinked, const std::string& addr, const std::string& node_id) {
      auto& st = self->state;
      auto i = st.link_of.find(node_id);
      if (i == st.link_of.end() || i->second != addr)
        return; // a link that never was this member's
      st.link_of.erase(i);
      st.peers.erase(node_id);
      if (auto e = st.view.link_down(node_id, now_ms(self)))
        log_event(self, *e, addr);
      publish(self);
      rehome(self);
    },
    [=](atom::attach, const device_identity& id, bool connected) {
      auto& local = self->state.local;
      if (connected) {
        local[id.user_id][id.device_id] = id;
      } else if (auto u = local.find(id.user_id); u != local.end()) {
        u->second.erase(id.device_id);
        if (u->second.empty())
          local.erase(u);
      }
      tell_home(self, id, connected);
    },
    [=](atom::closed) {
      auto local = std::move(self->state.local);
      self->state.local.clear();
      for (auto& [user, devices] : local)
        for (auto& [device, id] : devices)
          tell_home(self, id, false);
    },
    [=](atom::devices, const std::string& node, const device_identity& id,
        bool connected) {
      auto& devices = self->state.homed[id.user_id];
      if (connected) {
        devices[id.device_id] = remote_device{id, node};
      } else if (auto d = devices.find(id.device_id);
                 d != devices.end() && d->second.node_id == node) {
        devices.erase(d); // unless it connected elsewhere meanwhile
      }
      push(self, id.user_id, connected ? "" : node);
    },
    [=](atom::routes, const std::string& user,
        const std::vector<remote_device>& devices) {
      std::vector<remote_route> routes;
      for (auto& d : devices)
        if (auto h = handle_of(self, d.node_id))
          routes.push_back(remote_route{d.id, h});
      with_shard(self, user,
                 [self, user, routes = std::move(routes)](
                   const directory_actor& shard) {
                   if (shard)
                     self->send(shard, atom::routes_v, user, routes);
                 });
    },
    [=](atom::forward, const device_identity& sender,
        std::vector<std::string>& devices,
        const std::string& bytes) -> caf::result<uint32_t> {
      auto msg = read_forwarded(self, traffic_kind::message, bytes);
      if (!msg)
        return std::move(msg.error());
      auto rp = self->make_response_promise<uint32_t>();
      forward_here(self, sender, std::move(devices), std::move(*msg), rp);
      return rp;
    },
    [=](atom::publish, const device_identity& sender, const std::string& room,
        const std::string& bytes) -> caf::result<uint32_t> {
      // Every other member node once; those without members answer 0.
      auto& st = self->state;
      std::vector<std::pair<std::string, cluster_actor>> others;
      for (auto& id : st.live)
        if (id != st.params.self.node_id)
          if (auto h = handle_of(self, id))
            others.emplace_back(id, h);
      if (others.empty())
        return uint32_t{0};
      auto rp = self->make_response_promise<uint32_t>();
      auto fi = std::make_shared<fan_in>(rp, others.size());
      for (auto& [id, h] : others) {
        st.metrics->cluster_sent(traffic_kind::batch, bytes.size());
        self
          ->request(h, st.params.request_timeout, atom::room_v, sender, room,
                    bytes)
          .then([fi](uint32_t n) { fi->accepted(n); },
                [self, fi, who = "node " + id](caf::error& err) {
                  fi->failed(who, to_errc(err),
                             reason_of(self->system(), err));
                });
      }
      return rp;
    },
    [=](atom::room, const device_identity& sender, const std::string& room,
        const std::string& bytes) -> caf::result<uint32_t> {
      auto msg = read_forwarded(self, traffic_kind::batch, bytes);
      if (!msg)
        return std::move(msg.error());
      auto rp = self->make_response_promise<uint32_t>();
      publish_here(self, sender, room, std::move(*msg), rp);
      return rp;
    },
    [=](atom::get, atom::members) {
      std::vector<member_info> out{self->state.view.self()};
      for (auto& [id, e] : self->state.view.members())
        out.push_back(e.info);
      return out;
    },
  };
}

} // namespace tether::actors

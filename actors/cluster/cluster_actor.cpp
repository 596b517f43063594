#include "actors/cluster/cluster_actor.hpp"
#include "actors/cluster/cluster_detail.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <caf/actor_system.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/peer_rules.hpp"
#include "actors/directory/placement.hpp"

namespace tether::actors {

namespace cluster_detail {

void publish(self_ptr self) {
  auto& st = self->state;
  if (st.params.board)
    st.params.board->publish(board_rows(st.view));
  st.metrics->cluster_members(static_cast<int64_t>(st.view.live_ids().size()));
}

void link_to(self_ptr self, const member_info& m) {
  self->send(self->state.orchestrator, atom::link_v, m.host, m.port);
}

// Counts and logs a peer message refused for what it claims.
void refuse(self_ptr self, peer_refusal why, const std::string& from,
            const std::string& detail) {
  self->state.metrics->peer_refused(why);
  spdlog::warn("cluster: refused from {}: {} ({})", from, detail,
               to_string(why));
}

void learn(self_ptr self, const std::vector<member_info>& view) {
  for (auto& m : self->state.view.learn(view, wall_ms(self))) {
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

// The link to another member (empty if it is not linked).
peer_link_actor link_of_node(self_ptr self, const std::string& node_id) {
  auto& st = self->state;
  auto i = st.peers.find(node_id);
  return i != st.peers.end() ? i->second : peer_link_actor{};
}

bool is_self(self_ptr self, const std::string& node_id) {
  return node_id == self->state.params.self.node_id;
}

std::string home_of_user(self_ptr self, const std::string& user) {
  auto& live = self->state.live;
  return live[home_of(user_key(user), live)];
}

// Tells the device's home where it is (this node itself as well).
void tell_home(self_ptr self, const remote_device& d) {
  auto home = home_of_user(self, d.id.user_id);
  if (is_self(self, home))
    self->send(self, atom::devices_v, home, d);
  else if (auto h = link_of_node(self, home))
    self->send(h, atom::devices_v, d);
}

// At the user's home: gives each of these nodes the user's devices that
// other nodes hold.
void push(self_ptr self, const std::string& user,
          const std::set<std::string>& nodes) {
  auto& st = self->state;
  for (auto& n : nodes) {
    if (is_self(self, n))
      self->send(self, atom::routes_v, n, user, st.homed.routes_for(user, n));
    else if (auto h = link_of_node(self, n))
      self->send(h, atom::routes_v, user, st.homed.routes_for(user, n));
    else
      st.unsent[n].insert(user);
  }
}

// The replica actor learns the members and the links to them.
void tell_replica(self_ptr self) {
  auto& st = self->state;
  if (!st.replica)
    return;
  auto links = std::make_shared<cluster_links>();
  links->live = st.live;
  for (auto& [id, h] : st.peers)
    if (std::binary_search(st.live.begin(), st.live.end(), id))
      links->peers.emplace(id, h);
  for (auto& m : st.view.view())
    links->stores.emplace(m.node_id, m.store_id);
  self->send(st.replica, atom::members_v, links_ptr{std::move(links)});
}

// The members changed: homes move; devices of members gone are not
// connected any more, their queues wait there.
void rehome(self_ptr self) {
  auto& st = self->state;
  auto live = st.view.live_ids();
  if (live == st.live)
    return;
  st.live = std::move(live);
  auto alive = [&](const std::string& n) {
    return std::binary_search(st.live.begin(), st.live.end(), n);
  };
  std::set<std::string> changed;
  for (auto& user : st.homed.nodes_down(alive))
    changed.insert(user);
  for (auto& user : st.homed.users()) {
    if (home_of_user(self, user) != st.params.self.node_id)
      st.homed.forget(user); // its nodes tell the new home
    else
      changed.insert(user); // routes name the nodes that are gone
  }
  for (auto& user : changed)
    push(self, user, st.homed.nodes_of(user));
  for (auto& [user, devices] : st.local)
    for (auto& [device, d] : devices)
      tell_home(self, d);
  for (auto& [user, devices] : st.heard)
    for (auto d : devices)
      if (!alive(d.node_id)) {
        d.connected = false;
        tell_home(self, d);
      }
  tell_replica(self);
}

// This node holds a queue of the device (with messages another node handed
// over, stored before a restart, or taken over from a leader that is gone)
// of generation `gen`; its home says whether it is elsewhere.
void hold(self_ptr self, const device_identity& id, uint64_t gen) {
  auto& st = self->state;
  auto& devices = st.local[id.user_id];
  if (auto i = devices.find(id.device_id); i != devices.end()) {
    if (gen <= i->second.gen)
      return;
    i->second.gen = gen; // its home learns the newer generation
    tell_home(self, i->second);
    return;
  }
  auto& d = devices[id.device_id];
  d.id = id;
  d.node_id = st.params.self.node_id;
  d.connected = false;
  d.since_ms = 0; // older than any connection
  d.gen = gen;
  tell_home(self, d);
}

// Runs `f` with the directory shard of `user` on this node (empty while
// the directory restarts).
void with_shard(self_ptr self, const std::string& user,
                const std::function<void(const directory_actor&)>& f) {
  self
    ->request(self->state.orchestrator, caf::infinite, atom::get_v,
              atom::directory_v, user)
    .then([f](directory_actor& shard) { f(shard); },
          [f](caf::error&) { f(directory_actor{}); });
}

// Gives the user's shard here the routes its home sent (with this node's
// handles of the nodes named: empty for a node not linked, whose devices
// are then unavailable), and hands over the queues of devices that are
// elsewhere now.
void apply_routes(self_ptr self, const std::string& user,
                  const std::vector<remote_device>& devices) {
  auto& st = self->state;
  std::vector<remote_route> routes;
  // This node's entry, the link to where the queue is, its generation there.
  std::vector<std::tuple<remote_device, peer_link_actor, uint64_t>> moved;
  auto mine = st.local.find(user);
  for (auto& d : devices) {
    auto h = link_of_node(self, d.node_id);
    routes.push_back(remote_route{d.id, h, d.node_id, d.connected, d.gen});
    if (mine == st.local.end())
      continue;
    auto i = mine->second.find(d.id.device_id);
    if (i == mine->second.end()
        || (i->second.connected && d.since_ms < i->second.since_ms))
      continue; // not here, or connected here since later (the home learns)
    // Its queue is there now: the one here goes there (once that node is
    // linked from here: until then the entry stays, and a relink retries),
    // whatever its generation: an older one is merged there (SPEC §14.3).
    if (h)
      moved.emplace_back(i->second, h, d.gen);
  }
  with_shard(self, user,
             [self, user, routes = std::move(routes),
              moved = std::move(moved)](const directory_actor& shard) {
               if (!shard)
                 return;
               self->send(shard, atom::routes_v, user, routes);
               auto& local = self->state.local;
               for (auto& [d, h, gen] : moved) {
                 self->send(shard, atom::handover_v, d.id, h, gen);
                 auto u = local.find(d.id.user_id);
                 if (u == local.end())
                   continue;
                 // Unless it connected here again meanwhile.
                 if (auto i = u->second.find(d.id.device_id);
                     i != u->second.end() && i->second.since_ms == d.since_ms
                     && i->second.connected == d.connected)
                   u->second.erase(i);
                 if (u->second.empty())
                   local.erase(u);
               }
             });
}

// This node's link to `node` came up or ended: the routes naming it get
// its handle, or lose it (its devices are unavailable at once).
void relink_routes(self_ptr self, const std::string& node) {
  for (auto& [user, devices] : self->state.heard)
    if (std::any_of(devices.begin(), devices.end(),
                    [&](auto& d) { return d.node_id == node; }))
      apply_routes(self, user, devices);
}

caf::error refusal(const member_info& peer, peer_verdict v) {
  return make_peer_error(
    v == peer_verdict::is_self ? peer_exit::redundant : peer_exit::refused,
    "refused " + peer.node_id + " at " + peer.address() + ": " + to_string(v));
}

// The node starts (its orchestrator runs): dial the seeds, ping, and let
// the homes of devices with stored messages here say where they are now.
void start(self_ptr self) {
  auto& st = self->state;
  spdlog::info("cluster: node {} on {}, {} seeds", st.params.self.node_id,
               st.params.self.address(), st.params.seeds.size());
  for (auto& [host, port] : st.params.seeds) {
    member_info seed;
    seed.host = host;
    seed.port = port;
    link_to(self, seed);
  }
  publish(self);
  self->delayed_send(self, st.params.heartbeat_interval, atom::tick_v);
  // Stored messages of devices that may be elsewhere now (this node
  // restarted): their homes say where, and the queues follow.
  self->request(st.orchestrator, caf::infinite, atom::get_v, atom::backlog_v)
    .then(
      [self](std::vector<device_record>& records) {
        for (auto& r : records) {
          device_identity id;
          id.user_id = r.user_id;
          id.device_id = r.device_id;
          id.type
            = static_cast<protocol::device_type>(std::min<uint8_t>(r.type, 3));
          id.role = r.role;
          hold(self, id, r.gen);
        }
        if (!records.empty())
          spdlog::info("cluster: {} devices have stored messages here",
                       records.size());
      },
      [self](caf::error& err) {
        spdlog::error("cluster: cannot list the stored messages: {}",
                      self->system().render(err));
      });
}

} // namespace cluster_detail

using namespace cluster_detail;

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self,
        cluster_params params, std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.params = std::move(params);
  st.metrics = std::move(metrics);
  st.view = membership{st.params.self};
  st.live = st.view.live_ids();
  st.clock = wall_clock{self->clock().now(), nullptr};
  return {
    [=](atom::start, orchestrator_actor& orch) {
      self->state.orchestrator = std::move(orch);
      start(self);
    },
    [=](atom::hello, const std::string& from, const member_info& peer)
      -> caf::result<member_info, std::vector<member_info>> {
      auto& st = self->state;
      if (peer.node_id != from) { // the gate checked it; stays true here
        refuse(self, peer_refusal::identity, from,
               "a hello as " + peer.node_id);
        return make_peer_error(peer_exit::refused, "a hello as another node");
      }
      auto v = st.view.check(peer);
      if (v == peer_verdict::wrong_protocol
          || v == peer_verdict::duplicate_id) {
        spdlog::error("cluster: refused {} at {}: {}", peer.node_id,
                      peer.address(), to_string(v));
        return refusal(peer, v);
      }
      // Learned and dialled: it is a member once this node's own link to
      // it is up, not because it said so.
      if (v == peer_verdict::accepted) {
        learn(self, {peer});
        publish(self);
      }
      return {st.view.self(), st.view.view()};
    },
    [=](atom::linked, const std::string& addr, const member_info& peer,
        const std::vector<member_info>& their_view,
        peer_link_actor& link) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto v = st.view.check(peer);
      if (v == peer_verdict::accepted) {
        if (auto i = st.link_of.find(peer.node_id);
            i != st.link_of.end() && i->second != addr) {
          auto& e = st.view.members().at(peer.node_id);
          if (e.state == node_state::alive)
            return make_peer_error(peer_exit::redundant,
                                   peer.node_id + " is linked at " + i->second
                                     + " already");
        }
      }
      if (v != peer_verdict::accepted) {
        if (v != peer_verdict::is_self)
          spdlog::error("cluster: not linking to {} at {}: {}", peer.node_id,
                        peer.address(), to_string(v));
        return refusal(peer, v);
      }
      st.link_of[peer.node_id] = addr;
      st.peers[peer.node_id] = std::move(link);
      st.last_heard[peer.node_id] = wall_ms(self);
      auto e = st.view.link_up(peer, wall_ms(self));
      if (e) {
        log_event(self, *e, peer.address());
        // Rooms tell it their members (and ask for its).
        self->send(st.orchestrator, atom::linked_v, peer.node_id);
      }
      learn(self, their_view);
      publish(self);
      rehome(self);
      // A member that restarted before it was seen gone leaves the live
      // members as they were; its store may be another one.
      if (e && e->kind == member_event::restarted)
        tell_replica(self);
      relink_routes(self, peer.node_id);
      if (auto i = st.unsent.find(peer.node_id); i != st.unsent.end()) {
        auto users = std::move(i->second);
        st.unsent.erase(i);
        for (auto& user : users)
          if (home_of_user(self, user) == st.params.self.node_id)
            push(self, user, {peer.node_id});
      }
      return atom::ok_v;
    },
    [=](atom::unlinked, const std::string& addr, const std::string& node_id) {
      auto& st = self->state;
      auto i = st.link_of.find(node_id);
      if (i == st.link_of.end() || i->second != addr)
        return; // a link that never was this member's (a redundant one)
      st.link_of.erase(i);
      st.peers.erase(node_id);
      auto heard = st.last_heard.find(node_id);
      if (auto e = st.view.link_down(node_id, wall_ms(self))) {
        log_event(self, *e, addr);
        if (heard != st.last_heard.end())
          st.metrics->member_detected(wall_ms(self) - heard->second);
        // Its room members leave after the grace.
        self->send(st.orchestrator, atom::unlinked_v, node_id);
      }
      if (heard != st.last_heard.end())
        st.last_heard.erase(heard);
      publish(self);
      rehome(self);
      relink_routes(self, node_id);
    },
    [=](atom::attach, const device_identity& id, bool connected) {
      auto& st = self->state;
      auto& d = st.local[id.user_id][id.device_id];
      d.id = id;
      d.node_id = st.params.self.node_id;
      d.connected = connected;
      if (connected)
        d.since_ms = wall_ms(self);
      tell_home(self, d);
    },
    [=](atom::closed) {
      for (auto& [user, devices] : self->state.local)
        for (auto& [device, d] : devices)
          if (d.connected) {
            d.connected = false;
            tell_home(self, d);
          }
    },
    [=](atom::devices, const std::string& from, const remote_device& d) {
      auto& live = self->state.live;
      auto alive = std::binary_search(live.begin(), live.end(), d.node_id);
      if (!may_report(from, d.node_id, d.connected, alive)) {
        refuse(self, peer_refusal::claim, from,
               "a report of " + d.id.user_id + "/" + d.id.device_id
                 + " on node " + d.node_id);
        return;
      }
      push(self, d.id.user_id, self->state.homed.report(d));
    },
    [=](atom::routes, const std::string& from, const std::string& user,
        const std::vector<remote_device>& devices) {
      auto& st = self->state;
      auto foreign = std::any_of(devices.begin(), devices.end(),
                                 [&](auto& d) { return d.id.user_id != user; });
      if (!is_home(from, user, st.live) || foreign) {
        refuse(self, peer_refusal::claim, from,
               foreign ? "routes of user " + user + " naming another's device"
                       : "routes of user " + user + ", whose home it is not");
        return;
      }
      if (devices.empty())
        st.heard.erase(user);
      else
        st.heard[user] = devices;
      apply_routes(self, user, devices);
    },
    [=](atom::handover, const std::string& from, const device_identity& id,
        uint64_t gen, const std::vector<std::string>& forms) {
      return take_handover(self, from, id, gen, forms);
    },
    [=](atom::replicate, const std::string& from, replica_batch& b) {
      return take_replica(self, from, b);
    },
    [=](atom::get, atom::replicate, const std::string& from,
        const std::string& leader, const std::string& user,
        const std::string& device, uint64_t gen) {
      return give_replica(self, from, leader, user, device, gen);
    },
    [=](atom::replicate, replica_actor& r) {
      self->state.replica = std::move(r);
      tell_replica(self);
    },
    [=](atom::promote, const device_identity& id, uint64_t gen,
        const std::vector<stored_message>& rows) {
      return take_copy(self, id, gen, rows);
    },
    [=](atom::forward, const std::string& from, const device_identity& sender,
        std::vector<std::string>& devices, const std::string& bytes) {
      return take_forward(self, from, sender, std::move(devices), bytes);
    },
    [=](atom::handled, const std::string& from, const device_identity& by,
        const std::vector<std::string>& devices,
        const std::vector<std::string>& ids) {
      take_handled(self, from, by, devices, ids);
    },
    [=](atom::publish, const device_identity& sender, const std::string& room,
        const std::string& bytes) {
      return relay_publish(self, sender, room, bytes);
    },
    [=](atom::room, const std::string& from, const device_identity& sender,
        const std::string& room, const std::string& bytes) {
      return take_publish(self, from, sender, room, bytes);
    },
    [=](atom::presence, const std::string& room,
        const std::vector<presence_row>& rows, bool full,
        bool ask) { relay_presence(self, room, rows, full, ask); },
    [=](atom::presence, const std::string& from, const std::string& room,
        const std::vector<presence_row>& rows, bool full,
        bool ask) { take_presence(self, from, room, rows, full, ask); },
    [=](atom::tick, const std::string& from) {
      auto& heard = self->state.last_heard;
      if (auto i = heard.find(from); i != heard.end())
        i->second = wall_ms(self);
    },
    [=](atom::tick) {
      auto& st = self->state;
      for (auto& [id, h] : st.peers)
        self->send(h, atom::tick_v);
      self->delayed_send(self, st.params.heartbeat_interval, atom::tick_v);
    },
    [=](atom::get, atom::members) {
      std::vector<member_info> out{self->state.view.self()};
      for (auto& [id, e] : self->state.view.members())
        out.push_back(e.info);
      return out;
    },
    [=](atom::get, atom::overview) { return gather_overviews(self); },
    [=](atom::overview) { return overview_here(self); },
  };
}

} // namespace tether::actors

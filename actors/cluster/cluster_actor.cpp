#include "actors/cluster/cluster_actor.hpp"

#include <caf/actor_system.hpp>
#include <spdlog/spdlog.h>

namespace tether::actors {

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
        const std::vector<member_info>& their_view) -> caf::result<atom::ok> {
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
      if (auto e = st.view.link_up(peer, now_ms(self)))
        log_event(self, *e, peer.address());
      learn(self, their_view);
      publish(self);
      return atom::ok_v;
    },
    [=](atom::unlinked, const std::string& addr, const std::string& node_id) {
      auto& st = self->state;
      auto i = st.link_of.find(node_id);
      if (i == st.link_of.end() || i->second != addr)
        return; // a link that never was this member's
      st.link_of.erase(i);
      if (auto e = st.view.link_down(node_id, now_ms(self)))
        log_event(self, *e, addr);
      publish(self);
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

#include "actors/cluster/gate_actor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/make_actor.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>
#include <spdlog/spdlog.h>

#include "actors/errors.hpp"

namespace tether::actors {

namespace {

using self_ptr = gate_actor::stateful_pointer<gate_state>;

void refuse(self_ptr self, peer_refusal why, const std::string& detail) {
  self->state.params.metrics->peer_refused(why);
  spdlog::warn("cluster: refused {}: {}", detail, to_string(why));
}

// The node the current message came from, if it said hello: its id, else
// "" (the message is refused and counted).
std::string sender_id(self_ptr self, const char* what) {
  auto& sender = self->current_sender();
  if (sender && sender->node() != self->system().node()) {
    auto& peers = self->state.peers;
    if (auto i = peers.find(sender->node()); i != peers.end())
      return i->second.id;
  }
  refuse(self, peer_refusal::unauthenticated,
         std::string{"a "} + what + " from "
           + (sender ? to_string(sender->node()) : std::string{"nobody"})
           + ", which has not said hello");
  return {};
}

caf::error not_a_peer() {
  return make_peer_error(peer_exit::refused, "say hello first");
}

// Relays a request of peer `from` to the cluster actor; the answer goes
// back to the peer from the gate.
template <class T, class... Ts>
caf::result<T> relay(self_ptr self, Ts&&... xs) {
  auto rp = self->make_response_promise<T>();
  self
    ->request(self->state.params.cluster, self->state.params.request_timeout,
              std::forward<Ts>(xs)...)
    .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

// The peer proved (or, in plain mode, claimed) `id`: the cluster actor
// decides whether it is a member.
void admit(
  self_ptr self, const caf::strong_actor_ptr& sender, const member_info& peer,
  caf::typed_response_promise<member_info, std::vector<member_info>> rp) {
  auto node = sender->node();
  auto& peers = self->state.peers;
  if (auto i = peers.find(node);
      i != peers.end() && i->second.id != peer.node_id) {
    refuse(self, peer_refusal::identity,
           "a hello as " + peer.node_id + " from the node of " + i->second.id);
    rp.deliver(make_peer_error(peer_exit::refused,
                               "this node is " + i->second.id + " already"));
    return;
  }
  self
    ->request(self->state.params.cluster, self->state.params.request_timeout,
              atom::hello_v, peer.node_id, peer)
    .then(
      [self, rp, sender, node, id = peer.node_id](
        member_info& me, std::vector<member_info>& view) mutable {
        auto& p = self->state.peers[node];
        p.id = id;
        if (p.links.insert(caf::actor_cast<caf::actor_addr>(sender)).second)
          self->monitor(sender); // forgotten when its links ended
        rp.deliver(std::move(me), std::move(view));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

} // namespace

gate_actor::behavior_type gate(gate_actor::stateful_pointer<gate_state> self,
                               gate_params params) {
  self->state.params = std::move(params);
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view&) -> caf::result<caf::message> {
      refuse(self, peer_refusal::unexpected,
             "a message the cluster port does not take");
      return caf::sec::unexpected_message;
    });
  // A peer's link ended (its process, its connection): its node says
  // hello again before it is heard.
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& peers = self->state.peers;
    auto i = peers.find(dm.source.node());
    if (i != peers.end() && i->second.links.erase(dm.source) > 0
        && i->second.links.empty())
      peers.erase(i);
  });
  return {
    [self](atom::hello, const member_info& peer)
      -> caf::result<member_info, std::vector<member_info>> {
      auto sender = self->current_sender();
      if (!sender || sender->node() == self->system().node()) {
        refuse(self, peer_refusal::unauthenticated, "an anonymous hello");
        return not_a_peer();
      }
      auto rp
        = self->make_response_promise<member_info, std::vector<member_info>>();
      auto& p = self->state.params;
      if (!p.certificates || !p.certificates->verifying()) {
        admit(self, sender, peer, rp); // plain mode: the claim
        return rp;
      }
      // Which connection carries that node, and whose certificate it had.
      self
        ->request(caf::actor_cast<caf::io::middleman_actor>(p.middleman),
                  p.request_timeout, caf::get_atom_v, sender->node())
        .then(
          [self, sender, peer, rp](const caf::node_id&, const std::string& addr,
                                   uint16_t port) mutable {
            auto id = self->state.params.certificates->node_at(addr, port);
            if (id != peer.node_id) {
              refuse(self, peer_refusal::identity,
                     "a hello as " + peer.node_id + " from " + addr + ":"
                       + std::to_string(port) + ", whose certificate is "
                       + (id.empty() ? std::string{"unknown"} : "node " + id));
              rp.deliver(make_peer_error(peer_exit::refused,
                                         "the certificate of this link is not "
                                         "the one of node "
                                           + peer.node_id));
              return;
            }
            admit(self, sender, peer, rp);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](atom::devices, remote_device& d) {
      auto from = sender_id(self, "device report");
      if (!from.empty())
        self->send(self->state.params.cluster, atom::devices_v, from,
                   std::move(d));
    },
    [self](atom::routes, std::string& user, std::vector<remote_device>& ds) {
      auto from = sender_id(self, "route table");
      if (!from.empty())
        self->send(self->state.params.cluster, atom::routes_v, from,
                   std::move(user), std::move(ds));
    },
    [self](atom::handover, device_identity& id, uint64_t gen,
           std::vector<std::string>& forms)
      -> caf::result<std::vector<std::string>> {
      auto from = sender_id(self, "queue handover");
      if (from.empty())
        return not_a_peer();
      return relay<std::vector<std::string>>(
        self, atom::handover_v, from, std::move(id), gen, std::move(forms));
    },
    [self](atom::replicate, replica_batch& b) -> caf::result<bool> {
      auto from = sender_id(self, "replica batch");
      if (from.empty())
        return not_a_peer();
      return relay<bool>(self, atom::replicate_v, from, std::move(b));
    },
    [self](atom::get, atom::replicate, std::string& leader, std::string& user,
           std::string& device,
           uint64_t gen) -> caf::result<std::vector<stored_message>> {
      auto from = sender_id(self, "replica request");
      if (from.empty())
        return not_a_peer();
      return relay<std::vector<stored_message>>(
        self, atom::get_v, atom::replicate_v, from, std::move(leader),
        std::move(user), std::move(device), gen);
    },
    [self](atom::forward, device_identity& sender,
           std::vector<std::string>& devices,
           std::string& bytes) -> caf::result<uint32_t> {
      auto from = sender_id(self, "forwarded message");
      if (from.empty())
        return not_a_peer();
      return relay<uint32_t>(self, atom::forward_v, from, std::move(sender),
                             std::move(devices), std::move(bytes));
    },
    [self](atom::room, device_identity& sender, std::string& room,
           std::string& bytes) -> caf::result<uint32_t> {
      auto from = sender_id(self, "room publish");
      if (from.empty())
        return not_a_peer();
      return relay<uint32_t>(self, atom::room_v, from, std::move(sender),
                             std::move(room), std::move(bytes));
    },
    [self](atom::handled, device_identity& by,
           std::vector<std::string>& devices, std::vector<std::string>& ids) {
      auto from = sender_id(self, "handled request");
      if (!from.empty())
        self->send(self->state.params.cluster, atom::handled_v, from,
                   std::move(by), std::move(devices), std::move(ids));
    },
    [self](atom::presence, std::string& room, std::vector<presence_row>& rows,
           bool full, bool ask) {
      auto from = sender_id(self, "presence list");
      if (!from.empty())
        self->send(self->state.params.cluster, atom::presence_v, from,
                   std::move(room), std::move(rows), full, ask);
    },
    [self](atom::tick) {
      auto from = sender_id(self, "ping");
      if (!from.empty())
        self->send(self->state.params.cluster, atom::tick_v, from);
    },
    [self](atom::overview) -> caf::result<std::string> {
      if (sender_id(self, "overview request").empty())
        return not_a_peer();
      return relay<std::string>(self, atom::overview_v);
    },
  };
}

// -- the filter ------------------------------------------------------------

gate_filter::gate_filter(caf::strong_actor_ptr gate,
                         std::shared_ptr<node_metrics> metrics,
                         std::set<std::string> types)
  : caf::monitorable_actor(caf::actor_config{}.add_flag(
    caf::abstract_actor::is_actor_dot_decorator_flag)),
    gate_(std::move(gate)), metrics_(std::move(metrics)),
    types_(std::move(types)) {
  // nop
}

void gate_filter::gate_ended(const caf::error& reason) {
  cleanup(caf::error{reason}, nullptr);
}

void gate_filter::enqueue(caf::mailbox_element_ptr what,
                          caf::execution_unit* context) {
  auto& msg = what->content();
  caf::strong_actor_ptr gate;
  shared_critical_section([&] { gate = gate_; });
  auto control = msg.size() == 1
                 && (msg.match_element<caf::exit_msg>(0)
                     || msg.match_element<caf::down_msg>(0)
                     || msg.match_element<caf::error>(0));
  auto system = msg.size() > 1 && msg.match_element<caf::sys_atom>(0);
  if (!gate || control || system) {
    if (gate)
      metrics_->peer_refused(peer_refusal::unexpected);
    bounce(what, caf::make_error(caf::sec::unexpected_message));
    return;
  }
  gate->enqueue(std::move(what), context);
}

std::set<std::string> gate_filter::message_types() const {
  return types_;
}

void gate_filter::on_cleanup(const caf::error&) {
  gate_.reset();
}

gate_actor make_gate_filter(caf::actor_system& sys, const gate_actor& gate,
                            std::shared_ptr<node_metrics> metrics) {
  auto types = sys.message_types(gate);
  auto ptr = caf::make_actor<gate_filter, caf::strong_actor_ptr>(
    sys.next_actor_id(), sys.node(), &sys,
    caf::actor_cast<caf::strong_actor_ptr>(gate), std::move(metrics),
    std::move(types));
  // It ends with the gate: by a call, not a message (a down message could
  // be forged by a peer).
  caf::actor_cast<caf::abstract_actor*>(gate)->attach_functor(
    [weak = caf::actor_cast<caf::weak_actor_ptr>(ptr)](const caf::error& why) {
      if (auto f = caf::actor_cast<caf::strong_actor_ptr>(weak))
        static_cast<gate_filter*>(caf::actor_cast<caf::abstract_actor*>(f))
          ->gate_ended(why);
    });
  return caf::actor_cast<gate_actor>(std::move(ptr));
}

} // namespace tether::actors

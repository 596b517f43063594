#include "actors/cluster/peer_link_actor.hpp"

#include <set>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>

namespace tether::actors {

namespace {

caf::io::middleman_actor middleman_of(const peer_link_params& p) {
  return caf::actor_cast<caf::io::middleman_actor>(p.middleman);
}

using self_ptr = peer_link_actor::stateful_pointer<peer_link_state>;

void fail(self_ptr self, peer_exit code, const std::string& why) {
  self->quit(make_peer_error(code, self->state.address() + ": " + why));
}

// Whether the current message comes from an actor of this node (the link
// is the peer's sender: the peer could write to it too).
bool from_here(self_ptr self) {
  auto& sender = self->current_sender();
  if (sender && sender->node() == self->system().node())
    return true;
  self->state.params.metrics->peer_refused(peer_refusal::unexpected);
  return false;
}

caf::error not_linked(self_ptr self) {
  return make_peer_error(peer_exit::unreachable,
                         self->state.address() + ": not linked yet");
}

// Relays a request of this node's actor to the peer and its answer back.
template <class T, class... Ts>
caf::result<T> relay(self_ptr self, Ts&&... xs) {
  if (!from_here(self))
    return caf::sec::unexpected_message;
  auto& st = self->state;
  if (!st.remote)
    return not_linked(self);
  auto rp = self->make_response_promise<T>();
  self->request(st.remote, st.params.request_timeout, std::forward<Ts>(xs)...)
    .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

// Sends a message of this node's actor on to the peer.
template <class... Ts>
void pass(self_ptr self, Ts&&... xs) {
  if (from_here(self) && self->state.remote)
    self->send(self->state.remote, std::forward<Ts>(xs)...);
}

// The peer answered the hello: this node's cluster actor decides.
void linked(self_ptr self, const member_info& peer,
            const std::vector<member_info>& view) {
  auto& st = self->state;
  self
    ->request(st.local, caf::infinite, atom::linked_v, st.address(), peer, view,
              caf::actor_cast<peer_link_actor>(self))
    .then(
      [self, peer](atom::ok) {
        auto& st = self->state;
        self->monitor(st.remote);
        // However the link ends, the view learns it once.
        self->attach_functor([local = st.local, addr = st.address(),
                              id = peer.node_id](const caf::error&) {
          caf::anon_send(local, atom::unlinked_v, addr, id);
        });
      },
      [self](caf::error& err) { self->quit(std::move(err)); });
}

void hello(self_ptr self) {
  auto& st = self->state;
  self->request(st.remote, st.params.timeout, atom::hello_v, st.params.self)
    .then(
      [self](member_info& peer, std::vector<member_info>& view) {
        auto& st = self->state;
        if (st.params.certificates && st.params.certificates->verifying()
            && peer.node_id != st.certified) {
          st.params.metrics->peer_refused(peer_refusal::identity);
          fail(self, peer_exit::refused,
               "answers as node " + peer.node_id
                 + ", but its certificate names node " + st.certified);
          return;
        }
        linked(self, peer, view);
      },
      [self](caf::error& err) {
        if (err.category() == peer_category) {
          self->quit(std::move(err));
          return;
        }
        fail(self, peer_exit::unreachable,
             "no answer to hello: " + self->system().render(err));
      });
}

// Which node the certificate of the connection names (mutual TLS).
void certify(self_ptr self, const caf::node_id& node) {
  auto& st = self->state;
  self
    ->request(middleman_of(st.params), st.params.timeout, caf::get_atom_v, node)
    .then(
      [self](const caf::node_id&, const std::string& addr, uint16_t port) {
        auto& st = self->state;
        st.certified = st.params.certificates->node_at(addr, port);
        if (st.certified.empty()) {
          fail(self, peer_exit::unreachable,
               "no certificate is known for the connection");
          return;
        }
        hello(self);
      },
      [self](caf::error& err) {
        fail(self, peer_exit::unreachable, self->system().render(err));
      });
}

} // namespace

peer_link_actor::behavior_type
peer_link(peer_link_actor::stateful_pointer<peer_link_state> self,
          peer_link_params params, cluster_actor local) {
  auto& st = self->state;
  st.params = std::move(params);
  st.local = std::move(local);
  self
    ->request(middleman_of(st.params), st.params.timeout, caf::connect_atom_v,
              st.params.host, st.params.port)
    .then(
      [self](const caf::node_id& node, caf::strong_actor_ptr& ptr,
             const std::set<std::string>& ifs) {
        if (!ptr) {
          fail(self, peer_exit::unreachable, "no cluster gate published");
          return;
        }
        // What a peer of another build understands: the whole interface.
        if (ifs != self->system().message_types<gate_actor>()) {
          fail(self, peer_exit::refused,
               "the peer speaks another cluster protocol (its gate's "
               "interface differs from this node's)");
          return;
        }
        auto& st = self->state;
        st.remote = caf::actor_cast<gate_actor>(std::move(ptr));
        if (st.params.certificates && st.params.certificates->verifying())
          certify(self, node);
        else
          hello(self);
      },
      [self](caf::error& err) {
        fail(self, peer_exit::unreachable, self->system().render(err));
      });
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source != self->state.remote.address())
      return; // not the peer's gate: not for this link
    fail(self, peer_exit::lost,
         "link lost: " + self->system().render(dm.reason));
  });
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view&) -> caf::result<caf::message> {
      self->state.params.metrics->peer_refused(peer_refusal::unexpected);
      return caf::sec::unexpected_message;
    });
  return {
    [self](atom::stop) {
      if (from_here(self))
        self->quit();
    },
    [self](atom::devices, remote_device& d) {
      pass(self, atom::devices_v, std::move(d));
    },
    [self](atom::routes, std::string& user, std::vector<remote_device>& ds) {
      pass(self, atom::routes_v, std::move(user), std::move(ds));
    },
    [self](atom::handover, device_identity& id, uint64_t gen,
           std::vector<std::string>& forms)
      -> caf::result<std::vector<std::string>> {
      return relay<std::vector<std::string>>(
        self, atom::handover_v, std::move(id), gen, std::move(forms));
    },
    [self](atom::replicate, replica_batch& b) -> caf::result<bool> {
      return relay<bool>(self, atom::replicate_v, std::move(b));
    },
    [self](atom::get, atom::replicate, std::string& leader, std::string& user,
           std::string& device,
           uint64_t gen) -> caf::result<std::vector<stored_message>> {
      return relay<std::vector<stored_message>>(
        self, atom::get_v, atom::replicate_v, std::move(leader),
        std::move(user), std::move(device), gen);
    },
    [self](atom::forward, device_identity& sender,
           std::vector<std::string>& devices,
           std::string& bytes) -> caf::result<uint32_t> {
      return relay<uint32_t>(self, atom::forward_v, std::move(sender),
                             std::move(devices), std::move(bytes));
    },
    [self](atom::room, device_identity& sender, std::string& room,
           std::string& bytes) -> caf::result<uint32_t> {
      return relay<uint32_t>(self, atom::room_v, std::move(sender),
                             std::move(room), std::move(bytes));
    },
    [self](atom::handled, device_identity& by,
           std::vector<std::string>& devices, std::vector<std::string>& ids) {
      pass(self, atom::handled_v, std::move(by), std::move(devices),
           std::move(ids));
    },
    [self](atom::presence, std::string& room, std::vector<presence_row>& rows,
           bool full, bool ask) {
      pass(self, atom::presence_v, std::move(room), std::move(rows), full, ask);
    },
    [self](atom::tick) { pass(self, atom::tick_v); },
    [self](atom::overview) -> caf::result<std::string> {
      return relay<std::string>(self, atom::overview_v);
    },
  };
}

} // namespace tether::actors

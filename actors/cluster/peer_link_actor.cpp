#include "actors/cluster/peer_link_actor.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/node_id.hpp>

namespace tether::actors {

namespace {

using self_ptr = peer_link_actor::stateful_pointer<peer_link_state>;

void fail(self_ptr self, peer_exit code, const std::string& why) {
  self->quit(make_peer_error(code, self->state.address() + ": " + why));
}

// The peer answered the hello: this node's cluster actor decides.
void linked(self_ptr self, const member_info& peer,
            const std::vector<member_info>& view) {
  auto& st = self->state;
  self
    ->request(st.local, caf::infinite, atom::linked_v, st.address(), peer, view,
              caf::actor_cast<caf::actor>(st.remote))
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
    .then([self](member_info& peer,
                 std::vector<member_info>& view) { linked(self, peer, view); },
          [self](caf::error& err) {
            if (err.category() == peer_category) {
              self->quit(std::move(err));
              return;
            }
            fail(self, peer_exit::unreachable,
                 "no answer to hello: " + self->system().render(err));
          });
}

} // namespace

peer_link_actor::behavior_type
peer_link(peer_link_actor::stateful_pointer<peer_link_state> self,
          peer_link_params params, cluster_actor local) {
  auto& st = self->state;
  st.params = std::move(params);
  st.local = std::move(local);
  auto mm = self->system().middleman().actor_handle();
  self
    ->request(mm, st.params.timeout, caf::connect_atom_v, st.params.host,
              st.params.port)
    .then(
      [self](const caf::node_id&, caf::strong_actor_ptr& ptr,
             const std::set<std::string>& ifs) {
        if (!ptr) {
          fail(self, peer_exit::unreachable, "no cluster actor published");
          return;
        }
        // What a peer of another build understands: the whole interface.
        if (ifs != self->system().message_types<cluster_actor>()) {
          fail(self, peer_exit::refused,
               "the peer speaks another cluster protocol (its cluster "
               "interface differs from this node's)");
          return;
        }
        self->state.remote = caf::actor_cast<cluster_actor>(std::move(ptr));
        hello(self);
      },
      [self](caf::error& err) {
        fail(self, peer_exit::unreachable, self->system().render(err));
      });
  self->set_down_handler([self](const caf::down_msg& dm) {
    fail(self, peer_exit::lost,
         "link lost: " + self->system().render(dm.reason));
  });
  return {
    [self](atom::stop) { self->quit(); },
  };
}

} // namespace tether::actors

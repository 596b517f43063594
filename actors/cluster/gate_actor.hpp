#pragma once

// The GATE: the one actor a node publishes on its cluster port (SPEC
// §14.2). Other nodes' peer links talk to it, and only to it:
//
// * a peer says hello first; the gate asks the middleman which connection
//   carries that peer's node and the transport (peer_certificates) which
//   node id that connection's certificate names, and takes the hello only
//   if it names the id the peer claims (in plain mode, the claim);
// * every later message is taken only from a node that said hello, and is
//   handed to this node's CLUSTER actor with that node's id, which checks
//   what it claims; the answers go back through the gate, so a peer never
//   learns the handle of any other actor of this node;
// * anything else (a node that did not say hello, an anonymous sender, a
//   message not of gate_actor) is refused and counted in /metrics.
//
// What the cluster port actually publishes is a filter in front of the gate.
// In CAF 0.17 any node that can address an actor can send it an exit
// message, and `exit_reason::kill` cannot be trapped; it can also send
// down messages and system requests. The filter is not a scheduled actor:
// it forwards each message to the gate as it arrives (sender and request
// id kept, so answers go straight back), except those, which it drops and
// counts. It ends with the gate, never by a message.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster/peer_certificates.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct gate_params {
  cluster_actor cluster;
  /// Whose connections carry the cluster (it tells a node's address): the
  /// transport's caf::io::middleman_actor, untyped here so that the
  /// cluster's headers do not bring CAF's io module to their includers.
  caf::actor middleman;
  std::shared_ptr<peer_certificates> certificates;
  std::shared_ptr<node_metrics> metrics;
  /// Bounds what the gate asks of this node (node.request_timeout).
  std::chrono::milliseconds request_timeout
    = config::node_settings{}.request_timeout;
};

/// A node that said hello: its id, and its links that did (monitored: the
/// node is forgotten once all of them ended).
struct gate_peer {
  std::string id;
  std::set<caf::actor_addr> links;
};

struct gate_state {
  gate_params params;
  /// The peers that said hello, by the CAF node they speak from.
  std::map<caf::node_id, gate_peer> peers;

  static inline const char* name = "gate";
};

gate_actor::behavior_type gate(gate_actor::stateful_pointer<gate_state> self,
                               gate_params params);

class gate_filter final : public caf::monitorable_actor {
public:
  gate_filter(caf::strong_actor_ptr gate, std::shared_ptr<node_metrics> metrics,
              std::set<std::string> types);

  /// Ends the filter with the gate (called by the gate's exit).
  void gate_ended(const caf::error& reason);

  void enqueue(caf::mailbox_element_ptr what,
               caf::execution_unit* context) override;

  std::set<std::string> message_types() const override;

  const char* name() const override { return "gate_filter"; }

protected:
  void on_cleanup(const caf::error& reason) override;

private:
  caf::strong_actor_ptr gate_;
  std::shared_ptr<node_metrics> metrics_;
  std::set<std::string> types_;
};

/// Makes the filter in front of `gate` (it ends when the gate ends), as a
/// handle of the gate's type, for publishing.
gate_actor make_gate_filter(caf::actor_system& sys, const gate_actor& gate,
                            std::shared_ptr<node_metrics> metrics);

} // namespace tether::actors

#pragma once

// A PEER LINK: this node's link to one other node's GATE, and the only
// actor of this node that other node ever hears from. It dials the address
// through the cluster's middleman (mutual TLS, runtime/cluster_transport)
// without blocking, checks that the peer publishes the same gate
// interface, says hello, and checks that the node answering is the one its
// connection's certificate names. Then it tells this node's cluster actor,
// monitors the peer's gate, and relays this node's messages to it (and the
// answers back), taking them from this node's own actors only. When the
// link ends (the peer died, the middleman's heartbeat timed out, the
// connection failed) the actor quits with a peer_category error and the
// orchestrator dials again after its backoff: reconnecting is a restart.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster/membership.hpp"
#include "actors/cluster/peer_certificates.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "config/settings.hpp"

namespace tether::actors {

struct peer_link_params {
  std::string host;
  uint16_t port = 0;
  /// What this node says in its hello.
  member_info self;
  /// Bounds the dial and the hello (cluster.connection_timeout).
  std::chrono::milliseconds timeout
    = config::cluster_settings{}.connection_timeout;
  /// Bounds a relayed request (node.request_timeout).
  std::chrono::milliseconds request_timeout
    = config::node_settings{}.request_timeout;
  /// The cluster's middleman (its transport's caf::io::middleman_actor,
  /// untyped as in gate_params), and what it proves.
  caf::actor middleman;
  std::shared_ptr<peer_certificates> certificates;
  std::shared_ptr<node_metrics> metrics;
};

struct peer_link_state {
  peer_link_params params;
  cluster_actor local;
  gate_actor remote;
  /// The node id its certificate names (verifying transports).
  std::string certified;

  std::string address() const {
    return params.host + ":" + std::to_string(params.port);
  }

  static inline const char* name = "peer_link";
};

peer_link_actor::behavior_type
peer_link(peer_link_actor::stateful_pointer<peer_link_state> self,
          peer_link_params params, cluster_actor local);

} // namespace tether::actors

#pragma once

// A PEER LINK: this node's link to one other node's cluster actor. It dials
// the address through CAF's middleman (without blocking), checks that the
// peer publishes the same cluster interface, says hello, reports the peer
// to this node's cluster actor and monitors it. When the link ends (the
// peer died, the middleman's heartbeat timed out, the connection failed)
// the actor quits with a peer_category error and the orchestrator dials
// again after its backoff: reconnecting is a restart.

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster/membership.hpp"
#include "actors/interfaces.hpp"

namespace tether::actors {

struct peer_link_params {
  std::string host;
  uint16_t port = 0;
  /// What this node says in its hello.
  member_info self;
  /// Bounds the dial and the hello (cluster.connection_timeout).
  std::chrono::milliseconds timeout{5000};
};

struct peer_link_state {
  peer_link_params params;
  cluster_actor local;
  cluster_actor remote;

  std::string address() const {
    return params.host + ":" + std::to_string(params.port);
  }

  static inline const char* name = "peer_link";
};

peer_link_actor::behavior_type
peer_link(peer_link_actor::stateful_pointer<peer_link_state> self,
          peer_link_params params, cluster_actor local);

} // namespace tether::actors

#pragma once

// Where a node's settings become the params of its parts: every mapping
// from config::settings in one place (node.cpp adds the handles, files and
// secrets only it has). The params' defaults are the settings' defaults,
// so a node on default settings runs its parts as the tests do
// (test/runtime/node_params.cpp checks it field by field).

#include "actors/cluster/cluster_actor.hpp"
#include "actors/cluster/gate_actor.hpp"
#include "actors/orchestrator/orchestrator_actor.hpp"
#include "config/settings.hpp"
#include "runtime/cluster_transport_params.hpp"
#include "runtime/ws_server.hpp"

namespace tether::runtime {

/// The orchestrator's params and those of what it spawns (queues, store,
/// connections and their batchers, directory shards, rooms, peer links).
actors::orchestrator_params orchestrator_params_of(const config::settings& s);

/// The WebSocket and HTTP server's params (no secret, no API keys: files
/// the node reads).
server_params server_params_of(const config::settings& s);

/// The cluster actor's params (no board: the node's).
actors::cluster_params cluster_params_of(const config::settings& s,
                                         const actors::member_info& self);

/// The gate on the cluster port (no handles: the node's).
actors::gate_params gate_params_of(const config::settings& s);

/// The cluster port's transport (no credentials: checked by the node).
cluster_transport_params transport_params_of(const config::settings& s);

} // namespace tether::runtime

#pragma once

// The server API for backends (SPEC §15), behind auth.api_keys_file: send a
// message to a user's devices (direct, extension, user broadcast) with the
// socket path's validation and error codes, acknowledged like a device's
// send (durable ones once on disk), and a node's stats. The listener checks
// the key; this answers the request through the node's actors.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/interfaces.hpp"
#include "protocol/codec.hpp"

namespace tether::runtime {

struct api_context {
  caf::actor_system* sys = nullptr;
  actors::orchestrator_actor orchestrator;
  /// This node's cluster actor (empty on a single node).
  actors::cluster_actor cluster;
  protocol::limits limits;
  /// Bounds each request into the actors (node.request_timeout).
  std::chrono::milliseconds timeout{5000};
  /// The node's stats (JSON object).
  std::function<std::string()> stats;
  /// Starts the node's drain and stop; the answer's body (empty: the node
  /// cannot, answered 501).
  std::function<std::string()> drain;
};

/// Answers one authenticated request: `reply(http status, JSON body)`,
/// called once, from any thread.
void serve_api(const api_context& ctx, const std::string& method,
               const std::string& path, const std::string& body,
               std::function<void(unsigned, std::string)> reply);

/// Reads auth.api_keys_file: one key per line ("name key" or "key"), '#'
/// comments; a key has at least 16 characters. Throws std::runtime_error
/// naming the file and line (never the key).

} // namespace tether::runtime

#pragma once

// The PUSHER actor: one per node. A device's queue asks it for a push
// (push_policy decides when); it reads the device's addresses from the
// store and posts one request per address through the node's push
// transport (runtime/push_http). A provider's answer decides what follows:
// 2xx sent; 410 (the token is dead) removes the address; 429, 5xx or no
// answer are tried again after a backoff (1 s doubling, or the
// Retry-After the provider gave, at most an hour) up to push.max_retries;
// anything else failed. Every outcome is counted (tether_push_total).
// Providers with no settings on this node are counted `unconfigured`.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/push_transport.hpp"
#include "actors/wall_clock.hpp"

namespace tether::actors {

struct pusher_params {
  /// Where webhook pushes are POSTed; empty: no webhook.
  std::string webhook_url;
  /// The HMAC-SHA256 key of X-Tether-Signature.
  std::string webhook_secret;
  uint32_t max_retries = 5;
  /// TEST SEAM (wall_clock.hpp): zero or null in production.
  test_clock_skew_ptr test_clock_skew;
};

struct pusher_state {
  struct pending {
    push_request request;
    protocol::push_address address;
    push_post post;
    uint32_t attempt = 0;
  };

  pusher_params params;
  std::shared_ptr<push_transport> transport;
  store_actor store;
  std::shared_ptr<node_metrics> metrics;
  wall_clock clock;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, pending> posts;

  static inline const char* name = "pusher";
};

pusher_actor::behavior_type
pusher(pusher_actor::stateful_pointer<pusher_state> self,
       std::shared_ptr<push_transport> transport, store_actor store,
       std::shared_ptr<node_metrics> metrics, pusher_params params);

/// How long to wait before try `attempt` (1-based) of a post the provider
/// answered with `retry_after` (its header; empty if none): that many
/// seconds if it is a number (at most an hour), else 1 s doubling per
/// attempt up to 5 minutes.
std::chrono::milliseconds push_backoff(uint32_t attempt,
                                       const std::string& retry_after);

} // namespace tether::actors

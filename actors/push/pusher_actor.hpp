#pragma once

// The PUSHER actor: one per node. A device's queue asks it for a push
// (push_policy decides when); it reads the device's addresses from the
// store and posts one request per address through the node's push
// transport (runtime/push_http): APNs with a provider token (ES256 JWT,
// renewed every 50 minutes or when APNs refuses it), FCM HTTP v1 with an
// access token its service account's assertion bought (cached until five
// minutes before it expires; posts wait for it), or the signed webhook.
// A provider's answer decides what follows (protocol::judge_answer): sent;
// dead removes the address; 429, 5xx or no answer are tried again after a
// backoff (1 s doubling, or the Retry-After the provider gave, at most an
// hour) up to push.max_retries; a refused credential is renewed and the
// post tried again (within the same budget); anything else failed. Every
// outcome is counted (tether_push_total). Providers with no settings on
// this node are counted `unconfigured`.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/push_transport.hpp"
#include "actors/wall_clock.hpp"
#include "protocol/push_auth.hpp"

namespace tether::actors {

struct apns_params {
  /// The .p8 key (EC P-256); empty: no APNs on this node.
  protocol::private_key key;
  std::string key_id;
  std::string team_id;
  /// For addresses registered without a topic.
  std::string topic;
  std::string url = "https://api.push.apple.com";
  std::string sandbox_url = "https://api.sandbox.push.apple.com";
};

struct fcm_params {
  /// The service account's key (RSA); empty: no FCM on this node.
  protocol::private_key key;
  protocol::service_account account;
  std::string url = "https://fcm.googleapis.com";
  /// Where the assertion is exchanged; empty: the account's token_uri.
  std::string token_url;
};

struct pusher_params {
  /// Where webhook pushes are POSTed; empty: no webhook.
  std::string webhook_url;
  /// The HMAC-SHA256 key of X-Tether-Signature.
  std::string webhook_secret;
  apns_params apns;
  fcm_params fcm;
  uint32_t max_retries = 5;
  /// TEST SEAM (wall_clock.hpp): zero or null in production.
  test_clock_skew_ptr test_clock_skew;
};

struct pusher_state {
  struct pending {
    push_request request;
    protocol::push_address address;
    uint32_t attempt = 0;
  };

  pusher_params params;
  std::shared_ptr<push_transport> transport;
  store_actor store;
  std::shared_ptr<node_metrics> metrics;
  wall_clock clock;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, pending> posts;
  /// The APNs provider token and when it was made (wall ms).
  std::string apns_token;
  int64_t apns_token_ms = 0;
  /// The FCM access token and until when it is used (wall ms).
  std::string fcm_token;
  int64_t fcm_token_until_ms = 0;
  /// Whether the token request is out, and the posts that wait for it.
  bool fcm_asking = false;
  std::vector<uint64_t> fcm_waiting;

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

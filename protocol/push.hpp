#pragma once

// The payloads of a device's push requests (target `cloud`, SPEC §6.2):
// tether.push.register, tether.push.unregister and tether.lifecycle.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/model.hpp"
#include "protocol/validate.hpp"

namespace tether::protocol {

enum class push_provider : uint8_t { apns, fcm, webhook };

std::string_view to_string(push_provider x) noexcept;
bool from_string(std::string_view s, push_provider& x) noexcept;

/// Where a device's pushes go: one per device and provider.
struct push_address {
  push_provider provider = push_provider::apns;
  /// The provider's device token (APNs: hex; FCM: its registration token;
  /// webhook: whatever the app's push service knows the device by).
  std::string token;
  /// APNs only: the app's bundle id (empty: push.apns.topic).
  std::string topic;
  /// APNs only: the sandbox environment instead of production.
  bool sandbox = false;

  friend bool operator==(const push_address& a, const push_address& b) {
    return a.provider == b.provider && a.token == b.token && a.topic == b.topic
           && a.sandbox == b.sandbox;
  }
};

/// Longest token accepted, in bytes.
constexpr size_t max_push_token = 1024;

/// tether.push.register: {"provider", "token", "topic"?, "environment"?}.
/// Keys it does not know are refused (a misspelt "environment" must not
/// silently mean production).
bool read_push_register(const raw_value& payload, push_address& out,
                        std::vector<field_error>& errors);

/// tether.push.unregister: {"provider"?}; without one, every provider.
bool read_push_unregister(const raw_value& payload,
                          std::optional<push_provider>& out,
                          std::vector<field_error>& errors);

/// What a push says (SPEC §5.10): the device and its address, the waiting
/// messages that called for it (their ids, at most max_webhook_ids), how
/// many wait in all, the highest priority among them, and the text to show
/// (none: a silent background wake-up).
struct push_notice {
  std::string user_id;
  std::string device_id;
  push_address address;
  std::vector<std::string> message_ids;
  priority top = priority::normal;
  uint32_t count = 0;
  std::optional<notification_info> notification;
};

constexpr size_t max_webhook_ids = 100;

/// One collapse id per device (APNs apns-collapse-id, FCM collapse_key):
/// "tether-" and 32 hex digits of SHA-256(user id, device id), so a phone
/// shows one notification however many pushes came (and no id leaks).
std::string push_collapse_id(const std::string& user_id,
                             const std::string& device_id);

/// A provider's request: the path after its base URL, the headers beyond
/// Content-Type (`Name: value`) and the body.
struct provider_request {
  std::string path;
  std::vector<std::string> headers;
  std::string body;
};

/// The JSON body of a webhook push.
std::string webhook_body(const push_notice& p);

/// The APNs request (token authentication, `bearer` the provider token):
/// POST /3/device/<token>; apns-topic the address's (else
/// `default_topic`); a notification is an alert (priority 10), otherwise a
/// background wake-up (content-available, priority 5); apns-collapse-id
/// per device; apns-expiration `expires_s` (0: deliver now or never).
provider_request apns_request(const push_notice& p,
                              const std::string& default_topic,
                              const std::string& bearer, int64_t expires_s);

/// The FCM HTTP v1 request: POST /v1/projects/<project>/messages:send, a
/// high-priority Android message with the device's collapse_key, data
/// {tether, count, priority, messageIds} (strings, as FCM requires) and
/// the notification, if any.
provider_request fcm_request(const push_notice& p,
                             const std::string& project_id,
                             const std::string& access_token);

/// What a provider's answer means for the push and the address.
enum class push_verdict : uint8_t {
  sent,   // 2xx
  dead,   // the token is gone: APNs 410 or BadDeviceToken, FCM UNREGISTERED,
          // a webhook's 410
  retry,  // 429, 5xx or no answer: again after a backoff
  renew,  // the credential was refused (APNs ExpiredProviderToken, FCM
          // 401): a new one, then again
  failed, // anything else
};

push_verdict judge_answer(push_provider provider, long status,
                          std::string_view body);

/// X-Tether-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" keyed with `secret`>".
std::string webhook_signature(const std::string& secret, int64_t unix_seconds,
                              const std::string& body);

enum class app_state : uint8_t { foreground, background };

/// tether.lifecycle: {"state": "foreground" | "background"}.
bool read_lifecycle(const raw_value& payload, app_state& out,
                    std::vector<field_error>& errors);

} // namespace tether::protocol

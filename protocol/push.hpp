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

/// What a webhook push says (SPEC §5.10): the device and its address's
/// token, the waiting messages that called for it (their ids, at most
/// max_webhook_ids), how many wait in all and the highest priority among
/// them.
struct webhook_push {
  std::string user_id;
  std::string device_id;
  std::string token;
  std::vector<std::string> message_ids;
  priority top = priority::normal;
  uint32_t count = 0;
};

constexpr size_t max_webhook_ids = 100;

/// The JSON body of a webhook push.
std::string webhook_body(const webhook_push& p);

/// X-Tether-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" keyed with `secret`>".
std::string webhook_signature(const std::string& secret, int64_t unix_seconds,
                              const std::string& body);

enum class app_state : uint8_t { foreground, background };

/// tether.lifecycle: {"state": "foreground" | "background"}.
bool read_lifecycle(const raw_value& payload, app_state& out,
                    std::vector<field_error>& errors);

} // namespace tether::protocol

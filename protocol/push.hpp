#pragma once

// The payloads of a device's push requests (target `cloud`, SPEC §6.2):
// tether.push.register, tether.push.unregister and tether.lifecycle.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
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

enum class app_state : uint8_t { foreground, background };

/// tether.lifecycle: {"state": "foreground" | "background"}.
bool read_lifecycle(const raw_value& payload, app_state& out,
                    std::vector<field_error>& errors);

} // namespace tether::protocol

#pragma once

// The envelope rules of protocol 1.x (SPEC.md §Validation). They apply to
// every MobileMessage whatever its `type` says; the original keyed its rules
// by `type`, so that only `type: "mobile_message"` could ever pass.

#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/model.hpp"

namespace tether::protocol {

/// Longest id-like string (ids, user and device ids, session ids).
inline constexpr size_t max_id_length = 255;
/// Longest `type`.
inline constexpr size_t max_type_length = 100;
/// Longest optimization.notification title and body, in bytes (a push's
/// payload is at most 4 KB at APNs and FCM).
inline constexpr size_t max_notification_title = 256;
inline constexpr size_t max_notification_body = 1024;

/// Appends a {field, message} for every rule `m` breaks: lengths, the
/// protocolVersion pattern, TTL range and the conditional rules (target
/// `device` needs `destination.deviceId`, `broadcast` needs
/// `destination.broadcast`, scope `device_type` needs a device type filter).
void validate(const mobile_message& m, const limits& lim,
              std::vector<field_error>& errors);

/// Appends the DeviceInfo rules, each field prefixed with `prefix`.
void validate(const device_info& d, std::string_view prefix,
              std::vector<field_error>& errors);

/// Checks a protocolVersion string. Returns `none` for 1.x (x.y.z digits),
/// `validation_error` if it does not look like a version and
/// `unsupported_version` for another major version; `message` names the
/// supported range.
errc check_version(std::string_view version, std::string& message);

/// Whether `type` is in the server's namespace `tether.*`: devices may use
/// it only for requests to the server (target `cloud`).
bool is_server_type(std::string_view type) noexcept;

/// Room names: 1-200 characters of A-Z a-z 0-9 _ - . : @ (so that
/// `user:<id>:...` names and dotted topics fit).
bool valid_room_name(std::string_view name) noexcept;

/// Keeps only the first error per field (a missing field must not also be
/// reported as too short).
void dedupe(std::vector<field_error>& errors);

/// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s) noexcept;

/// The length of the longest well-formed UTF-8 prefix of `s`: `s.size()`
/// if all of it is, else the offset of the first byte that is not.
size_t utf8_prefix(std::string_view s) noexcept;

} // namespace tether::protocol

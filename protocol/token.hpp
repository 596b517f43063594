#pragma once

// Device tokens: JWT (RFC 7519) signed with HMAC-SHA256 (alg HS256), so any
// JWT library can mint them. Only HS256 is accepted; `alg: none` and every
// other algorithm are refused. Claims are listed in SPEC.md §Authentication.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/model.hpp"

namespace tether::protocol {

struct token_claims {
  /// `sub`: the user the device belongs to.
  std::string user_id;
  /// `device_id`.
  std::string device_id;
  /// `device_type`: mobile, desktop, web or tablet.
  device_type type = device_type::mobile;
  /// `role`: empty or e.g. "extension" (the user's editor extension).
  std::string role;
  /// `iat`, `exp` and the optional `nbf`, in seconds since the epoch.
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> not_before;
};

enum class token_error : uint8_t {
  none,
  malformed,         // not three base64url parts of JSON objects
  bad_algorithm,     // header alg other than HS256 (including "none")
  bad_signature,     // signature does not match the secret
  expired,           // exp (plus leeway) is in the past
  not_yet_valid,     // nbf (minus leeway) is in the future
  bad_claims,        // a required claim is missing or invalid
  reserved_identity, // sub "system" or device_id "server": the server's
                     // own identity on the wire (SPEC §9)
};

std::string_view to_string(token_error x) noexcept;

/// Signs `claims` with `secret` and returns the compact JWT.
std::string issue_token(const token_claims& claims, std::string_view secret);

/// Verifies signature, algorithm and time claims at `now_s` (seconds since
/// the epoch), allowing `leeway_s` of clock skew. On success fills `out`.
token_error verify_token(std::string_view token, std::string_view secret,
                         int64_t now_s, int64_t leeway_s, token_claims& out);

/// 32 bytes from the OS CSPRNG, hex encoded (64 characters).
std::string generate_secret();

/// HMAC-SHA256 of `data` keyed with `secret` (32 raw bytes).
std::string hmac_sha256(std::string_view secret, std::string_view data);

} // namespace tether::protocol

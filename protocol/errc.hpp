#pragma once

// Error codes of protocol 1.x and WebSocket close codes, with the one table
// that maps an error to a close code. Wire spellings are in protocol/SPEC.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol {

/// Why the server refused something. Carried on the wire as `error.code` of a
/// failed MessageAck (the UPPER_SNAKE spelling returned by `to_code`).
enum class errc : uint8_t {
  none = 0,
  malformed_frame,      // not JSON / msgpack, not an object, wrong frame type
  validation_error,     // envelope rules failed; details.errors lists them
  unsupported_version,  // protocolVersion outside 1.x
  source_mismatch,      // source claims another user, device or type
  forbidden,            // target outside the sender's own user
  unknown_device,       // destination.deviceId is not a device of the user
  device_offline,       // recipient not connected and the message not queued
  no_recipients,        // no device matches the target (e.g. no extension)
  unsupported_target,   // target `cloud` with a type the server does not serve
  rate_limited,         // inbound message rate above the per-connection limit
  message_too_large,    // payload or batch over a configured cap
  queue_overflow,       // recipient queue full and nothing evictable
  decompression_failed, // compressed frame corrupt or over the inflate cap
  timeout,              // an internal request did not complete in time
  internal_error,       // a server fault; the message was not accepted
  shutting_down,        // the node is draining; reconnect elsewhere
  node_unavailable, // the recipient's queue is on a cluster node that is down
};

/// The last code: every code is in [1, errc_last] (a new one goes before
/// this line and becomes it).
inline constexpr errc errc_last = errc::node_unavailable;

/// The wire spelling, e.g. "VALIDATION_ERROR".
std::string_view to_code(errc x) noexcept;

/// Whether resending the same message later can succeed.
bool retryable(errc x) noexcept;

/// WebSocket close codes used by Tether (RFC 6455 plus the 4000-4999
/// application range). 4000-4499 invite a reconnect, 4500-4999 do not.
enum class close_code : uint16_t {
  normal = 1000,
  going_away = 1001,        // node shutting down; reconnect (elsewhere)
  protocol_error = 1002,    // WebSocket protocol violation (Beast)
  unsupported_data = 1003,  // binary frame on a JSON session etc.
  invalid_payload = 1007,   // text frame with invalid UTF-8 (Beast)
  policy_violation = 1008,  // too many rejected frames; terminal
  too_big = 1009,           // frame above limits.max_message_bytes
  internal_error = 1011,    // server fault; reconnect with backoff
  service_restart = 1012,   // node draining; reconnect after the reason's
                            // retryAfterMs, resuming (SPEC §12)
  try_again_later = 1013,   // node at capacity; reconnect with backoff
  heartbeat_timeout = 4000, // no pong within heartbeat.pong_timeout
  idle_timeout = 4001,      // nothing received within heartbeat.idle_timeout
  slow_consumer = 4002,     // outbound backlog above its budget
  replaced = 4500,          // a newer connection of the same device won
  token_expired = 4501,     // the token's exp passed; get a new token
  disconnected = 4502,      // a backend disconnected the device (server API)
};

/// The numeric code of `x`.
constexpr uint16_t to_int(close_code x) noexcept {
  return static_cast<uint16_t>(x);
}

/// A short reason phrase for the close frame (at most 123 bytes).
std::string_view reason(close_code x) noexcept;

/// Whether a client must not reconnect automatically after this close code.
bool is_terminal(uint16_t code) noexcept;

/// The close reason of a drain (1012): `{"retryAfterMs":N,"resume":true}`.
std::string drain_reason(uint32_t retry_after_ms);

/// The retryAfterMs of a drain's close reason, if it is one.
std::optional<uint32_t> drain_retry_after(std::string_view reason);

} // namespace tether::protocol

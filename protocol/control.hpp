#pragma once

// Frames the server originates: acks, the welcome message, pong. Built here
// so that every byte the server writes is defined in the protocol layer.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/errc.hpp"
#include "protocol/model.hpp"

namespace tether::protocol {

/// `source` of every server-originated message. deviceType stays inside the
/// original enum (desktop) so that clients with strict enum parsing accept it.
inline constexpr std::string_view server_device_id = "server";
inline constexpr std::string_view server_user_id = "system";

/// Reserved `type` prefix of server control messages.
inline constexpr std::string_view control_type_prefix = "tether.";

message_ack make_ack(std::string message_id, ack_status status,
                     int64_t now_ms);

/// A failed ack carrying `code`, a message and, if `errors` is non-empty,
/// `details.errors` = [{field, message}, ...].
message_ack make_failed_ack(std::string message_id, errc code,
                            std::string message,
                            const std::vector<field_error>& errors,
                            int64_t now_ms);

/// A failed ack whose details is an arbitrary JSON object text.
message_ack make_failed_ack(std::string message_id, errc code,
                            std::string message, std::string details_json,
                            int64_t now_ms);

struct welcome_info {
  std::string session_id;
  std::string user_id;
  std::string device_id;
  device_type type = device_type::mobile;
  codec negotiated_codec = codec::json;
  /// "permessage-deflate" or "none".
  std::string compression = "none";
  int64_t heartbeat_interval_ms = 0;
  int64_t pong_timeout_ms = 0;
  std::string server_version;
  uint64_t max_message_bytes = 0;
  uint64_t max_batch_messages = 0;
  double rate_per_second = 0;
};

/// The first message of every session (type `tether.welcome`).
mobile_message make_welcome(const welcome_info& info, int64_t now_ms);

/// The answer to an app-level `{"type":"ping"}`.
heartbeat make_pong(int64_t ping_timestamp, int64_t now_ms);

} // namespace tether::protocol

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

/// A message from the server to one device (source = server, target device;
/// priority critical, adjust as needed).
mobile_message server_message(const std::string& user_id,
                              const std::string& device_id, std::string type,
                              std::string id, int64_t now_ms);

message_ack make_ack(std::string message_id, ack_status status, int64_t now_ms);

/// Field errors listed in one failed ack; the rest are counted in
/// `details.omitted` (a hostile message must not buy a megabyte answer).
inline constexpr size_t max_listed_errors = 20;

/// A failed ack carrying `code`, a message and, if `errors` is non-empty,
/// `details.errors` = [{field, message}, ...]: at most `max_listed_errors`,
/// each field and message cut to 255 bytes.
message_ack
make_failed_ack(std::string message_id, errc code, std::string message,
                const std::vector<field_error>& errors, int64_t now_ms);

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
  /// The device queue's epoch; present it as ?resume=<token> together with
  /// &lastSeq=<n> when reconnecting.
  std::string resume_token;
  /// Whether the token the device presented matched (its lastSeq applied).
  bool resumed = false;
  /// App-level compression in effect for server frames ("deflate", "gzip"
  /// or "none").
  std::string frame_compression = "none";
};

/// The first message of every session (type `tether.welcome`).
mobile_message make_welcome(const welcome_info& info, int64_t now_ms);

/// Why messages for a device were dropped without delivery.
struct gap_info {
  /// "expired", "evicted", "dead_letter" or "epoch" (queue state reset).
  std::string reason;
  uint64_t count = 0;
  /// Ids of the dropped messages (at most the first 100).
  std::vector<std::string> message_ids;
};

/// The notice a device gets about messages it will never receive (type
/// `tether.gap`).
mobile_message make_gap(const std::string& user_id,
                        const std::string& device_id, const gap_info& gap,
                        int64_t now_ms);

/// Message ids one `tether.handled` request names at most (SPEC §5.9).
inline constexpr size_t max_handled_ids = 100;

/// Message ids one `tether.withdrawn` notice lists at most: a notice still
/// waiting for its device takes in the next ones up to this, newest kept.
inline constexpr size_t max_withdrawn_ids = 1000;

/// Reads `{"messageIds": [...]}`: the payload of a `tether.handled` request
/// (max = max_handled_ids) or of a `tether.withdrawn` notice. 1 to `max`
/// strings of 1-255 bytes; an id named twice is kept once, in first order.
/// Returns false and fills `errors` otherwise.
bool read_message_ids(const raw_value& payload, size_t max,
                      std::vector<std::string>& ids,
                      std::vector<field_error>& errors);

/// The notice (type `tether.withdrawn`, priority high, durable) that these
/// messages, which the device may have received, were handled on another
/// device of its user. `serial` makes its id unique for the device.
mobile_message make_withdrawn(const std::string& user_id,
                              const std::string& device_id,
                              const std::vector<std::string>& ids,
                              uint64_t serial, int64_t now_ms);

/// Reads payload.deviceInfo.capabilities.compression of a
/// `device_registration` message (the original client's capability
/// declaration). Returns false and fills `errors` if the payload is not a
/// DeviceInfo.
bool read_capabilities(const raw_value& payload,
                       std::vector<compression>& algorithms,
                       std::vector<field_error>& errors);

/// The answer to an app-level `{"type":"ping"}`.
heartbeat make_pong(int64_t ping_timestamp, int64_t now_ms);

} // namespace tether::protocol

#pragma once

// The wire model of Tether protocol 1.x: the original "mobile message format"
// (MobileMessage, BatchMessage, MessageAck, DeviceInfo) plus the server's
// control frames. Pure data; encoding lives in codec.hpp, rules in
// validate.hpp. Every field is specified in protocol/SPEC.md.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::protocol {

// -- enumerations
// ---------------------------------------------------------------

/// Which encoding a peer speaks; chosen by WebSocket subprotocol.
enum class codec : uint8_t { json, msgpack };

enum class device_type : uint8_t { mobile, desktop, web, tablet };

/// Ordered: low < normal < high < critical.
enum class priority : uint8_t { low, normal, high, critical };

enum class target : uint8_t { extension, device, broadcast, cloud };

enum class compression : uint8_t { none, gzip, brotli, deflate };

/// `room` (protocol 1.1): every member of `broadcast.room`.
enum class broadcast_scope : uint8_t { user, device_type, all, room };

enum class ack_status : uint8_t { received, processed, failed, expired };

std::string_view to_string(codec x) noexcept;
std::string_view to_string(device_type x) noexcept;
std::string_view to_string(priority x) noexcept;
std::string_view to_string(target x) noexcept;
std::string_view to_string(compression x) noexcept;
std::string_view to_string(broadcast_scope x) noexcept;
std::string_view to_string(ack_status x) noexcept;

bool from_string(std::string_view s, device_type& x) noexcept;
bool from_string(std::string_view s, priority& x) noexcept;
bool from_string(std::string_view s, target& x) noexcept;
bool from_string(std::string_view s, compression& x) noexcept;
bool from_string(std::string_view s, broadcast_scope& x) noexcept;
bool from_string(std::string_view s, ack_status& x) noexcept;

// -- opaque values
// ----------------------------------------------------------------

/// A value the server carries but does not interpret (payload, filter,
/// unknown fields), kept as the encoded bytes of one JSON or msgpack value
/// so that forwarding never re-parses it. An empty `raw` means "absent".
struct raw_value {
  codec format = codec::json;
  std::string raw;

  bool empty() const noexcept { return raw.empty(); }
};

/// A field of an envelope this server version does not know. Forwarded
/// unchanged so that 1.x minor versions can add fields (SPEC.md §Versioning).
struct extra_field {
  std::string name;
  raw_value value;
};

// -- MobileMessage
// ----------------------------------------------------------------

struct source_info {
  std::string device_id;
  std::string user_id;
  device_type type = device_type::mobile;
  std::optional<std::string> session_id;
  int64_t timestamp = 0;
};

struct broadcast_info {
  broadcast_scope scope = broadcast_scope::user;
  /// Scope `room`: the room's name.
  std::optional<std::string> room;
  /// The free-form filter map as sent.
  raw_value filter;
  /// `filter.deviceType` / `filter.deviceTypes`, decoded for routing.
  std::vector<device_type> device_types;
};

struct destination_info {
  target to = target::device;
  std::optional<std::string> device_id;
  std::optional<std::string> user_id;
  std::optional<std::string> session_id;
  std::optional<broadcast_info> broadcast;
};

/// What a push shows for a message (SPEC §5.10); without it a push is a
/// silent background wake-up.
struct notification_info {
  std::string title;
  std::string body;
};

struct optimization_info {
  priority prio = priority::normal;
  std::optional<int64_t> ttl_ms;
  std::optional<compression> compress;
  std::optional<std::string> batch_id;
  std::optional<int64_t> retry_count;
  std::optional<int64_t> max_retries;
  bool requires_ack = false;
  bool offline_capable = false;
  /// false: the copies on the user's other devices stay when one device
  /// marks the message handled (tether.handled, SPEC §5.9).
  bool withdrawable = true;
  /// The message calls for a push whatever its priority (SPEC §5.10).
  bool notify = false;
  /// The text a push for it shows.
  std::optional<notification_info> notification;
};

struct mobile_message {
  std::string id;
  std::optional<std::string> correlation_id;
  int64_t timestamp = 0;
  std::string protocol_version = "1.0.0";
  source_info source;
  destination_info destination;
  std::string type;
  raw_value payload;
  optimization_info optimization;
  std::optional<std::string> checksum;
  std::optional<std::string> signature;
  /// Per-device delivery sequence number, set by the server on delivery.
  std::optional<uint64_t> seq;
  std::vector<extra_field> extra;
};

using message_ptr = std::shared_ptr<const mobile_message>;

// -- BatchMessage
// -------------------------------------------------------------------

struct batch_metadata {
  uint64_t total_size = 0;
  uint64_t message_count = 0;
  priority prio = priority::normal;
  std::optional<int64_t> ttl_ms;
};

struct batch_message {
  std::string id;
  int64_t timestamp = 0;
  std::optional<compression> compress;
  std::vector<mobile_message> messages;
  batch_metadata metadata;
};

// -- MessageAck
// -------------------------------------------------------------------

struct ack_error {
  std::string code;
  std::string message;
  /// Encoded JSON/msgpack object with details (for example `errors`).
  raw_value details;
};

/// The bare acknowledgement; the only ack shape of protocol 1.x.
struct message_ack {
  std::string message_id;
  std::optional<std::string> batch_id;
  ack_status status = ack_status::received;
  int64_t timestamp = 0;
  std::optional<ack_error> error;
  /// Cumulative delivery ack: every seq <= this one was received.
  std::optional<uint64_t> seq;
  /// Server acks only: how many devices the message was routed to.
  std::optional<uint32_t> recipients;
};

// -- DeviceInfo
// ---------------------------------------------------------------------

struct device_capabilities {
  std::vector<compression> algorithms; // wire key: compression
  std::optional<int64_t> max_message_size;
  bool supports_batching = false;
  bool supports_offline_queue = false;
  bool battery_optimized = false;
};

struct device_info {
  std::string device_id;
  std::string user_id;
  device_type type = device_type::mobile;
  std::string platform;
  std::string version;
  device_capabilities capabilities;
};

// -- app-level heartbeat
// ----------------------------------------------------------------

/// The original client's heartbeat `{"type":"ping","timestamp":ms}`; the
/// server answers with `{"type":"pong","timestamp":ms,"serverTime":ms}`.
struct heartbeat {
  bool pong = false;
  int64_t timestamp = 0;
  std::optional<int64_t> server_time;
};

/// The protocol version this server speaks; 1.x is accepted (SPEC.md).
inline constexpr std::string_view protocol_version = "1.0.0";
inline constexpr int supported_major = 1;

} // namespace tether::protocol

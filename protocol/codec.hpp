#pragma once

// Encoding and decoding of protocol 1.x frames in JSON (subprotocol
// tether.v1.json, text frames) and msgpack (tether.v1.msgpack, binary frames).
// decode() never throws and never asserts on untrusted bytes: everything it
// cannot accept comes back as an error code plus {field, message} entries.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errc.hpp"
#include "protocol/model.hpp"

namespace tether::protocol {

/// One problem found in an inbound message, addressed by its dotted path
/// (e.g. `source.deviceType`) so that a client developer can act on it.
struct field_error {
  std::string field;
  std::string message;
};

/// Caps applied while decoding and validating untrusted input.
struct limits {
  /// Messages per BatchMessage; bounds the work one frame can cause.
  size_t max_batch_messages = 100;
  /// Nesting of objects/arrays; keeps every later walk shallow and cheap.
  size_t max_depth = 32;
  /// Encoded payload bytes; the frame cap bounds the rest of the envelope.
  size_t max_payload_bytes = 192 * 1024;
  /// Longest accepted optimization.ttl: 30 days, beyond any queue retention.
  std::chrono::milliseconds max_ttl{30LL * 24 * 3600 * 1000};
};

/// Levels a frame adds around an opaque value of limits.max_depth levels:
/// the deepest is a batch's message's destination.broadcast.filter, at
/// level 6. A frame nested deeper is malformed (SPEC §3, §4).
inline constexpr size_t frame_depth_margin = 5;

/// No accepted value nests deeper (limits.max_depth is at most 128): the
/// bound when an opaque value that decode() accepted is read again
/// (transcoding, control payloads).
inline constexpr size_t max_value_depth = 128 + frame_depth_margin;

enum class frame_kind : uint8_t { message, batch, ack, heartbeat };

std::string_view to_string(frame_kind x) noexcept;

/// The subprotocol that selects codec `c` (tether.v1.json / tether.v1.msgpack).
std::string_view subprotocol(codec c) noexcept;

/// The codec a subprotocol name selects; false for other names.
bool from_subprotocol(std::string_view name, codec& c) noexcept;

/// One MobileMessage as decoded: filled as far as it could be read.
struct decoded_message {
  mobile_message msg;
  /// none, validation_error or unsupported_version.
  errc error = errc::none;
  std::vector<field_error> errors;

  bool ok() const noexcept { return error == errc::none; }
};

/// The result of decoding one WebSocket frame.
struct decoded_frame {
  /// Frame-level failure (malformed_frame, message_too_large); when set,
  /// nothing else is meaningful except `error_message`.
  errc error = errc::none;
  std::string error_message;
  frame_kind kind = frame_kind::message;
  /// kind message: exactly one; kind batch: one per batch entry.
  std::vector<decoded_message> messages;
  /// kind batch: the batch id (may be empty if the batch was invalid).
  std::string batch_id;
  /// kind batch: field errors of the batch object itself.
  std::vector<field_error> batch_errors;
  /// kind ack.
  message_ack ack;
  /// kind heartbeat.
  heartbeat hb;

  bool ok() const noexcept { return error == errc::none; }
};

/// Decodes one frame. Classification (as the original client did): an
/// object with `messages` is a batch; with `messageId` and `status` an ack;
/// `{"type":"ping"|"pong"}` without `id` a heartbeat; anything else a message.
decoded_frame decode(codec c, std::string_view bytes, const limits& lim);

/// Encodes a frame. Opaque values (payload, filter, details, unknown fields)
/// are transcoded when their format differs from `c`.
std::string encode(codec c, const mobile_message& x);
std::string encode(codec c, const message_ack& x);
std::string encode(codec c, const heartbeat& x);
std::string encode(codec c, const batch_message& x);

/// A message encoded once per codec without `seq`, shared by every recipient
/// of a broadcast (empty for a codec no recipient speaks).
struct encoded_forms {
  std::string json;
  std::string msgpack;

  const std::string& get(codec c) const noexcept {
    return c == codec::json ? json : msgpack;
  }
};

/// One message to deliver with the recipient's sequence number; `encoded`,
/// if set, is the message already encoded in the frame's codec.
struct delivery_view {
  const mobile_message* msg = nullptr;
  uint64_t seq = 0;
  const std::string* encoded = nullptr;
};

/// Appends to `out` the message `encoded` (as encode() wrote it, without a
/// seq) with `seq` added: byte for byte what encode_to() with that seq
/// writes, at the cost of a copy. False if `encoded` is not such a message.
bool splice_seq(codec c, std::string_view encoded, uint64_t seq,
                std::string& out);

/// Appends `x` to `out`, written with `seq` instead of x.seq.
void encode_to(codec c, const mobile_message& x, uint64_t seq,
               std::string& out);

/// Appends one delivery to `out` as a frame of its own: its encoded form
/// with the seq spliced in, or the message encoded with it.
void encode_delivery(codec c, const delivery_view& d, std::string& out);

/// A BatchMessage frame of deliveries (each message with its seq).
std::string encode_batch(codec c, std::string_view batch_id, int64_t timestamp,
                         const std::vector<delivery_view>& items);

/// Converts an opaque value to another codec. Returns false if `v` is not a
/// well-formed value (decode() never lets such a value through).
bool convert(const raw_value& v, codec to, raw_value& out);

/// Builds an opaque value holding a JSON text the server generated itself.
raw_value json_value(std::string json);

} // namespace tether::protocol

#pragma once

// Internal entry points of the two codecs and the transcoders; the public
// API is protocol/codec.hpp.

#include <string>
#include <string_view>

#include "protocol/codec.hpp"

namespace tether::protocol::detail {

void decode_json(std::string_view bytes, const limits& lim, decoded_frame& out);
void decode_msgpack(std::string_view bytes, const limits& lim,
                    decoded_frame& out);

void encode_json(const mobile_message& x, std::string& out);
void encode_json(const message_ack& x, std::string& out);
void encode_json(const heartbeat& x, std::string& out);
void encode_json(const batch_message& x, std::string& out);
void encode_json(const mobile_message& x, uint64_t seq, std::string& out);
void encode_json_batch(std::string_view id, int64_t timestamp,
                       const std::vector<delivery_view>& items,
                       std::string& out);

void encode_msgpack(const mobile_message& x, std::string& out);
void encode_msgpack(const message_ack& x, std::string& out);
void encode_msgpack(const heartbeat& x, std::string& out);
void encode_msgpack(const batch_message& x, std::string& out);
void encode_msgpack(const mobile_message& x, uint64_t seq, std::string& out);
void encode_msgpack_batch(std::string_view id, int64_t timestamp,
                          const std::vector<delivery_view>& items,
                          std::string& out);

/// Re-encodes one JSON value as msgpack (appending to `out`).
bool json_to_msgpack(std::string_view json, std::string& out);

/// Re-encodes one msgpack value as JSON (appending to `out`); bin becomes a
/// base64 string.
bool msgpack_to_json(std::string_view mp, std::string& out);

} // namespace tether::protocol::detail

#include "protocol/codec.hpp"

#include "protocol/detail/codecs.hpp"

namespace tether::protocol {

std::string_view to_string(frame_kind x) noexcept {
  switch (x) {
    case frame_kind::message:
      return "message";
    case frame_kind::batch:
      return "batch";
    case frame_kind::ack:
      return "ack";
    case frame_kind::heartbeat:
      return "heartbeat";
  }
  return "?";
}

std::string_view subprotocol(codec c) noexcept {
  return c == codec::json ? "tether.v1.json" : "tether.v1.msgpack";
}

bool from_subprotocol(std::string_view name, codec& c) noexcept {
  for (auto x : {codec::json, codec::msgpack})
    if (name == subprotocol(x)) {
      c = x;
      return true;
    }
  return false;
}

decoded_frame decode(codec c, std::string_view bytes, const limits& lim) {
  decoded_frame result;
  try {
    if (c == codec::json)
      detail::decode_json(bytes, lim, result);
    else
      detail::decode_msgpack(bytes, lim, result);
  } catch (const std::exception& e) {
    // Only allocation failure can get here; refuse the frame, keep running.
    result = decoded_frame{};
    result.error = errc::malformed_frame;
    result.error_message = std::string{"could not decode frame: "} + e.what();
  }
  return result;
}

namespace {

template <class T>
std::string encode_impl(codec c, const T& x) {
  std::string out;
  if (c == codec::json)
    detail::encode_json(x, out);
  else
    detail::encode_msgpack(x, out);
  return out;
}

} // namespace

std::string encode(codec c, const mobile_message& x) {
  return encode_impl(c, x);
}

std::string encode(codec c, const message_ack& x) {
  return encode_impl(c, x);
}

std::string encode(codec c, const heartbeat& x) {
  return encode_impl(c, x);
}

std::string encode(codec c, const batch_message& x) {
  return encode_impl(c, x);
}

void encode_to(codec c, const mobile_message& x, uint64_t seq,
               std::string& out) {
  if (c == codec::json)
    detail::encode_json(x, seq, out);
  else
    detail::encode_msgpack(x, seq, out);
}

std::string encode_batch(codec c, std::string_view batch_id, int64_t timestamp,
                         const std::vector<delivery_view>& items) {
  std::string out;
  // Items encoded once for all recipients are copied whole: room for them,
  // their seqs and the envelope up front.
  size_t known = 128;
  for (auto& d : items)
    known += (d.encoded ? d.encoded->size() : 256) + 32;
  out.reserve(known);
  if (c == codec::json)
    detail::encode_json_batch(batch_id, timestamp, items, out);
  else
    detail::encode_msgpack_batch(batch_id, timestamp, items, out);
  return out;
}

bool convert(const raw_value& v, codec to, raw_value& out) {
  if (v.format == to) {
    out = v;
    return true;
  }
  raw_value result;
  result.format = to;
  auto ok = to == codec::json ? detail::msgpack_to_json(v.raw, result.raw)
                              : detail::json_to_msgpack(v.raw, result.raw);
  if (ok)
    out = std::move(result);
  return ok;
}

void encode_delivery(codec c, const delivery_view& d, std::string& out) {
  if (!d.encoded || d.encoded->empty()
      || !splice_seq(c, *d.encoded, d.seq, out))
    encode_to(c, *d.msg, d.seq, out);
}

bool splice_seq(codec c, std::string_view encoded, uint64_t seq,
                std::string& out) {
  if (encoded.size() < 2)
    return false;
  // Once, at the size with the seq (its key and at most 20 digits, or
  // msgpack's 13 bytes): appended piece by piece it grew twice.
  out.reserve(out.size() + encoded.size() + 32);
  if (c == codec::json) {
    if (encoded.front() != '{' || encoded.back() != '}')
      return false;
    out.append(encoded.data(), encoded.size() - 1);
    out += encoded.size() > 2 ? ",\"seq\":" : "\"seq\":";
    out += std::to_string(seq);
    out += '}';
    return true;
  }
  // msgpack: one more key in the map header, then "seq" and the number.
  auto b = static_cast<unsigned char>(encoded[0]);
  size_t header = 0;
  uint64_t n = 0;
  if ((b & 0xF0) == 0x80) {
    n = b & 0x0F;
    header = 1;
  } else if (b == 0xde && encoded.size() >= 3) {
    n = (uint64_t{static_cast<unsigned char>(encoded[1])} << 8)
        | static_cast<unsigned char>(encoded[2]);
    header = 3;
  } else {
    return false;
  }
  ++n;
  if (n <= 15) {
    out += static_cast<char>(0x80 | n);
  } else {
    out += static_cast<char>(0xde);
    out += static_cast<char>((n >> 8) & 0xFF);
    out += static_cast<char>(n & 0xFF);
  }
  out.append(encoded.data() + header, encoded.size() - header);
  out += "\xa3seq";
  if (seq < 0x80) {
    out += static_cast<char>(seq);
  } else {
    int bytes = seq <= 0xFF ? 1 : seq <= 0xFFFF ? 2 : seq <= 0xFFFFFFFF ? 4 : 8;
    out += static_cast<char>(bytes == 1   ? 0xcc
                             : bytes == 2 ? 0xcd
                             : bytes == 4 ? 0xce
                                          : 0xcf);
    for (int i = bytes - 1; i >= 0; --i)
      out += static_cast<char>((seq >> (8 * i)) & 0xFF);
  }
  return true;
}

raw_value json_value(std::string json) {
  return raw_value{codec::json, std::move(json)};
}

} // namespace tether::protocol

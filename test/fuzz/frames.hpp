#pragma once

// The frame reader under fuzzing, for either codec: whatever the bytes,
// decode() must return (never throw or crash), and what it accepts must
// survive the server's own write paths.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "test/fuzz/fuzz_check.hpp"

namespace tether::fuzz {

inline void check_frame(protocol::codec c, const uint8_t* data, size_t size) {
  using namespace tether::protocol;
  auto f = decode(c, {reinterpret_cast<const char*>(data), size}, limits{});
  if (!f.ok())
    return;
  for (auto& dm : f.messages) {
    if (!dm.ok())
      continue;
    // Every accepted message is forwarded in both codecs: each encoding
    // reads back as a valid message with the same id.
    for (auto to : {codec::json, codec::msgpack}) {
      auto bytes = encode(to, dm.msg);
      auto again = decode(to, bytes, limits{});
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again.kind == frame_kind::message);
      FUZZ_CHECK(again.messages.size() == 1);
      FUZZ_CHECK(again.messages.front().msg.id == dm.msg.id);
      // The fan-out path splices the seq into shared bytes: byte for byte
      // what encoding with that seq writes.
      std::string spliced, direct;
      FUZZ_CHECK(splice_seq(to, bytes, 42, spliced));
      encode_to(to, dm.msg, 42, direct);
      FUZZ_CHECK(spliced == direct);
    }
  }
  if (f.kind == frame_kind::ack) {
    for (auto to : {codec::json, codec::msgpack}) {
      auto again = decode(to, encode(to, f.ack), limits{});
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again.kind == frame_kind::ack);
      FUZZ_CHECK(again.ack.message_id == f.ack.message_id);
    }
  }
}

} // namespace tether::fuzz

#pragma once

// App-level compression of frames for clients without permessage-deflate
// (many mobile WebSocket stacks lack it). A compressed frame is a binary
// WebSocket frame that starts with 0xC1 — a byte no msgpack object and no
// JSON text starts with — so a receiver can always tell it from a plain one
// (the original sent unmarked base64 gzip text; SPEC.md §Compression).
//
//   0      1      2..5                 6..
//   +------+------+--------------------+----------------------------+
//   | 0xC1 | algo | original length    | compressed bytes           |
//   |      | 1: deflate (zlib, RFC 1950) | u32 big endian, bytes      |
//   |      | 2: gzip (RFC 1952)          |                            |
//   +------+------+--------------------+----------------------------+

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol {

inline constexpr unsigned char compressed_frame_magic = 0xC1;

enum class zip_format : uint8_t { deflate = 1, gzip = 2 };

std::string_view to_string(zip_format x) noexcept;
bool from_string(std::string_view s, zip_format& x) noexcept;

/// Whether `frame` is a compressed frame (by its first byte).
bool is_compressed_frame(std::string_view frame) noexcept;

/// Compresses `raw` (zlib level 1-9) into a compressed frame.
std::string make_compressed_frame(std::string_view raw, zip_format format,
                                  int level = 6);

enum class inflate_error : uint8_t {
  none,
  malformed,     // header missing or unknown algorithm
  corrupt,       // zlib reported an error or the stream ended early
  too_large,     // the declared or actual size exceeds the cap
  size_mismatch, // inflated size differs from the declared one
};

std::string_view to_string(inflate_error x) noexcept;

/// Inflates a compressed frame into `out`, never producing more than
/// `max_bytes` whatever the header claims (decompression bombs stop at the
/// cap, memory stays bounded).
inflate_error open_compressed_frame(std::string_view frame, size_t max_bytes,
                                    std::string& out);

} // namespace tether::protocol

#include "protocol/compression.hpp"

#include <zlib.h>

namespace tether::protocol {

namespace {

constexpr size_t header_size = 6;

// windowBits: 15 for zlib, 15 + 16 for gzip.
int window_bits(zip_format f) {
  return f == zip_format::gzip ? 15 + 16 : 15;
}

} // namespace

std::string_view to_string(zip_format x) noexcept {
  return x == zip_format::gzip ? "gzip" : "deflate";
}

bool from_string(std::string_view s, zip_format& x) noexcept {
  if (s == "deflate")
    x = zip_format::deflate;
  else if (s == "gzip")
    x = zip_format::gzip;
  else
    return false;
  return true;
}

std::string_view to_string(inflate_error x) noexcept {
  switch (x) {
    case inflate_error::none:
      return "ok";
    case inflate_error::malformed:
      return "not a compressed frame (header or algorithm)";
    case inflate_error::corrupt:
      return "corrupt compressed data";
    case inflate_error::too_large:
      return "inflated size above the message limit";
    case inflate_error::size_mismatch:
      return "inflated size differs from the declared size";
  }
  return "?";
}

bool is_compressed_frame(std::string_view frame) noexcept {
  return !frame.empty()
         && static_cast<unsigned char>(frame[0]) == compressed_frame_magic;
}

std::string make_compressed_frame(std::string_view raw, zip_format format,
                                  int level) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, window_bits(format), 8,
               Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(header_size + deflateBound(&zs, raw.size()) + 32);
  out[0] = static_cast<char>(compressed_frame_magic);
  out[1] = static_cast<char>(format);
  auto n = static_cast<uint32_t>(raw.size());
  out[2] = static_cast<char>(n >> 24);
  out[3] = static_cast<char>(n >> 16);
  out[4] = static_cast<char>(n >> 8);
  out[5] = static_cast<char>(n);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data() + header_size);
  zs.avail_out = static_cast<uInt>(out.size() - header_size);
  deflate(&zs, Z_FINISH);
  out.resize(header_size + zs.total_out);
  deflateEnd(&zs);
  return out;
}

inflate_error open_compressed_frame(std::string_view frame, size_t max_bytes,
                                    std::string& out) {
  if (frame.size() < header_size || !is_compressed_frame(frame))
    return inflate_error::malformed;
  auto algo = static_cast<uint8_t>(frame[1]);
  if (algo != 1 && algo != 2)
    return inflate_error::malformed;
  auto b = reinterpret_cast<const unsigned char*>(frame.data());
  size_t declared = (size_t{b[2]} << 24) | (size_t{b[3]} << 16)
                    | (size_t{b[4]} << 8) | size_t{b[5]};
  // The declared size is only a hint for the buffer, never trusted beyond
  // the cap.
  if (declared > max_bytes)
    return inflate_error::too_large;
  z_stream zs{};
  if (inflateInit2(&zs, window_bits(static_cast<zip_format>(algo))) != Z_OK)
    return inflate_error::corrupt;
  out.clear();
  out.resize(declared);
  zs.next_in = const_cast<Bytef*>(b + header_size);
  zs.avail_in = static_cast<uInt>(frame.size() - header_size);
  // One byte of room beyond `declared` detects data longer than declared.
  std::string extra(1, '\0');
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(declared);
  auto rc = inflate(&zs, Z_FINISH);
  if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
    zs.next_out = reinterpret_cast<Bytef*>(extra.data());
    zs.avail_out = 1;
    rc = inflate(&zs, Z_FINISH);
    inflateEnd(&zs);
    return rc == Z_STREAM_END && zs.avail_out == 1
             ? inflate_error::none
             : inflate_error::size_mismatch;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return inflate_error::corrupt;
  if (zs.total_out != declared)
    return inflate_error::size_mismatch;
  return inflate_error::none;
}

} // namespace tether::protocol

#include "protocol/model.hpp"

#include <array>

namespace tether::protocol {

namespace {

// One table per enum, indexed by the enumerator value.
constexpr std::array<std::string_view, 2> codec_names{"json", "msgpack"};
constexpr std::array<std::string_view, 4> device_type_names{"mobile", "desktop",
                                                            "web", "tablet"};
constexpr std::array<std::string_view, 4> priority_names{"low", "normal",
                                                         "high", "critical"};
constexpr std::array<std::string_view, 4> target_names{"extension", "device",
                                                       "broadcast", "cloud"};
constexpr std::array<std::string_view, 4> compression_names{
  "none", "gzip", "brotli", "deflate"};
constexpr std::array<std::string_view, 4> scope_names{"user", "device_type",
                                                      "all", "room"};
constexpr std::array<std::string_view, 4> ack_status_names{
  "received", "processed", "failed", "expired"};

template <class Enum, size_t N>
std::string_view
name_of(const std::array<std::string_view, N>& names, Enum x) noexcept {
  auto i = static_cast<size_t>(x);
  return i < N ? names[i] : std::string_view{"?"};
}

template <class Enum, size_t N>
bool parse_name(const std::array<std::string_view, N>& names,
                std::string_view s, Enum& x) noexcept {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) {
      x = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

} // namespace

std::string_view to_string(codec x) noexcept {
  return name_of(codec_names, x);
}

std::string_view to_string(device_type x) noexcept {
  return name_of(device_type_names, x);
}

std::string_view to_string(priority x) noexcept {
  return name_of(priority_names, x);
}

std::string_view to_string(target x) noexcept {
  return name_of(target_names, x);
}

std::string_view to_string(compression x) noexcept {
  return name_of(compression_names, x);
}

std::string_view to_string(broadcast_scope x) noexcept {
  return name_of(scope_names, x);
}

std::string_view to_string(ack_status x) noexcept {
  return name_of(ack_status_names, x);
}

bool from_string(std::string_view s, device_type& x) noexcept {
  return parse_name(device_type_names, s, x);
}

bool from_string(std::string_view s, priority& x) noexcept {
  return parse_name(priority_names, s, x);
}

bool from_string(std::string_view s, target& x) noexcept {
  return parse_name(target_names, s, x);
}

bool from_string(std::string_view s, compression& x) noexcept {
  return parse_name(compression_names, s, x);
}

bool from_string(std::string_view s, broadcast_scope& x) noexcept {
  return parse_name(scope_names, s, x);
}

bool from_string(std::string_view s, ack_status& x) noexcept {
  return parse_name(ack_status_names, s, x);
}

} // namespace tether::protocol

#pragma once

// Which directory shard owns a key (a user id or a room name): FNV-1a, so
// that every process computes the same index. Pure.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::actors {

constexpr uint64_t fnv1a(std::string_view s) noexcept {
  uint64_t h = 14695981039346656037ull;
  for (auto c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// The shard of `key` among `shards` (> 0).
constexpr size_t shard_of(std::string_view key, size_t shards) noexcept {
  return static_cast<size_t>(fnv1a(key) % shards);
}

} // namespace tether::actors

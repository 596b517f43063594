#pragma once

// Where a key lives in a cluster: rendezvous (highest random weight)
// hashing over the live members. Every node computes the same home for a
// user shard, a device queue or a room from the member list alone, without
// asking anyone; when a member joins, only the keys it now wins move to it,
// and when one leaves, only its own keys move (each to its runner-up). Pure.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::actors {

/// The weight of `member` for `key`: FNV-1a of each, mixed (murmur3's
/// finalizer) so that weights of one key are independent across members.
uint64_t rendezvous_weight(std::string_view member,
                           std::string_view key) noexcept;

/// The index in `members` of the home of `key`: the member with the highest
/// weight (the smaller id on a tie); members.size() when there is none.
size_t home_of(std::string_view key,
               const std::vector<std::string>& members) noexcept;

/// The placement keys of the units the cluster places.
std::string shard_key(size_t shard);
std::string device_key(std::string_view user_id, std::string_view device_id);
std::string room_key(std::string_view room);
std::string user_key(std::string_view user_id);

} // namespace tether::actors

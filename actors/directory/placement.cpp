#include "actors/directory/placement.hpp"

#include "actors/directory/shard.hpp"

namespace tether::actors {

namespace {

constexpr uint64_t fmix64(uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

} // namespace

uint64_t rendezvous_weight(std::string_view member,
                           std::string_view key) noexcept {
  return fmix64(fnv1a(member) ^ fmix64(fnv1a(key)));
}

size_t home_of(std::string_view key,
               const std::vector<std::string>& members) noexcept {
  auto best = members.size();
  uint64_t best_weight = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    auto w = rendezvous_weight(members[i], key);
    if (best == members.size() || w > best_weight
        || (w == best_weight && members[i] < members[best])) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

std::string shard_key(size_t shard) {
  return "shard:" + std::to_string(shard);
}

std::string device_key(std::string_view user_id, std::string_view device_id) {
  // Length-prefixed: ("a/b", "c") and ("a", "b/c") are different keys.
  auto k = "device:" + std::to_string(user_id.size()) + ":";
  k.append(user_id).append(device_id);
  return k;
}

std::string user_key(std::string_view user_id) {
  std::string k{"user:"};
  return k.append(user_id);
}

std::string room_key(std::string_view room) {
  std::string k{"room:"};
  return k.append(room);
}

} // namespace tether::actors

#define CAF_SUITE actors.shard
#include <caf/test/unit_test.hpp>

#include <vector>

#include "actors/directory/shard.hpp"

using namespace tether::actors;

CAF_TEST(shards are stable and spread users evenly) {
  // Written out: every process must agree on the index (FNV-1a 64).
  CAF_CHECK_EQUAL(fnv1a(""), 14695981039346656037ull);
  CAF_CHECK_EQUAL(fnv1a("a"), 0xaf63dc4c8601ec8cull);
  CAF_CHECK_EQUAL(shard_of("alice", 1), 0u);
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 8000; ++i)
    ++counts[shard_of("user-" + std::to_string(i), 8)];
  for (auto n : counts) {
    CAF_CHECK_GREATER(n, 800);
    CAF_CHECK_LESS(n, 1200);
  }
}

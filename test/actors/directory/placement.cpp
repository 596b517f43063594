#define CAF_SUITE actors.placement
#include <caf/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

#include "actors/directory/placement.hpp"

using namespace tether::actors;

namespace {

std::vector<std::string> keys(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(room_key("room-" + std::to_string(i)));
  return out;
}

// The home's id of every key.
std::vector<std::string> homes(const std::vector<std::string>& ks,
                               const std::vector<std::string>& members) {
  std::vector<std::string> out;
  for (auto& k : ks)
    out.push_back(members[home_of(k, members)]);
  return out;
}

} // namespace

CAF_TEST(weights are fixed functions of member and key) {
  // Written out: every node, of every build, must agree.
  CAF_CHECK_EQUAL(rendezvous_weight("a", "k"), rendezvous_weight("a", "k"));
  CAF_CHECK_NOT_EQUAL(rendezvous_weight("a", "k"), rendezvous_weight("b", "k"));
  CAF_CHECK_NOT_EQUAL(rendezvous_weight("a", "k"), rendezvous_weight("a", "l"));
  CAF_CHECK_EQUAL(rendezvous_weight("", ""), 0x0c674da690f5fbb8ull);
  CAF_CHECK_EQUAL(shard_key(3), "shard:3");
  CAF_CHECK_EQUAL(room_key("lobby"), "room:lobby");
  CAF_CHECK_EQUAL(device_key("alice", "phone"), "device:5:alicephone");
  CAF_CHECK_NOT_EQUAL(device_key("a/b", "c"), device_key("a", "b/c"));
}

CAF_TEST(the home does not depend on the order of the member list) {
  std::vector<std::string> m{"n1", "n2", "n3"};
  std::vector<std::string> r{"n3", "n1", "n2"};
  for (auto& k : keys(200))
    CAF_CHECK_EQUAL(m[home_of(k, m)], r[home_of(k, r)]);
  CAF_CHECK_EQUAL(home_of("x", {}), 0u);
  CAF_CHECK_EQUAL(home_of("x", {"only"}), 0u);
}

CAF_TEST(keys spread evenly over members) {
  std::vector<std::string> m{"10.200.0.1:7400", "10.200.0.2:7400",
                             "10.200.0.3:7400"};
  std::map<std::string, int> count;
  for (auto& h : homes(keys(9000), m))
    ++count[h];
  CAF_REQUIRE_EQUAL(count.size(), 3u);
  for (auto& [member, n] : count) {
    CAF_MESSAGE(member << ": " << n);
    CAF_CHECK_GREATER(n, 2700);
    CAF_CHECK_LESS(n, 3300);
  }
}

CAF_TEST(a join moves only the keys the new member wins) {
  auto ks = keys(9000);
  std::vector<std::string> three{"a", "b", "c"};
  std::vector<std::string> four{"a", "b", "c", "d"};
  auto before = homes(ks, three);
  auto after = homes(ks, four);
  size_t moved = 0;
  for (size_t i = 0; i < ks.size(); ++i) {
    if (before[i] != after[i]) {
      ++moved;
      // Nothing moves between old members.
      CAF_CHECK_EQUAL(after[i], "d");
    }
  }
  // About 1/4 of the keys move, all to the new member.
  CAF_MESSAGE("moved " << moved << " of " << ks.size());
  CAF_CHECK_GREATER(moved, 9000 / 4 - 300);
  CAF_CHECK_LESS(moved, 9000 / 4 + 300);
}

CAF_TEST(a leave moves only the keys of the member that left) {
  auto ks = keys(9000);
  std::vector<std::string> three{"a", "b", "c"};
  std::vector<std::string> two{"a", "c"};
  auto before = homes(ks, three);
  auto after = homes(ks, two);
  size_t moved = 0;
  for (size_t i = 0; i < ks.size(); ++i) {
    if (before[i] == "b")
      ++moved;
    else
      CAF_CHECK_EQUAL(before[i], after[i]);
  }
  CAF_MESSAGE("moved " << moved << " of " << ks.size());
  CAF_CHECK_GREATER(moved, 2700);
  CAF_CHECK_LESS(moved, 3300);
}

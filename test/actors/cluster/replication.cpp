#define CAF_SUITE actors.replication
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <set>

#include "actors/cluster/replication.hpp"
#include "actors/directory/placement.hpp"

using namespace tether::actors;

namespace {

const std::vector<std::string> five{"a", "b", "c", "d", "e"};

std::vector<std::string> without(std::vector<std::string> v,
                                 const std::string& gone) {
  v.erase(std::remove(v.begin(), v.end(), gone), v.end());
  return v;
}

} // namespace

CAF_TEST(an ack waits for a majority of the replica set) {
  CAF_CHECK_EQUAL(replica_quorum(1), 1u);
  CAF_CHECK_EQUAL(replica_quorum(2), 2u);
  CAF_CHECK_EQUAL(replica_quorum(3), 2u);
  CAF_CHECK_EQUAL(replica_quorum(4), 3u);
  CAF_CHECK_EQUAL(replica_quorum(5), 3u);
  // R = 3: the leader's commit and one follower's.
  quorum_count q{3, 2};
  CAF_CHECK(!q.stored());
  CAF_CHECK(!q.done());
  CAF_CHECK(q.stored());
  CAF_CHECK(q.done());
  CAF_CHECK(!q.stored()); // the third copy changes nothing
  CAF_CHECK(!q.failed());
  CAF_CHECK(!q.hopeless());
}

CAF_TEST(a write fails once its quorum cannot be reached) {
  // R = 3, both followers fail: the leader's copy alone is not enough.
  quorum_count q{3, 2};
  CAF_CHECK(!q.stored());
  CAF_CHECK(!q.failed());
  CAF_CHECK(!q.hopeless());
  CAF_CHECK(q.failed());
  CAF_CHECK(q.hopeless());
  CAF_CHECK(!q.failed()); // told once
  // R = 2 with its one follower failing first.
  quorum_count r{2, 1};
  CAF_CHECK(r.failed());
  CAF_CHECK(!r.stored());
  CAF_CHECK(!r.done());
  // R = 3 with one live follower only (the set is short of a member): the
  // quorum is still two of three.
  quorum_count s{3, 1};
  CAF_CHECK(!s.stored());
  CAF_CHECK(s.stored());
  quorum_count t{3, 1};
  CAF_CHECK(!t.stored());
  CAF_CHECK(t.failed());
  // R = 1: the leader's commit is the quorum.
  quorum_count u{1, 0};
  CAF_CHECK(u.stored());
}

CAF_TEST(followers are the live members after the leader by placement) {
  auto key = device_key("alice", "phone");
  for (auto& leader : five) {
    auto f = followers_of(key, leader, five, 3);
    CAF_REQUIRE_EQUAL(f.size(), 2u);
    CAF_CHECK(f[0] != leader && f[1] != leader && f[0] != f[1]);
    // The first follower is the one placement picks among the others.
    auto others = without(five, leader);
    CAF_CHECK_EQUAL(f[0], others[home_of(key, others)]);
    // Every node computes the same set from the same members.
    CAF_CHECK_EQUAL(followers_of(key, leader, five, 3), f);
  }
  // A member leaving changes the set only if it was in it: the next one
  // takes its place, the other follower stays.
  auto f = followers_of(key, "a", five, 3);
  std::string outside;
  for (auto& m : five)
    if (m != "a" && m != f[0] && m != f[1])
      outside = m;
  CAF_CHECK_EQUAL(followers_of(key, "a", without(five, outside), 3), f);
  auto g = followers_of(key, "a", without(five, f[0]), 3);
  CAF_REQUIRE_EQUAL(g.size(), 2u);
  CAF_CHECK_EQUAL(g[0], f[1]);
  // Fewer live members than the factor: the followers there are.
  CAF_CHECK_EQUAL(followers_of(key, "a", {"a", "b"}, 3),
                  std::vector<std::string>{"b"});
  CAF_CHECK(followers_of(key, "a", {"a"}, 3).empty());
  CAF_CHECK(followers_of(key, "a", five, 1).empty());
  // A leader that is not live itself (a queue on a node being dropped).
  CAF_CHECK_EQUAL(followers_of(key, "z", five, 2).size(), 1u);
}

CAF_TEST(placement spreads the followers of many queues evenly) {
  std::map<std::string, size_t> first;
  for (int i = 0; i < 3000; ++i) {
    auto f = followers_of(device_key("u" + std::to_string(i), "d"), "a", five,
                          2);
    CAF_REQUIRE_EQUAL(f.size(), 1u);
    ++first[f[0]];
  }
  CAF_REQUIRE_EQUAL(first.size(), 4u);
  for (auto& [m, n] : first) {
    CAF_CHECK_GREATER(n, 600u);
    CAF_CHECK_LESS(n, 900u);
  }
}

CAF_TEST(
  a takeover gathers copies from enough followers to meet every majority) {
  // R = 2: the leader acked with its one follower: that copy is enough.
  CAF_CHECK_EQUAL(takeover_copies(2), 1u);
  // R = 3: an ack may have come from either follower: both copies.
  CAF_CHECK_EQUAL(takeover_copies(3), 2u);
  // R = 5: any two of four followers may have acked: three copies.
  CAF_CHECK_EQUAL(takeover_copies(5), 3u);
  CAF_CHECK_EQUAL(takeover_copies(1), 1u);
  // Every majority with the leader meets any takeover_copies of the
  // followers: brute force over the followers' subsets for R = 2..5.
  for (size_t r = 2; r <= max_replication_factor; ++r) {
    auto n = r - 1; // followers
    for (unsigned acked = 0; acked < (1u << n); ++acked) {
      if (static_cast<size_t>(__builtin_popcount(acked)) + 1
          < replica_quorum(r))
        continue; // not a majority with the leader
      for (unsigned seen = 0; seen < (1u << n); ++seen)
        if (static_cast<size_t>(__builtin_popcount(seen)) >= takeover_copies(r))
          CAF_CHECK((acked & seen) != 0);
    }
  }
}

CAF_TEST(the first live follower of the list takes a queue over) {
  std::set<std::string> up{"b", "c"};
  auto alive = [&](const std::string& n) { return up.count(n) > 0; };
  CAF_CHECK_EQUAL(successor({"b", "c"}, alive), std::string{"b"});
  CAF_CHECK_EQUAL(successor({"c", "b"}, alive), std::string{"c"});
  up.erase("b");
  CAF_CHECK_EQUAL(successor({"b", "c"}, alive), std::string{"c"});
  up.clear();
  CAF_CHECK(!successor({"b", "c"}, alive));
  CAF_CHECK(!successor({}, alive));
}

CAF_TEST(catch up after a partition brings the rows a copy missed) {
  // R = 3: follower b was cut off while the leader acked 4, 5 and 6 with
  // c's copy; c also retired 2 (acked by the device) before the leader
  // died. b takes over and asks c for what it lacks.
  std::vector<uint64_t> b{1, 2, 3};
  std::vector<uint64_t> c{1, 3, 4, 5, 6};
  CAF_CHECK_EQUAL(missing_rows(b, c), (std::vector<uint64_t>{4, 5, 6}));
  // Nothing is taken away: 2 stays with b (a duplicate with its id, never
  // a loss), and c lacks nothing b could give it.
  CAF_CHECK_EQUAL(missing_rows(c, b), std::vector<uint64_t>{2});
  // Order and repeats of the answer do not matter.
  CAF_CHECK_EQUAL(missing_rows({3, 1}, {6, 4, 4, 1, 5}),
                  (std::vector<uint64_t>{4, 5, 6}));
  CAF_CHECK(missing_rows({1, 2}, {}).empty());
  CAF_CHECK_EQUAL(missing_rows({}, {2, 1}), (std::vector<uint64_t>{1, 2}));
}

CAF_TEST(
  a returning old leader hands its copy to the takeover and stays older) {
  // Leader c held the queue at generation 1; b took it over (generation
  // 2) and the device was served since. c comes back with its disk and is
  // told the queue is at b: it hands what it holds over (nothing acked is
  // dropped: it may hold a lineage of its own, below), and b keeps its
  // generation, so c's copy can never win later.
  auto g = takeover_generation(1);
  CAF_CHECK_EQUAL(g, 2u);
  CAF_CHECK_EQUAL(generation_after_handover(g, 1), g);
  // A queue that started fresh on a node whose own record was older (the
  // device connected there while its leader was away, not taken over)
  // holds acked messages nowhere else: handed to a newer lineage, merged
  // there at that lineage's generation.
  CAF_CHECK_EQUAL(generation_after_handover(5, 0), 5u);
  // A device that moved: the receiving queue is the next generation.
  CAF_CHECK_EQUAL(generation_after_handover(0, 0), 1u);
  CAF_CHECK_EQUAL(generation_after_handover(2, 2), 3u);
  // A copy newer than the receiver (the home learned of a takeover late):
  // the receiver takes the next one after it.
  CAF_CHECK_EQUAL(generation_after_handover(2, 3), 4u);
}

#define CAF_SUITE actors.lazy_deque
#include <caf/test/unit_test.hpp>

#include <algorithm>

#include "actors/lazy_deque.hpp"

using tether::actors::lazy_deque;

CAF_TEST(an empty deque iterates and sorts and erases nothing) {
  lazy_deque<int> q;
  CAF_CHECK(q.empty());
  CAF_CHECK_EQUAL(q.size(), 0u);
  CAF_CHECK(q.begin() == q.end());
  std::sort(q.begin(), q.end());
  CAF_CHECK(q.erase(q.begin(), q.end()) == q.end());
  const auto& c = q;
  CAF_CHECK(c.begin() == c.end());
  auto copy = q;
  CAF_CHECK(copy.empty());
}

CAF_TEST(it behaves as a deque once used) {
  lazy_deque<int> q;
  q.push_back(2);
  q.push_back(3);
  q.push_front(1);
  q.emplace_back(4);
  CAF_CHECK_EQUAL(q.size(), 4u);
  CAF_CHECK_EQUAL(q.front(), 1);
  CAF_CHECK_EQUAL(q.back(), 4);
  CAF_CHECK_EQUAL(q[2], 3);
  q.pop_front();
  auto copy = q;
  q.erase(q.begin(), q.begin() + 2);
  CAF_CHECK_EQUAL(q.size(), 1u);
  CAF_CHECK_EQUAL(q.front(), 4);
  CAF_CHECK_EQUAL(copy.size(), 3u);
  int sum = 0;
  for (auto x : copy)
    sum += x;
  CAF_CHECK_EQUAL(sum, 9);
  q.clear();
  CAF_CHECK(q.empty());
  q.push_back(7);
  CAF_CHECK_EQUAL(q.front(), 7);
}

#define CAF_SUITE actors.member_lists
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "actors/room/member_lists.hpp"

using namespace tether::actors;
using tether::protocol::codec;

namespace {

using lists = member_lists<int>;

member_key key(int i) {
  return {"u" + std::to_string(i), "d"};
}

std::vector<int> sorted(std::vector<int> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

// Every member is in the list of its loop, once, and nowhere else.
bool consistent(const lists& ms) {
  size_t seen = 0;
  bool ok = true;
  for (size_t g = 0; g < ms.groups(); ++g) {
    for (auto h : ms.view(g)) {
      auto* m = ms.find(key(h));
      ok = ok && m && m->handle == h && m->loop == lists::loop_of(g);
    }
    seen += ms.view(g).size();
  }
  return ok && seen == ms.size();
}

} // namespace

CAF_TEST(members are grouped by the loop of their queue) {
  lists ms;
  ms.put(key(1), 1, codec::json, 0);
  ms.put(key(2), 2, codec::msgpack, 1);
  ms.put(key(3), 3, codec::json, 1);
  ms.put(key(4), 4, codec::json, -1);
  CAF_CHECK_EQUAL(ms.size(), 4u);
  CAF_REQUIRE_EQUAL(ms.groups(), 3u);
  CAF_CHECK_EQUAL(lists::loop_of(0), -1);
  CAF_CHECK_EQUAL(ms.view(0), std::vector<int>{4});
  CAF_CHECK_EQUAL(ms.view(1), std::vector<int>{1});
  CAF_CHECK_EQUAL(sorted(ms.view(2)), (std::vector<int>{2, 3}));
  CAF_CHECK_EQUAL(ms.count(codec::json), 3u);
  CAF_CHECK_EQUAL(ms.count(codec::msgpack), 1u);
  CAF_CHECK(consistent(ms));
}

CAF_TEST(a member put again moves to its new loop and codec) {
  lists ms;
  ms.put(key(1), 1, codec::json, 0);
  ms.put(key(2), 2, codec::json, 0);
  ms.put(key(1), 1, codec::msgpack, 1);
  CAF_CHECK_EQUAL(ms.size(), 2u);
  CAF_CHECK_EQUAL(ms.view(1), std::vector<int>{2});
  CAF_CHECK_EQUAL(ms.view(2), std::vector<int>{1});
  CAF_CHECK_EQUAL(ms.count(codec::json), 1u);
  CAF_CHECK_EQUAL(ms.count(codec::msgpack), 1u);
  auto* m = ms.find(key(1));
  CAF_REQUIRE(m != nullptr);
  CAF_CHECK_EQUAL(m->loop, 1);
  CAF_CHECK(consistent(ms));
}

CAF_TEST(removing members anywhere keeps every list whole) {
  lists ms;
  for (int i = 0; i < 50; ++i)
    ms.put(key(i), i, i % 3 == 0 ? codec::msgpack : codec::json, i % 2);
  // First, last and middle of each list, and one that is no member.
  for (int i : {0, 1, 48, 49, 20, 21, 77})
    ms.erase(key(i));
  CAF_CHECK_EQUAL(ms.size(), 44u);
  CAF_CHECK(ms.find(key(20)) == nullptr);
  CAF_CHECK(ms.find(key(22)) != nullptr);
  CAF_CHECK(consistent(ms));
  size_t msgpack = 0;
  ms.for_each([&](const member_key&, const lists::member& m) {
    msgpack += m.codec == codec::msgpack ? 1 : 0;
  });
  CAF_CHECK_EQUAL(ms.count(codec::msgpack), msgpack);
  CAF_CHECK_EQUAL(ms.count(codec::json), 44u - msgpack);
  for (int i = 0; i < 50; ++i)
    ms.erase(key(i));
  CAF_CHECK_EQUAL(ms.size(), 0u);
  CAF_CHECK(ms.view(1).empty() && ms.view(2).empty());
  CAF_CHECK_EQUAL(ms.count(codec::json) + ms.count(codec::msgpack), 0u);
}

CAF_TEST(a shared list stays as it was while the membership changes) {
  lists ms;
  for (int i = 0; i < 4; ++i)
    ms.put(key(i), i, codec::json, 0);
  auto in_flight = ms.share(1);
  ms.erase(key(0));
  ms.put(key(9), 9, codec::json, 0);
  CAF_CHECK_EQUAL(sorted(*in_flight), (std::vector<int>{0, 1, 2, 3}));
  CAF_CHECK_EQUAL(sorted(ms.view(1)), (std::vector<int>{1, 2, 3, 9}));
  // Once nobody reads the old one, changes go to the list in place.
  in_flight.reset();
  auto before = &ms.view(1);
  ms.erase(key(1));
  CAF_CHECK_EQUAL(&ms.view(1), before);
  CAF_CHECK(consistent(ms));
}

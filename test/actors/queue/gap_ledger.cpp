#define CAF_SUITE actors.gap_ledger
#include <caf/test/unit_test.hpp>

#include "actors/queue/gap_ledger.hpp"

using namespace tether::actors;
using counts = gap_ledger::counts;

CAF_TEST(drops are reported once with the worst cause) {
  gap_ledger g;
  CAF_CHECK(!g.due());
  g.dropped(gap_cause::expired, "m1");
  g.dropped(gap_cause::evicted, "m2");
  CAF_REQUIRE(g.due());
  auto gap = g.take();
  CAF_CHECK_EQUAL(gap.reason, "evicted");
  CAF_CHECK_EQUAL(gap.count, 2u);
  CAF_CHECK_EQUAL(gap.message_ids, (std::vector<std::string>{"m1", "m2"}));
  CAF_CHECK(!g.due());
  g.dropped(gap_cause::dead, "m3");
  CAF_CHECK(!g.due()); // the first is on its way
  CAF_CHECK(g.ids() == std::vector<std::string>{"m3"});
}

CAF_TEST(one notice at a time; its counts persist until retired) {
  gap_ledger g;
  g.dropped(gap_cause::expired, "a");
  g.take();
  g.dropped(gap_cause::dead, "b");
  CAF_CHECK(!g.due()); // the first notice is on its way
  CAF_CHECK(g.persisted() == (counts{1, 0, 1}));
  g.retired();
  CAF_CHECK(g.persisted() == (counts{0, 0, 1}));
  CAF_REQUIRE(g.due());
  auto gap = g.take();
  CAF_CHECK_EQUAL(gap.reason, "dead_letter");
  CAF_CHECK_EQUAL(gap.count, 1u);
  g.retired();
  CAF_CHECK(g.persisted() == (counts{0, 0, 0}));
  CAF_CHECK(!g.due());
}

CAF_TEST(a dropped notice gives its counts back) {
  gap_ledger g;
  g.dropped(gap_cause::evicted, "a");
  g.dropped(gap_cause::evicted, "b");
  g.take();
  g.dropped(gap_cause::expired, "c");
  g.notice_dropped();
  CAF_REQUIRE(g.due());
  auto gap = g.take();
  CAF_CHECK_EQUAL(gap.count, 3u);
  CAF_CHECK_EQUAL(gap.reason, "evicted");
  // The ids of the lost notice are gone; its counts are not.
  CAF_CHECK_EQUAL(gap.message_ids, (std::vector<std::string>{"c"}));
}

CAF_TEST(ids stop at max_ids and counts go on) {
  gap_ledger g;
  for (size_t i = 0; i < gap_ledger::max_ids + 50; ++i)
    g.dropped(gap_cause::expired, "m" + std::to_string(i));
  auto gap = g.take();
  CAF_CHECK_EQUAL(gap.count, gap_ledger::max_ids + 50);
  CAF_CHECK_EQUAL(gap.message_ids.size(), gap_ledger::max_ids);
  CAF_CHECK_EQUAL(gap.message_ids.back(), "m99");
  CAF_CHECK(g.ids().empty());
}

CAF_TEST(restored counts are due and have no ids) {
  gap_ledger g;
  g.restore(counts{2, 0, 1});
  CAF_REQUIRE(g.due());
  auto gap = g.take();
  CAF_CHECK_EQUAL(gap.count, 3u);
  CAF_CHECK_EQUAL(gap.reason, "dead_letter");
  CAF_CHECK(gap.message_ids.empty());
}

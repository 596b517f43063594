#define CAF_SUITE actors.delivery_checker
#include <caf/test/unit_test.hpp>

#include "actors/device/delivery_checker.hpp"

using namespace tether::actors;
using tether::protocol::priority;

namespace {

struct fixture {
  device_ledger a, b, c;
  fixture() {
    a.key = "u/a";
    b.key = "u/b";
    c.key = "v/c";
  }

  // a sends message #n to `to` (accepted unless told otherwise).
  std::string send(uint64_t n, const std::string& to, bool accepted = true,
                   priority p = priority::normal) {
    device_ledger::sent_record r;
    r.id = make_message_id(a.key, "r1", n);
    r.prio = p;
    r.to = to;
    a.sent.push_back(r);
    if (accepted)
      a.accepted.insert(r.id);
    return r.id;
  }

  check_report run() { return check({&a, &b, &c}); }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(delivery_checker_tests, fixture)

CAF_TEST(message ids carry sender and order) {
  std::string who;
  uint64_t n = 0;
  CAF_CHECK_EQUAL(make_message_id("user-1/dev-0", "7.1", 42),
                  "user-1/dev-0~7.1#42");
  CAF_CHECK(parse_message_id("user-1/dev-0~7.1#42", who, n));
  CAF_CHECK_EQUAL(who, "user-1/dev-0");
  CAF_CHECK_EQUAL(n, 42u);
  CAF_CHECK(!parse_message_id("no-order", who, n));
  CAF_CHECK(!parse_message_id("x#4a", who, n));
}

CAF_TEST(everything delivered once is ok) {
  b.receive(send(1, "u/b"), priority::normal);
  b.receive(send(2, "u/b"), priority::normal);
  auto r = run();
  CAF_CHECK_EQUAL(r.expected, 2u);
  CAF_CHECK_EQUAL(r.delivered, 2u);
  CAF_CHECK_EQUAL(r.lost, 0u);
  CAF_CHECK(r.ok());
}

CAF_TEST(an accepted message missing at a recipient is lost) {
  send(1, "u/b");
  auto r = run();
  CAF_CHECK_EQUAL(r.lost, 1u);
  CAF_CHECK(!r.ok());
  CAF_REQUIRE_EQUAL(r.lost_examples.size(), 1u);
  CAF_CHECK_EQUAL(r.lost_examples[0], "u/a~r1#1 -> u/b");
}

CAF_TEST(refused and unanswered messages are not expected) {
  auto id = send(1, "u/b", false);
  a.failed.insert(id);
  send(2, "u/b", false);
  auto r = run();
  CAF_CHECK_EQUAL(r.failed, 1u);
  CAF_CHECK_EQUAL(r.in_doubt, 1u);
  CAF_CHECK_EQUAL(r.expected, 0u);
  CAF_CHECK(r.ok());
}

CAF_TEST(duplicates are counted not hidden) {
  auto id = send(1, "u/b");
  CAF_CHECK(b.receive(id, priority::normal));
  CAF_CHECK(!b.receive(id, priority::normal));
  auto r = run();
  CAF_CHECK_EQUAL(r.duplicates, 1u);
  CAF_CHECK_EQUAL(r.delivered, 1u);
  CAF_CHECK(r.ok());
}

CAF_TEST(order is checked per sender and priority) {
  auto m1 = send(1, "u/b");
  auto m2 = send(2, "u/b", true, priority::high);
  auto m3 = send(3, "u/b");
  // A higher priority may overtake; within normal, 3 before 1 is a violation.
  b.receive(m2, priority::high);
  b.receive(m3, priority::normal);
  b.receive(m1, priority::normal);
  auto r = run();
  CAF_CHECK_EQUAL(r.order_violations, 1u);
  CAF_CHECK(!r.ok());
  CAF_REQUIRE_EQUAL(r.order_examples.size(), 1u);
  CAF_CHECK_EQUAL(r.order_examples[0], "u/a~r1#1 after #3 at u/b");
}

CAF_TEST(room messages are expected at every member but the sender) {
  device_ledger::sent_record rec;
  rec.id = make_message_id(a.key, "r1", 1);
  rec.members = std::make_shared<std::vector<std::string>>(
    std::vector<std::string>{"u/a", "u/b", "v/c"});
  a.sent.push_back(rec);
  a.accepted.insert(rec.id);
  b.receive(rec.id, priority::normal);
  auto r = run();
  CAF_CHECK_EQUAL(r.expected, 2u);
  CAF_CHECK_EQUAL(r.lost, 1u);
  c.receive(rec.id, priority::normal);
  CAF_CHECK(run().ok());
}

CAF_TEST(drops named or counted by gap notices are not losses) {
  auto named = send(1, "u/b");
  send(2, "u/b");
  send(3, "u/b");
  b.gapped.insert(named);
  b.gapped_unnamed = 1;
  auto r = run();
  CAF_CHECK_EQUAL(r.gapped, 2u);
  CAF_CHECK_EQUAL(r.lost, 1u); // the notices covered two of three
}

CAF_TEST_FIXTURE_SCOPE_END()

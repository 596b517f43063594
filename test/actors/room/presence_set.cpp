#define CAF_SUITE actors.presence_set
#include <caf/test/unit_test.hpp>

#include "actors/room/presence_set.hpp"

using namespace tether::actors;
using tether::protocol::device_type;
using tether::protocol::presence_status;
using namespace std::chrono_literals;

namespace {

member_state member(const std::string& user, const std::string& device,
                    device_type type = device_type::mobile) {
  member_state m;
  m.user_id = user;
  m.device_id = device;
  m.type = type;
  return m;
}

presence_params params() {
  presence_params p;
  p.away_after = 1000ms;
  p.grace = 500ms;
  return p;
}

} // namespace

CAF_TEST(join and leave are events and count is kept) {
  presence_set p{params()};
  auto e = p.join(member("alice", "phone"), 0);
  CAF_REQUIRE(e.has_value());
  CAF_CHECK_EQUAL(e->event, "join");
  CAF_CHECK(e->status == presence_status::online);
  CAF_CHECK(!p.join(member("alice", "phone"), 1).has_value()); // refresh
  p.join(member("bob", "laptop"), 2);
  CAF_CHECK_EQUAL(p.size(), 2u);
  auto l = p.leave({"alice", "phone"}, 3);
  CAF_REQUIRE(l.has_value());
  CAF_CHECK_EQUAL(l->event, "leave");
  CAF_CHECK(l->status == presence_status::offline);
  CAF_CHECK_EQUAL(p.size(), 1u);
  CAF_CHECK(!p.leave({"alice", "phone"}, 4).has_value());
}

CAF_TEST(idle devices show away until they are active) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  CAF_CHECK(p.sweep(999).empty());
  auto s = p.sweep(1000);
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  CAF_CHECK(s[0].status == presence_status::away);
  CAF_CHECK(p.sweep(5000).empty()); // reported once
  auto a = p.activity({"alice", "phone"}, 6000);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK(a->status == presence_status::online);
  CAF_CHECK(!p.activity({"alice", "phone"}, 6001).has_value());
}

CAF_TEST(a declared busy status is not turned away by idleness) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  tether::protocol::status_request r;
  r.status = presence_status::busy;
  auto e = p.set_status({"alice", "phone"}, r, 10);
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(e->status == presence_status::busy);
  auto s = p.sweep(5000);
  for (auto& x : s)
    CAF_CHECK(x.status == presence_status::busy);
  CAF_CHECK(!p.set_status({"alice", "phone"}, r, 5001).has_value());
}

CAF_TEST(an app in the background shows away until it comes back) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  member_key k{"alice", "phone"};
  auto e = p.set_background(k, true, 10);
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(e->status == presence_status::away);
  CAF_CHECK_EQUAL(e->event, "update");
  CAF_CHECK(!p.set_background(k, true, 11).has_value()); // no change
  // Activity (a heartbeat from the background) does not bring it back.
  CAF_CHECK(!p.activity(k, 20).has_value());
  CAF_CHECK(p.shown(*p.find(k)) == presence_status::away);
  // Busy declared in the background: still away while there.
  tether::protocol::status_request busy;
  busy.status = presence_status::busy;
  CAF_CHECK(!p.set_status(k, busy, 30).has_value());
  e = p.set_background(k, false, 40);
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(e->status == presence_status::busy);
  // Already away when it left the screen: nothing to report.
  p.join(member("bob", "phone"), 0);
  tether::protocol::status_request away;
  away.status = presence_status::away;
  p.set_status({"bob", "phone"}, away, 1);
  CAF_CHECK(!p.set_background({"bob", "phone"}, true, 2).has_value());
  CAF_CHECK(!p.set_background({"nobody", "x"}, true, 2).has_value());
}

CAF_TEST(a reconnect within the grace emits nothing) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  p.disconnected({"alice", "phone"}, 100);
  CAF_CHECK(p.sweep(599).empty());
  CAF_CHECK(p.reconnected({"alice", "phone"}, 599));
  CAF_CHECK(p.sweep(2000).size() <= 1u); // at most the idle change
  CAF_CHECK_EQUAL(p.suppressed_flaps(), 1u);
  CAF_CHECK_EQUAL(p.size(), 1u);
}

CAF_TEST(past the grace a disconnected device leaves offline with no ghost) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  p.disconnected({"alice", "phone"}, 100);
  auto s = p.sweep(600);
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  CAF_CHECK_EQUAL(s[0].event, "leave");
  CAF_CHECK(s[0].status == presence_status::offline);
  CAF_CHECK_EQUAL(s[0].last_seen_ms, 100);
  CAF_CHECK_EQUAL(p.size(), 0u);
  CAF_CHECK(!p.reconnected({"alice", "phone"}, 700));
  CAF_CHECK(!p.next_deadline().has_value());
}

CAF_TEST(a user is as present as their most present device) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  p.join(member("alice", "laptop", device_type::desktop), 0);
  tether::protocol::status_request away;
  away.status = presence_status::away;
  tether::protocol::status_request busy;
  busy.status = presence_status::busy;
  p.set_status({"alice", "phone"}, away, 1);
  p.set_status({"alice", "laptop"}, busy, 1);
  CAF_CHECK(p.user("alice").status == presence_status::busy); // busy > away
  tether::protocol::status_request online;
  online.status = presence_status::online;
  p.set_status({"alice", "phone"}, online, 2);
  CAF_CHECK(p.user("alice").status == presence_status::online);
  CAF_CHECK(p.user("nobody").status == presence_status::offline);
}

CAF_TEST(custom statuses expire) {
  presence_set p{params()};
  p.join(member("alice", "phone"), 0);
  tether::protocol::status_request r;
  r.custom = tether::protocol::custom_status{"In a meeting", "M", 300};
  auto e = p.set_status({"alice", "phone"}, r, 0);
  CAF_REQUIRE(e && e->custom);
  CAF_CHECK_EQUAL(e->custom->text, "In a meeting");
  auto s = p.sweep(300);
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  CAF_CHECK(!s[0].custom.has_value());
}

CAF_TEST(pages and subscriber filters) {
  presence_set p{params()};
  for (int i = 0; i < 25; ++i)
    p.join(member("u" + std::to_string(100 + i), "d"), 0);
  CAF_CHECK_EQUAL(p.page(0, 10).size(), 10u);
  CAF_CHECK_EQUAL(p.page(2, 10).size(), 5u);
  CAF_CHECK(p.page(3, 10).empty());
  auto third = p.page(2, 10);
  CAF_REQUIRE(!third.empty());
  CAF_CHECK_EQUAL(third.front().user_id, "u120");
  auto sub = member("s", "d");
  sub.subscribed = true;
  sub.status_filter = {presence_status::online};
  sub.type_filter = {device_type::desktop};
  tether::protocol::presence_entry e;
  e.status = presence_status::online;
  e.type = device_type::desktop;
  CAF_CHECK(presence_set::wants(sub, e));
  e.type = device_type::mobile;
  CAF_CHECK(!presence_set::wants(sub, e));
  e.type = device_type::desktop;
  e.status = presence_status::away;
  CAF_CHECK(!presence_set::wants(sub, e));
}

// The room arms its timer from the changed member's deadline alone
// (deadline_of) and scans every member only when the timer fires: the
// earliest of the members' own deadlines must be next_deadline(), whatever
// happened to them. Random operations on a few members, checked after each.
CAF_TEST(the earliest member deadline is the next deadline) {
  presence_set p{params()};
  std::vector<member_key> keys{
    {"alice", "phone"}, {"alice", "laptop"}, {"bob", "tablet"}, {"carol", "x"}};
  uint64_t seed = 42;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((seed >> 33) % n);
  };
  int64_t now = 0;
  for (int step = 0; step < 2000; ++step) {
    now += static_cast<int64_t>(next(300));
    auto& k = keys[next(keys.size())];
    switch (next(6)) {
      case 0:
        p.join(member(k.first, k.second), now);
        break;
      case 1:
        p.disconnected(k, now);
        break;
      case 2:
        p.reconnected(k, now);
        break;
      case 3:
        p.activity(k, now);
        break;
      case 4: {
        tether::protocol::status_request r;
        r.custom = tether::protocol::custom_status{
          "busy", "", now + 1 + int64_t(next(900))};
        p.set_status(k, r, now);
        break;
      }
      default:
        p.sweep(now);
    }
    std::optional<int64_t> earliest;
    for (auto& key : keys)
      if (auto t = p.deadline_of(key); t && (!earliest || *t < *earliest))
        earliest = t;
    auto scanned = p.next_deadline();
    auto want = earliest.value_or(-1);
    auto got = scanned.value_or(-1);
    CAF_REQUIRE_EQUAL(want, got);
  }
  CAF_CHECK(!p.deadline_of({"dave", "none"}).has_value());
}

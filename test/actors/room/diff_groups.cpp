#define CAF_SUITE actors.diff_groups
#include <caf/test/unit_test.hpp>

#include "actors/room/diff_groups.hpp"

using namespace tether::actors;
using tether::protocol::device_type;
using tether::protocol::presence_entry;
using tether::protocol::presence_status;

namespace {

member_state subscriber(const std::string& user, const std::string& device,
                        std::vector<presence_status> statuses = {},
                        std::vector<device_type> types = {}) {
  member_state m;
  m.user_id = user;
  m.device_id = device;
  m.subscribed = true;
  m.status_filter = std::move(statuses);
  m.type_filter = std::move(types);
  return m;
}

presence_entry change(const std::string& user, const std::string& device,
                      presence_status status,
                      device_type type = device_type::mobile) {
  presence_entry e;
  e.user_id = user;
  e.device_id = device;
  e.status = status;
  e.type = type;
  e.event = "update";
  return e;
}

std::vector<std::string> keys(const std::vector<presence_entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(e.user_id + "/" + e.device_id);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

CAF_TEST(
  subscribers without filters share one message without their own change) {
  auto alice = subscriber("alice", "phone");
  auto bob = subscriber("bob", "laptop");
  auto carol = subscriber("carol", "tablet");
  std::vector<presence_entry> changes{
    change("alice", "phone", presence_status::away)};
  auto gs = group_diffs(changes, {&alice, &bob, &carol});
  CAF_REQUIRE_EQUAL(gs.size(), 1u);
  CAF_CHECK_EQUAL(keys(gs[0].changes), strings{"alice/phone"});
  CAF_REQUIRE_EQUAL(gs[0].subscribers.size(), 2u);
  CAF_CHECK_EQUAL(gs[0].subscribers[0], &bob);
  CAF_CHECK_EQUAL(gs[0].subscribers[1], &carol);
}

CAF_TEST(each distinct selection is its own message with the changes in order) {
  auto alice = subscriber("alice", "phone");
  auto bob = subscriber("bob", "laptop");
  auto only_away = subscriber("dave", "web", {presence_status::away});
  auto only_desktop = subscriber("erin", "mac", {}, {device_type::desktop});
  std::vector<presence_entry> changes{
    change("carol", "tablet", presence_status::online, device_type::tablet),
    change("frank", "pc", presence_status::away, device_type::desktop),
    change("alice", "phone", presence_status::busy)};
  auto gs = group_diffs(changes, {&alice, &bob, &only_away, &only_desktop});
  // alice: carol and frank; bob: all three; dave: frank; erin: frank.
  CAF_REQUIRE_EQUAL(gs.size(), 3u);
  CAF_CHECK_EQUAL(keys(gs[0].changes), (strings{"carol/tablet", "frank/pc"}));
  CAF_CHECK_EQUAL(gs[0].subscribers.size(), 1u);
  CAF_CHECK_EQUAL(gs[0].subscribers[0], &alice);
  CAF_CHECK_EQUAL(keys(gs[1].changes),
                  (strings{"carol/tablet", "frank/pc", "alice/phone"}));
  CAF_CHECK_EQUAL(gs[1].subscribers[0], &bob);
  CAF_CHECK_EQUAL(keys(gs[2].changes), strings{"frank/pc"});
  CAF_REQUIRE_EQUAL(gs[2].subscribers.size(), 2u);
  CAF_CHECK_EQUAL(gs[2].subscribers[0], &only_away);
  CAF_CHECK_EQUAL(gs[2].subscribers[1], &only_desktop);
}

CAF_TEST(a subscriber whose filters pass nothing gets no message) {
  auto alice = subscriber("alice", "phone", {presence_status::busy});
  auto bob = subscriber("bob", "laptop");
  std::vector<presence_entry> changes{
    change("bob", "laptop", presence_status::away)};
  // alice filters out away; bob's only change is his own.
  CAF_CHECK(group_diffs(changes, {&alice, &bob}).empty());
  CAF_CHECK(group_diffs({}, {&alice, &bob}).empty());
}

CAF_TEST(another device of the same user is told) {
  auto phone = subscriber("alice", "phone");
  std::vector<presence_entry> changes{
    change("alice", "laptop", presence_status::online)};
  auto gs = group_diffs(changes, {&phone});
  CAF_REQUIRE_EQUAL(gs.size(), 1u);
  CAF_CHECK_EQUAL(keys(gs[0].changes), strings{"alice/laptop"});
}

#define CAF_SUITE actors.room_rules
#include <caf/test/unit_test.hpp>

#include "actors/room/room_rules.hpp"

using namespace tether::actors;

CAF_TEST(glob patterns) {
  CAF_CHECK(glob_match("*", "anything"));
  CAF_CHECK(glob_match("team-*", "team-42"));
  CAF_CHECK(!glob_match("team-*", "teams"));
  CAF_CHECK(glob_match("a*b*c", "a-x-b-y-c"));
  CAF_CHECK(!glob_match("a*b*c", "a-x-c-y-b"));
  CAF_CHECK(glob_match("exact", "exact"));
  CAF_CHECK(!glob_match("exact", "exactly"));
}

CAF_TEST(private user rooms are for their user only) {
  std::vector<room_rule> everything{{room_action::join, "*", ""},
                                    {room_action::publish, "*", ""}};
  CAF_CHECK(
    room_allowed(everything, room_action::join, "user:alice", "alice", ""));
  CAF_CHECK(room_allowed(everything, room_action::publish, "user:alice:notes",
                         "alice", ""));
  CAF_CHECK(
    !room_allowed(everything, room_action::join, "user:alice", "bob", ""));
  CAF_CHECK(
    !room_allowed(everything, room_action::join, "user:alice:x", "bob", ""));
  CAF_CHECK(
    !room_allowed(everything, room_action::join, "user:alicex", "alice", ""));
  CAF_CHECK(!room_allowed({}, room_action::join, "user:bob", "alice", ""));
}

CAF_TEST(rules by action pattern role and user placeholder) {
  std::vector<std::string> problems;
  auto rules = parse_room_rules({"join:team-*", "publish:announce@extension",
                                 "join:dm:{user}:*"},
                                problems);
  CAF_CHECK(problems.empty());
  CAF_CHECK(room_allowed(rules, room_action::join, "team-1", "alice", ""));
  CAF_CHECK(!room_allowed(rules, room_action::publish, "team-1", "alice", ""));
  CAF_CHECK(room_allowed(rules, room_action::publish, "announce", "alice",
                         "extension"));
  CAF_CHECK(
    !room_allowed(rules, room_action::publish, "announce", "alice", ""));
  CAF_CHECK(
    room_allowed(rules, room_action::join, "dm:alice:bob", "alice", ""));
  CAF_CHECK(
    !room_allowed(rules, room_action::join, "dm:bob:alice", "alice", ""));
  // Default deny: nothing matches.
  CAF_CHECK(!room_allowed(rules, room_action::join, "lobby", "alice", ""));
}

CAF_TEST(malformed rules are reported) {
  std::vector<std::string> problems;
  parse_room_rules({"join", "watch:*", "publish:", "join:x@"}, problems);
  CAF_CHECK_EQUAL(problems.size(), 4u);
}

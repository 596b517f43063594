#pragma once

// Who may join or publish to which room. Rooms named `user:<userId>` or
// `user:<userId>:<anything>` are private to that user's devices, whatever the
// rules say. For every other room a request is allowed if a rule matches it:
//
//   rule    = action ":" pattern [ "@" role ]
//   action  = "join" | "publish"
//   pattern = room name where "*" matches any run of characters and
//             "{user}" stands for the requesting user's id
//   role    = the token's role ("device" for tokens without one)
//
// Examples: "join:*", "publish:team-*", "publish:announcements@extension",
// "join:dm:{user}:*". Pure.

#include <string>
#include <string_view>
#include <vector>

namespace tether::actors {

enum class room_action : uint8_t { join, publish };

struct room_rule {
  room_action action = room_action::join;
  std::string pattern;
  /// Empty: any role.
  std::string role;
};

/// Parses rule strings; every malformed one is reported.
std::vector<room_rule> parse_room_rules(const std::vector<std::string>& specs,
                                        std::vector<std::string>& problems);

/// The rule as parse_room_rules reads it ("publish:team-*@extension").
std::string to_string(const room_rule& r);

/// Any device may join and publish to every non-private room.
std::vector<room_rule> default_room_rules();

/// Whether `user_id` with `role` may do `action` on `room`.
bool room_allowed(const std::vector<room_rule>& rules, room_action action,
                  std::string_view room, std::string_view user_id,
                  std::string_view role);

/// Whether `room` is a private room (of any user).
bool is_private_room(std::string_view room) noexcept;

/// The private presence room every device of `user_id` is in.
std::string user_room(std::string_view user_id);

/// Glob match with "*" (exposed for tests).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

} // namespace tether::actors

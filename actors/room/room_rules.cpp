#include "actors/room/room_rules.hpp"

namespace tether::actors {

bool glob_match(std::string_view p, std::string_view t) noexcept {
  // Iterative matcher with backtracking to the last star: O(|p| * |t|).
  size_t pi = 0;
  size_t ti = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

std::string to_string(const room_rule& r) {
  auto out = std::string{r.action == room_action::join ? "join" : "publish"}
             + ":" + r.pattern;
  if (!r.role.empty())
    out += "@" + r.role;
  return out;
}

std::vector<room_rule> default_room_rules() {
  return {{room_action::join, "*", ""}, {room_action::publish, "*", ""}};
}

std::vector<room_rule> parse_room_rules(const std::vector<std::string>& specs,
                                        std::vector<std::string>& problems) {
  std::vector<room_rule> out;
  for (auto& spec : specs) {
    auto colon = spec.find(':');
    auto fail = [&](const char* why) {
      problems.push_back("room rule '" + spec + "': " + why);
    };
    if (colon == std::string::npos) {
      fail("expected action:pattern[@role]");
      continue;
    }
    room_rule r;
    auto action = spec.substr(0, colon);
    if (action == "join")
      r.action = room_action::join;
    else if (action == "publish")
      r.action = room_action::publish;
    else {
      fail("action must be join or publish");
      continue;
    }
    auto rest = spec.substr(colon + 1);
    if (auto at = rest.rfind('@'); at != std::string::npos) {
      r.role = rest.substr(at + 1);
      rest = rest.substr(0, at);
      if (r.role.empty()) {
        fail("empty role after @");
        continue;
      }
    }
    if (rest.empty()) {
      fail("empty pattern");
      continue;
    }
    r.pattern = rest;
    out.push_back(std::move(r));
  }
  return out;
}

bool is_private_room(std::string_view room) noexcept {
  return room.rfind("user:", 0) == 0;
}

std::string user_room(std::string_view user_id) {
  return "user:" + std::string{user_id};
}

bool room_allowed(const std::vector<room_rule>& rules, room_action action,
                  std::string_view room, std::string_view user_id,
                  std::string_view role) {
  if (is_private_room(room)) {
    auto own = user_room(user_id);
    return room == own
           || (room.size() > own.size() && room.substr(0, own.size()) == own
               && room[own.size()] == ':');
  }
  auto effective_role = role.empty() ? std::string_view{"device"} : role;
  for (auto& r : rules) {
    if (r.action != action || (!r.role.empty() && r.role != effective_role))
      continue;
    auto pattern = r.pattern;
    for (auto pos = pattern.find("{user}"); pos != std::string::npos;
         pos = pattern.find("{user}", pos + user_id.size()))
      pattern.replace(pos, 6, user_id);
    if (glob_match(pattern, room))
      return true;
  }
  return false;
}

} // namespace tether::actors

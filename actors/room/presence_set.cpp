#include "actors/room/presence_set.hpp"

#include <algorithm>

namespace tether::actors {

using protocol::presence_entry;
using protocol::presence_status;

protocol::presence_status
presence_set::shown(const member_state& m) const noexcept {
  if (m.background || (m.idle && m.declared == presence_status::online))
    return presence_status::away;
  return m.declared;
}

presence_entry presence_set::entry(const member_state& m,
                                   const char* event) const {
  presence_entry e;
  e.user_id = m.user_id;
  e.device_id = m.device_id;
  e.type = m.type;
  e.status = shown(m);
  e.custom = m.custom;
  e.last_seen_ms = m.last_seen_ms;
  e.event = event;
  return e;
}

std::optional<presence_entry> presence_set::join(member_state m,
                                                 int64_t now_ms) {
  member_key k{m.user_id, m.device_id};
  auto i = members_.find(k);
  if (i != members_.end()) {
    // Already here: refresh the subscription, keep the presence.
    auto& x = i->second;
    x.subscribed = m.subscribed;
    x.status_filter = std::move(m.status_filter);
    x.type_filter = std::move(m.type_filter);
    if (!x.connected) {
      x.connected = true;
      ++flaps_;
    }
    return std::nullopt;
  }
  m.connected = true;
  m.last_activity_ms = now_ms;
  m.last_seen_ms = now_ms;
  auto [pos, added] = members_.emplace(std::move(k), std::move(m));
  return entry(pos->second, "join");
}

std::optional<presence_entry> presence_set::leave(const member_key& k,
                                                  int64_t now_ms) {
  auto i = members_.find(k);
  if (i == members_.end())
    return std::nullopt;
  auto e = entry(i->second, "leave");
  e.status = presence_status::offline;
  e.last_seen_ms = i->second.connected ? now_ms : i->second.last_seen_ms;
  members_.erase(i);
  return e;
}

void presence_set::disconnected(const member_key& k, int64_t now_ms) {
  if (auto i = members_.find(k); i != members_.end() && i->second.connected) {
    i->second.connected = false;
    i->second.disconnected_ms = now_ms;
    i->second.last_seen_ms = now_ms;
  }
}

bool presence_set::reconnected(const member_key& k, int64_t now_ms) {
  auto i = members_.find(k);
  if (i == members_.end() || i->second.connected)
    return false;
  i->second.connected = true;
  i->second.last_seen_ms = now_ms;
  ++flaps_;
  return true;
}

std::optional<presence_entry> presence_set::activity(const member_key& k,
                                                     int64_t now_ms) {
  auto i = members_.find(k);
  if (i == members_.end())
    return std::nullopt;
  auto& m = i->second;
  m.last_activity_ms = now_ms;
  m.last_seen_ms = now_ms;
  if (!m.idle)
    return std::nullopt;
  m.idle = false;
  return entry(m, "update");
}

std::optional<presence_entry> presence_set::set_background(const member_key& k,
                                                           bool background,
                                                           int64_t now_ms) {
  auto i = members_.find(k);
  if (i == members_.end() || i->second.background == background)
    return std::nullopt;
  auto& m = i->second;
  auto before = shown(m);
  m.background = background;
  m.last_seen_ms = now_ms;
  if (!background) {
    // Coming back is activity.
    m.idle = false;
    m.last_activity_ms = now_ms;
  }
  if (shown(m) == before)
    return std::nullopt;
  return entry(m, "update");
}

std::optional<presence_entry>
presence_set::set_status(const member_key& k, const protocol::status_request& r,
                         int64_t now_ms) {
  auto i = members_.find(k);
  if (i == members_.end())
    return std::nullopt;
  auto& m = i->second;
  auto before = entry(m, "update");
  if (r.status)
    m.declared = *r.status;
  if (r.clear_custom)
    m.custom.reset();
  if (r.custom)
    m.custom = r.custom;
  // Setting a status is activity.
  m.idle = false;
  m.last_activity_ms = now_ms;
  m.last_seen_ms = now_ms;
  auto after = entry(m, "update");
  auto same_custom
    = (!before.custom && !after.custom)
      || (before.custom && after.custom
          && before.custom->text == after.custom->text
          && before.custom->emoji == after.custom->emoji
          && before.custom->expires_ms == after.custom->expires_ms);
  if (before.status == after.status && same_custom)
    return std::nullopt;
  return after;
}

std::vector<presence_entry> presence_set::sweep(int64_t now_ms) {
  std::vector<presence_entry> out;
  for (auto i = members_.begin(); i != members_.end();) {
    auto& m = i->second;
    if (!m.connected && now_ms - m.disconnected_ms >= params_.grace.count()) {
      auto e = entry(m, "leave");
      e.status = presence_status::offline;
      out.push_back(std::move(e));
      i = members_.erase(i);
      continue;
    }
    auto changed = false;
    if (m.connected && !m.idle
        && now_ms - m.last_activity_ms >= params_.away_after.count()) {
      m.idle = true;
      changed = true;
    }
    if (m.custom && m.custom->expires_ms > 0
        && m.custom->expires_ms <= now_ms) {
      m.custom.reset();
      changed = true;
    }
    if (changed)
      out.push_back(entry(m, "update"));
    ++i;
  }
  return out;
}

namespace {

// The earliest time sweep() changes `m`, if ever.
std::optional<int64_t> member_deadline(const member_state& m,
                                       const presence_params& p) {
  std::optional<int64_t> at;
  if (!m.connected)
    at = m.disconnected_ms + p.grace.count();
  else if (!m.idle)
    at = m.last_activity_ms + p.away_after.count();
  if (m.custom && m.custom->expires_ms > 0
      && (!at || m.custom->expires_ms < *at))
    at = m.custom->expires_ms;
  return at;
}

} // namespace

std::optional<int64_t> presence_set::next_deadline() const {
  std::optional<int64_t> at;
  for (auto& [k, m] : members_)
    if (auto t = member_deadline(m, params_); t && (!at || *t < *at))
      at = t;
  return at;
}

std::optional<int64_t> presence_set::deadline_of(const member_key& k) const {
  auto i = members_.find(k);
  if (i == members_.end())
    return std::nullopt;
  return member_deadline(i->second, params_);
}

const member_state* presence_set::find(const member_key& k) const {
  auto i = members_.find(k);
  return i == members_.end() ? nullptr : &i->second;
}

std::vector<presence_entry> presence_set::page(uint32_t page,
                                               uint32_t page_size) const {
  std::vector<presence_entry> out;
  auto skip = static_cast<size_t>(page) * page_size;
  if (skip >= members_.size())
    return out;
  auto i = members_.begin();
  std::advance(i, skip);
  for (; i != members_.end() && out.size() < page_size; ++i)
    out.push_back(entry(i->second, ""));
  return out;
}

protocol::user_presence presence_set::user(const std::string& user_id) const {
  protocol::user_presence u;
  u.user_id = user_id;
  for (auto i = members_.lower_bound(member_key{user_id, ""});
       i != members_.end() && i->first.first == user_id; ++i) {
    u.status = std::max(u.status, shown(i->second));
    u.last_seen_ms = std::max(u.last_seen_ms, i->second.last_seen_ms);
  }
  return u;
}

std::vector<const member_state*> presence_set::subscribers() const {
  std::vector<const member_state*> out;
  for (auto& [k, m] : members_)
    if (m.subscribed)
      out.push_back(&m);
  return out;
}

bool presence_set::wants(const member_state& s, const presence_entry& e) {
  auto in = [](auto& list, auto x) {
    return list.empty() || std::find(list.begin(), list.end(), x) != list.end();
  };
  return in(s.status_filter, e.status) && in(s.type_filter, e.type);
}

} // namespace tether::actors

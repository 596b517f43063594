#include "actors/room/cluster_presence.hpp"

#include <algorithm>
#include <set>

namespace tether::actors {

namespace {

using protocol::presence_entry;

bool same_custom(const std::optional<protocol::custom_status>& x,
                 const std::optional<protocol::custom_status>& y) {
  if (!x || !y)
    return !x && !y;
  return x->text == y->text && x->emoji == y->emoji
         && x->expires_ms == y->expires_ms;
}

bool same_presence(const presence_entry& x, const presence_entry& y) {
  return x.status == y.status && x.type == y.type
         && same_custom(x.custom, y.custom);
}

member_key key_of(const presence_entry& e) {
  return {e.user_id, e.device_id};
}

} // namespace

std::optional<presence_entry> cluster_presence::refresh(const member_key& k) {
  const presence_entry* best = nullptr;
  if (auto i = local_.find(k); i != local_.end())
    best = &i->second;
  for (auto& [node, n] : remote_)
    if (auto i = n.members.find(k); i != n.members.end())
      if (!best || i->second.status > best->status)
        best = &i->second;
  auto s = shown_.find(k);
  if (!best) {
    if (s == shown_.end())
      return std::nullopt;
    auto e = std::move(s->second);
    shown_.erase(s);
    e.status = protocol::presence_status::offline;
    e.event = "leave";
    return e;
  }
  if (s == shown_.end()) {
    auto e = *best;
    e.event = "join";
    shown_.emplace(k, e);
    return e;
  }
  bool changed = !same_presence(s->second, *best);
  s->second = *best;
  if (!changed)
    return std::nullopt;
  auto e = *best;
  e.event = "update";
  return e;
}

std::optional<presence_entry> cluster_presence::local(const presence_entry& e) {
  auto k = key_of(e);
  if (e.event == "leave")
    local_.erase(k);
  else
    local_[k] = e;
  return refresh(k);
}

std::vector<presence_entry>
cluster_presence::remote(const std::string& node,
                         const std::vector<presence_entry>& entries,
                         bool full) {
  auto& n = remote_[node];
  // Only its full list says it is back: a change sent before it went down
  // may arrive after its down mark.
  if (full)
    n.down_since_ms.reset();
  std::set<member_key> touched;
  if (full) {
    for (auto& [k, e] : n.members)
      touched.insert(k);
    n.members.clear();
  }
  for (auto& e : entries) {
    auto k = key_of(e);
    touched.insert(k);
    if (e.event == "leave")
      n.members.erase(k);
    else
      n.members[k] = e;
  }
  if (n.members.empty())
    remote_.erase(node);
  std::vector<presence_entry> out;
  for (auto& k : touched)
    if (auto e = refresh(k))
      out.push_back(std::move(*e));
  return out;
}

void cluster_presence::node_down(const std::string& node, int64_t now_ms) {
  if (auto i = remote_.find(node);
      i != remote_.end() && !i->second.down_since_ms)
    i->second.down_since_ms = now_ms;
}

std::vector<presence_entry> cluster_presence::sweep(int64_t now_ms) {
  std::vector<presence_entry> out;
  for (auto i = remote_.begin(); i != remote_.end();) {
    auto& n = i->second;
    if (!n.down_since_ms || now_ms - *n.down_since_ms < grace_.count()) {
      ++i;
      continue;
    }
    auto gone = std::move(n.members);
    i = remote_.erase(i);
    for (auto& [k, e] : gone)
      if (auto ev = refresh(k))
        out.push_back(std::move(*ev));
  }
  return out;
}

std::optional<int64_t> cluster_presence::next_deadline() const {
  std::optional<int64_t> at;
  for (auto& [node, n] : remote_)
    if (n.down_since_ms) {
      auto t = *n.down_since_ms + grace_.count();
      if (!at || t < *at)
        at = t;
    }
  return at;
}

std::vector<presence_entry> cluster_presence::local_members() const {
  std::vector<presence_entry> out;
  out.reserve(local_.size());
  for (auto& [k, e] : local_)
    out.push_back(e);
  return out;
}

std::vector<presence_entry> cluster_presence::page(uint32_t page,
                                                   uint32_t page_size) const {
  std::vector<presence_entry> out;
  auto skip = static_cast<size_t>(page) * page_size;
  if (skip >= shown_.size())
    return out;
  auto i = shown_.begin();
  std::advance(i, skip);
  for (; i != shown_.end() && out.size() < page_size; ++i) {
    out.push_back(i->second);
    out.back().event.clear();
  }
  return out;
}

protocol::user_presence
cluster_presence::user(const std::string& user_id) const {
  protocol::user_presence u;
  u.user_id = user_id;
  for (auto i = shown_.lower_bound(member_key{user_id, ""});
       i != shown_.end() && i->first.first == user_id; ++i) {
    u.status = std::max(u.status, i->second.status);
    u.last_seen_ms = std::max(u.last_seen_ms, i->second.last_seen_ms);
  }
  return u;
}

} // namespace tether::actors

#include "actors/cluster/membership.hpp"

#include <algorithm>

namespace tether::actors {

const char* to_string(node_state s) noexcept {
  switch (s) {
    case node_state::self:
      return "self";
    case node_state::joining:
      return "joining";
    case node_state::alive:
      return "alive";
    case node_state::down:
      return "down";
  }
  return "unknown";
}

const char* to_string(peer_verdict v) noexcept {
  switch (v) {
    case peer_verdict::accepted:
      return "accepted";
    case peer_verdict::is_self:
      return "this node itself";
    case peer_verdict::wrong_protocol:
      return "another cluster protocol version";
    case peer_verdict::duplicate_id:
      return "a node id already taken by a live member";
  }
  return "unknown";
}

membership::membership(member_info self) : self_(std::move(self)) {
  // nop
}

peer_verdict membership::check(const member_info& peer) const {
  if (peer.protocol != cluster_protocol_version)
    return peer_verdict::wrong_protocol;
  if (peer.node_id == self_.node_id)
    return peer.address() == self_.address()
               && peer.incarnation == self_.incarnation
             ? peer_verdict::is_self
             : peer_verdict::duplicate_id;
  if (auto i = members_.find(peer.node_id);
      i != members_.end() && i->second.state == node_state::alive
      && i->second.info.address() != peer.address())
    return peer_verdict::duplicate_id;
  return peer_verdict::accepted;
}

std::optional<member_event> membership::link_up(const member_info& peer,
                                                int64_t now_ms) {
  auto [i, added] = members_.try_emplace(peer.node_id);
  auto& e = i->second;
  auto was = e.state;
  auto old_incarnation = e.info.incarnation;
  e.info = peer;
  if (!added && was == node_state::alive && old_incarnation == peer.incarnation)
    return std::nullopt;
  e.state = node_state::alive;
  e.since_ms = now_ms;
  if (added || was == node_state::joining)
    return member_event{member_event::joined, peer.node_id};
  if (was == node_state::alive || old_incarnation != peer.incarnation)
    return member_event{member_event::restarted, peer.node_id};
  return member_event{member_event::rejoined, peer.node_id};
}

std::optional<member_event> membership::link_down(const std::string& node_id,
                                                  int64_t now_ms) {
  auto i = members_.find(node_id);
  if (i == members_.end() || i->second.state != node_state::alive)
    return std::nullopt;
  i->second.state = node_state::down;
  i->second.since_ms = now_ms;
  return member_event{member_event::down, node_id};
}

std::vector<member_info> membership::learn(const std::vector<member_info>& view,
                                           int64_t now_ms) {
  std::vector<member_info> fresh;
  for (auto& m : view) {
    if (m.node_id == self_.node_id || check(m) != peer_verdict::accepted)
      continue;
    auto [i, added] = members_.try_emplace(m.node_id);
    // A member that is not alive here but answers elsewhere (it moved:
    // a new address) is dialled there; otherwise known ones stay as they are.
    if (!added
        && (i->second.state == node_state::alive
            || i->second.info.address() == m.address()))
      continue;
    i->second.info = m;
    i->second.state = node_state::joining;
    i->second.since_ms = now_ms;
    fresh.push_back(m);
  }
  return fresh;
}

std::vector<member_info> membership::view() const {
  std::vector<member_info> out{self_};
  for (auto& [id, e] : members_)
    if (e.state == node_state::alive)
      out.push_back(e.info);
  return out;
}

std::vector<std::string> membership::live_ids() const {
  std::vector<std::string> out{self_.node_id};
  for (auto& [id, e] : members_)
    if (e.state == node_state::alive)
      out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

void cluster_board::publish(std::vector<row> rows) {
  std::lock_guard<std::mutex> guard{mx_};
  rows_ = std::move(rows);
}

std::vector<cluster_board::row> cluster_board::rows() const {
  std::lock_guard<std::mutex> guard{mx_};
  return rows_;
}

std::vector<cluster_board::row> board_rows(const membership& m) {
  std::vector<cluster_board::row> out;
  out.push_back({m.self().node_id, m.self().address(), node_state::self, 0});
  for (auto& [id, e] : m.members())
    out.push_back({id, e.info.address(), e.state, e.since_ms});
  return out;
}

} // namespace tether::actors

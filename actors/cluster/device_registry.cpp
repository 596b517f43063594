#include "actors/cluster/device_registry.hpp"

#include <algorithm>

namespace tether::actors {

std::set<std::string> device_registry::report(const remote_device& r) {
  auto& devices = users_[r.id.user_id];
  auto [i, added] = devices.try_emplace(r.id.device_id, r);
  auto& e = i->second;
  // The newest generation heard of, whoever holds the queue.
  auto gen = std::max(e.gen, r.gen);
  std::set<std::string> tell;
  if (added) {
    tell = nodes_of(r.id.user_id);
    return tell;
  }
  if (e.node_id == r.node_id) {
    // The same node: its newer word about its own connection counts (an
    // older one is a connection that was replaced meanwhile).
    if (r.since_ms < e.since_ms
        || (e.connected == r.connected && e.since_ms == r.since_ms
            && r.gen <= e.gen))
      return tell;
    e = r;
    e.gen = gen;
    return nodes_of(r.id.user_id);
  }
  // Another node: a connection beats a queue held without one; of two
  // queues held without one, the newer generation (a takeover beats the
  // copy of a leader that comes back); else the later one wins.
  bool wins = r.connected != e.connected       ? r.connected
              : !r.connected && r.gen != e.gen ? r.gen > e.gen
                                               : r.since_ms >= e.since_ms;
  if (wins) {
    // It moved: the node it left hands its queue over (or drops it, if it
    // is of an older generation).
    auto old = e.node_id;
    e = r;
    e.gen = gen;
    tell = nodes_of(r.id.user_id);
    tell.insert(old);
    return tell;
  }
  e.gen = gen;
  // A node that lost the device (or holds its queue from before) learns
  // where it is now.
  tell.insert(r.node_id);
  return tell;
}

std::vector<std::string> device_registry::nodes_down(
  const std::function<bool(const std::string&)>& alive) {
  std::vector<std::string> changed;
  for (auto& [user, devices] : users_) {
    bool any = false;
    for (auto& [id, d] : devices)
      if (d.connected && !alive(d.node_id)) {
        d.connected = false;
        any = true;
      }
    if (any)
      changed.push_back(user);
  }
  return changed;
}

const std::map<std::string, remote_device>*
device_registry::find(const std::string& user) const {
  auto i = users_.find(user);
  return i == users_.end() ? nullptr : &i->second;
}

std::set<std::string> device_registry::nodes_of(const std::string& user) const {
  std::set<std::string> out;
  if (auto* devices = find(user))
    for (auto& [id, d] : *devices)
      out.insert(d.node_id);
  return out;
}

std::vector<remote_device>
device_registry::routes_for(const std::string& user,
                            const std::string& node) const {
  std::vector<remote_device> out;
  if (auto* devices = find(user))
    for (auto& [id, d] : *devices)
      if (d.node_id != node)
        out.push_back(d);
  return out;
}

std::vector<std::string> device_registry::users() const {
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (auto& [user, devices] : users_)
    out.push_back(user);
  return out;
}

} // namespace tether::actors

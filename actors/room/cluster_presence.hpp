#pragma once

// A room's presence across the nodes of a cluster: this node's members
// (as its presence_set reports them) merged with what the room's other
// nodes say of theirs, as one view: one snapshot and one diff stream on
// every node. A device present on several nodes (it reconnected to another
// node within the grace) shows once, as its most present entry; a change
// is reported only when what the view shows changes, so a move between
// nodes is no leave/join flap. The members of a node that went down stay
// for the grace period (it may come back: a partition heals) and then
// leave, unless present elsewhere. Pure: time is passed in.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/room/presence_set.hpp"
#include "protocol/presence.hpp"

namespace tether::actors {

class cluster_presence {
public:
  explicit cluster_presence(std::chrono::milliseconds grace = {})
    : grace_(grace) {}

  /// A change of this node's presence_set (join, update or leave): the
  /// event to report, if the view changed.
  std::optional<protocol::presence_entry>
  local(const protocol::presence_entry& e);

  /// What node `node` says of its members: changes (`leave` removes), or
  /// with `full` all of them (the others left; this clears its down mark).
  std::vector<protocol::presence_entry>
  remote(const std::string& node,
         const std::vector<protocol::presence_entry>& entries, bool full);

  /// The node went down: its members leave after the grace.
  void node_down(const std::string& node, int64_t now_ms);

  /// Drops the members of nodes down for longer than the grace.
  std::vector<protocol::presence_entry> sweep(int64_t now_ms);

  /// When sweep() has something to do next, if ever.
  std::optional<int64_t> next_deadline() const;

  /// This node's members (what the other nodes are told in full).
  std::vector<protocol::presence_entry> local_members() const;

  /// Members shown.
  size_t size() const noexcept { return shown_.size(); }

  /// Page `page` of `page_size` members shown, by user then device.
  std::vector<protocol::presence_entry> page(uint32_t page,
                                             uint32_t page_size) const;

  /// The aggregate of `user` over their devices shown.
  protocol::user_presence user(const std::string& user_id) const;

private:
  std::optional<protocol::presence_entry> refresh(const member_key& k);

  struct node_members {
    std::map<member_key, protocol::presence_entry> members;
    std::optional<int64_t> down_since_ms;
  };

  std::chrono::milliseconds grace_;
  std::map<member_key, protocol::presence_entry> local_;
  std::map<std::string, node_members> remote_;
  std::map<member_key, protocol::presence_entry> shown_;
};

} // namespace tether::actors

#pragma once

// This node's view of the cluster. Every node keeps a link to every member
// it knows of (a full mesh: clusters of a few nodes); a member is alive in
// this view while this node's link to it is up, so views converge as soon
// as the mesh is complete, and a partition shows on both sides. A newcomer
// needs one reachable seed: the seed's answer lists the other members, and
// it links to them. Pure: time is passed in.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/records.hpp"

namespace tether::actors {

enum class node_state : uint8_t {
  self,
  joining, // known, the link to it not up yet
  alive,
  down, // its link went down; it is dialled again with backoff
};

const char* to_string(node_state s) noexcept;

struct member_entry {
  member_info info;
  node_state state = node_state::joining;
  /// When the state began (wall ms).
  int64_t since_ms = 0;
};

/// Why a peer is not taken.
enum class peer_verdict : uint8_t {
  accepted,
  is_self,        // this node (a seed list names every node)
  wrong_protocol, // another cluster_protocol_version
  duplicate_id,   // another node, alive, with the same node id
};

const char* to_string(peer_verdict v) noexcept;

/// A change worth one log line and a counter.
struct member_event {
  enum kind_t : uint8_t { joined, rejoined, restarted, down } kind;
  std::string node_id;
};

class membership {
public:
  explicit membership(member_info self);

  /// Whether `peer` may be a member.
  peer_verdict check(const member_info& peer) const;

  /// A link to `peer` completed its hello: the member is alive. The event
  /// is empty when it was already alive with that incarnation.
  std::optional<member_event> link_up(const member_info& peer, int64_t now_ms);

  /// The link to `node_id` ended: the member is down (once).
  std::optional<member_event> link_down(const std::string& node_id,
                                        int64_t now_ms);

  /// Members named in a peer's view that this node did not know, or knew
  /// (not alive) at another address: to be linked to. Others keep their
  /// state (it is this node's own view).
  std::vector<member_info> learn(const std::vector<member_info>& view,
                                 int64_t now_ms);

  /// What this node tells its peers: itself and the members alive to it.
  std::vector<member_info> view() const;

  /// Ids of this node and the alive members, sorted: placement's input.
  std::vector<std::string> live_ids() const;

  /// Every member but this node, by id.
  const std::map<std::string, member_entry>& members() const noexcept {
    return members_;
  }

  const member_info& self() const noexcept { return self_; }

private:
  member_info self_;
  std::map<std::string, member_entry> members_;
};

/// The view as /healthz shows it, written by the cluster actor and read by
/// the HTTP side.
class cluster_board {
public:
  struct row {
    std::string node_id;
    std::string address;
    node_state state;
    int64_t since_ms;
  };

  void publish(std::vector<row> rows);
  std::vector<row> rows() const;

private:
  mutable std::mutex mx_;
  std::vector<row> rows_;
};

/// `m`'s view as board rows, this node first.
std::vector<cluster_board::row> board_rows(const membership& m);

} // namespace tether::actors

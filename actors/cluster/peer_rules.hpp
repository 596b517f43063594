#pragma once

// What a node may say to another (SPEC §14.2): the checks the cluster
// actor applies to every peer message, given the id of the node it came
// from (which the gate proved). A node speaks only for itself; a user's
// routes come only from the user's home; a message relayed from another
// node is validated again as if it came from a socket. Pure: no CAF.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/records.hpp"
#include "protocol/codec.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

/// Whether `from` may report a device whose queue is on `node`: its own
/// devices; and of a node that is down to the receiver (`node_alive`
/// false), that the device is not connected there (a dead home's routes
/// passed on to the new home, so that senders learn the device is
/// unavailable). Never that a device is connected elsewhere.
inline bool may_report(std::string_view from, std::string_view node,
                       bool connected, bool node_alive) noexcept {
  return from == node || (!connected && !node_alive);
}

/// Whether `from` is the home of `user` among the `live` members (sorted
/// ids, this node's view): only a user's home says where its devices are.
bool is_home(std::string_view from, std::string_view user,
             const std::vector<std::string>& live);

/// The identity a relayed message claims to come from.
struct sender_claim {
  std::string_view user_id;
  std::string_view device_id;
  protocol::device_type type = protocol::device_type::mobile;
};

/// Checks a message another node relays (a forward, a room publish) from
/// the device `sender`: "" if it is one that device could have sent through
/// its socket, else why not. Its source must be the sender; `tether.*`
/// types are the server's own and never relayed; the envelope rules of
/// SPEC §9 hold; a room publish (`room` set) is for that room.
std::string
check_relayed(const protocol::mobile_message& m, const sender_claim& sender,
              const protocol::limits& limits, std::string_view room = {});

/// Checks a message handed over from another node's queue of a device:
/// "" if it is one a queue can hold (a device's message, relayed rules;
/// or the server's presence notices), else why not.
std::string check_handed_over(const protocol::mobile_message& m,
                              const protocol::limits& limits);

/// Devices of one user a handled request names at most (more than any user
/// has; bounds the work a peer message causes).
inline constexpr size_t max_handled_devices = 1024;

/// Checks a `tether.handled` another node relays (SPEC §5.9, §14.2): ""
/// if its sender is a device (not the server), it names 1 to
/// max_handled_devices other devices of that user and 1 to
/// protocol::max_handled_ids message ids, every id 1-255 bytes of UTF-8;
/// else why not.
std::string check_handled(const sender_claim& by,
                          const std::vector<std::string>& devices,
                          const std::vector<std::string>& ids);

/// Rows or retirements one replica batch holds at most (a leader sends a
/// snapshot in parts of handover size).
inline constexpr size_t max_replica_rows = 4096;

/// The longest lineage (a leader's store id) a batch may name.
inline constexpr size_t max_lineage_bytes = 64;

/// Checks what a leader sends for the copy of a device queue it leads
/// (SPEC §14.3): "" if its header names a device (not the server) with a
/// known type and role, at most max_replication_factor - 1 followers
/// with valid ids and a lineage of at most max_lineage_bytes, and every row is
/// of that device and holds a message a queue could hold (check_handed_over,
/// its id the row's), else why not.
std::string check_replica(const replica_batch& b,
                          const protocol::limits& limits);

/// What a node says of one of its members of a room.
struct member_claim {
  std::string_view user_id;
  std::string_view device_id;
  uint8_t type = 0;
  uint8_t status = 0;
  std::string_view custom_text;
  std::string_view custom_emoji;
  std::string_view event;
};

/// "" if a presence row holds what a device of that node could have set
/// through its socket (SPEC §11), else why not.
std::string check_member(const member_claim& m);

} // namespace tether::actors

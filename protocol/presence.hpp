#pragma once

// Rooms and presence on the wire (protocol 1.1): the requests devices send to
// the server (type tether.join, tether.leave, tether.presence.set,
// tether.presence.get with destination.target "cloud") and the presence
// messages the server sends (tether.presence.snapshot, tether.presence.diff).
// SPEC.md §6.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/model.hpp"

namespace tether::protocol {

/// Ordered for aggregation: a user is as present as their most present
/// device (online > busy > away > offline).
enum class presence_status : uint8_t { offline, away, busy, online };

std::string_view to_string(presence_status x) noexcept;
bool from_string(std::string_view s, presence_status& x) noexcept;

/// A status message a device sets, shown until `expires_ms` (0: no expiry).
struct custom_status {
  std::string text;
  std::string emoji;
  int64_t expires_ms = 0;
};

/// One member as presence reports it.
struct presence_entry {
  std::string user_id;
  std::string device_id;
  device_type type = device_type::mobile;
  presence_status status = presence_status::online;
  std::optional<custom_status> custom;
  int64_t last_seen_ms = 0;
  /// Diffs only: "join", "leave" or "update".
  std::string event;
};

/// A user's aggregate over their devices in the room.
struct user_presence {
  std::string user_id;
  presence_status status = presence_status::offline;
  int64_t last_seen_ms = 0;
};

/// tether.join / tether.leave / tether.presence.get payloads.
struct room_request {
  std::string room;
  /// join: receive presence snapshot and diffs.
  bool presence = false;
  /// join: only diffs about members in these states / of these types.
  std::vector<presence_status> status_filter;
  std::vector<device_type> type_filter;
  /// presence.get: which page of the member list.
  uint32_t page = 0;
  uint32_t page_size = 100;
};

/// tether.presence.set payload.
struct status_request {
  std::optional<presence_status> status;
  std::optional<custom_status> custom;
  /// `"custom": null` clears the custom status.
  bool clear_custom = false;
};

bool read_room_request(const raw_value& payload, room_request& out,
                       std::vector<field_error>& errors);

bool read_status_request(const raw_value& payload, status_request& out,
                         std::vector<field_error>& errors);

/// A page of a room's members with the aggregates of their users.
mobile_message
make_presence_snapshot(const std::string& user_id, const std::string& device_id,
                       const std::string& room,
                       const std::vector<presence_entry>& members,
                       const std::vector<user_presence>& users, uint32_t page,
                       uint32_t pages, uint64_t total, int64_t now_ms);

/// Changes since the last diff (coalesced: the latest per member).
mobile_message make_presence_diff(const std::string& room,
                                  const std::vector<presence_entry>& changes,
                                  const std::vector<user_presence>& users,
                                  int64_t now_ms);

} // namespace tether::protocol

#pragma once

// Presence of one room: who is in it, in which state, since when. Pure: time
// (epoch milliseconds) is passed in; every change comes back as a
// presence_entry event for the room to batch into diffs.
//
// States: a device declares online, away or busy (and an optional custom
// status with an expiry). A device without application activity for
// `away_after` is shown away until it is active again; one whose app said
// it is in the background is shown away until it says it is back. A device
// whose connection is gone stays a member, unchanged, for `grace`: if it comes
// back within it nothing is reported (no leave/join flap); otherwise it leaves
// (reported offline). A user's aggregate is their most present device:
// online > busy > away > offline.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/presence.hpp"

namespace tether::actors {

struct presence_params {
  /// Idle time before a device shows as away (the original's awayTimeout).
  std::chrono::milliseconds away_after{300000};
  /// A device that reconnects within this is not reported as leaving: a
  /// phone switching from Wi-Fi to cellular is back within seconds.
  std::chrono::milliseconds grace{30000};
};

/// (user id, device id).
using member_key = std::pair<std::string, std::string>;

struct member_state {
  std::string user_id;
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  /// What the device declared (never offline).
  protocol::presence_status declared = protocol::presence_status::online;
  /// Shown away because idle.
  bool idle = false;
  /// Shown away because its app is in the background (tether.lifecycle),
  /// whatever it declared, until it comes back or reconnects.
  bool background = false;
  std::optional<protocol::custom_status> custom;
  int64_t last_activity_ms = 0;
  int64_t last_seen_ms = 0;
  bool connected = true;
  int64_t disconnected_ms = 0;
  /// Wants presence diffs, and which.
  bool subscribed = false;
  std::vector<protocol::presence_status> status_filter;
  std::vector<protocol::device_type> type_filter;
};

class presence_set {
public:
  explicit presence_set(presence_params params = {}) : params_(params) {}

  /// Adds (or refreshes the subscription of) a connected member; an event
  /// unless it was already present.
  std::optional<protocol::presence_entry> join(member_state m, int64_t now_ms);

  /// Removes a member (reported offline).
  std::optional<protocol::presence_entry> leave(const member_key& k,
                                                int64_t now_ms);

  /// The member's connection ended: nothing is reported during the grace.
  void disconnected(const member_key& k, int64_t now_ms);

  /// The member's connection is back; true if it was within the grace (a
  /// suppressed flap).
  bool reconnected(const member_key& k, int64_t now_ms);

  /// Application activity (ends idleness).
  std::optional<protocol::presence_entry> activity(const member_key& k,
                                                   int64_t now_ms);

  /// The member's app went to the background or came back; an event if
  /// what is shown changed.
  std::optional<protocol::presence_entry>
  set_background(const member_key& k, bool background, int64_t now_ms);
  /// A declared status and/or custom status change.
  std::optional<protocol::presence_entry>
  set_status(const member_key& k, const protocol::status_request& r,
             int64_t now_ms);

  /// Applies time: idleness, expired custom statuses, grace expiry.
  std::vector<protocol::presence_entry> sweep(int64_t now_ms);

  /// When sweep() has something to do next, if ever (every member: O(n)).
  std::optional<int64_t> next_deadline() const;

  /// When sweep() has something to do for this member, if ever (O(log n)):
  /// after a change of one member, the only deadline that can have come
  /// earlier.
  std::optional<int64_t> deadline_of(const member_key& k) const;

  /// The status shown for a member.
  protocol::presence_status shown(const member_state& m) const noexcept;

  size_t size() const noexcept { return members_.size(); }
  bool contains(const member_key& k) const { return members_.count(k) > 0; }
  const member_state* find(const member_key& k) const;

  /// Page `page` of `page_size` members, ordered by user then device.
  std::vector<protocol::presence_entry> page(uint32_t page,
                                             uint32_t page_size) const;

  /// The aggregate of `user` over their devices here.
  protocol::user_presence user(const std::string& user_id) const;

  /// Members that want diffs.
  std::vector<const member_state*> subscribers() const;

  /// Whether `subscriber`'s filters let `e` through.
  static bool wants(const member_state& subscriber,
                    const protocol::presence_entry& e);

  /// Flaps suppressed so far.
  uint64_t suppressed_flaps() const noexcept { return flaps_; }

private:
  protocol::presence_entry entry(const member_state& m,
                                 const char* event) const;

  presence_params params_;
  std::map<member_key, member_state> members_;
  uint64_t flaps_ = 0;
};

} // namespace tether::actors

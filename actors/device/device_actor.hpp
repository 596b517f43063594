#pragma once

// A simulated device of `tether devices` and `tether bench`: one DEVICE
// actor per link incarnation. It authenticates with its token, speaks JSON
// or msgpack, reads compressed frames, acks deliveries (cumulatively by
// seq), resumes with its resume token and last seq, and plays its scenario:
// sending at a rate (to peers, to itself, to a room), joining rooms and
// changing presence, dropping its link, reading slowly, going to background.
// State that outlives an incarnation (resume token, ledger) lives in its
// device_memory, owned by the FLEET.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/device/delivery_checker.hpp"
#include "actors/device/latency_histogram.hpp"
#include "actors/interfaces.hpp"

namespace tether::actors {

struct device_spec {
  std::string user_id;
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  std::string role;
  protocol::codec codec = protocol::codec::json;
  bool deflate = false;
  std::string token;
  /// Other devices of the same user (direct message targets).
  std::vector<std::string> peers;
  /// Room to join ("" for none).
  std::string room;
  /// The keys of the room's members, for the checker (shared by all).
  std::shared_ptr<const std::vector<std::string>> room_members;
  /// A slow reader stops reading now and then.
  bool slow = false;
  /// The server this device connects to when not the fleet's (a cluster
  /// node: tether devices --spread); port 0: the fleet's link.
  std::string host;
  uint16_t port = 0;

  std::string key() const { return user_id + "/" + device_id; }
};

/// What the scenario makes a device do.
struct device_params {
  link_options link;
  /// A nonce of this run, part of every message id.
  std::string run;
  /// Interval between messages; 0: the device does not send.
  std::chrono::microseconds send_interval{0};
  /// Send to itself (echo latency) instead of to peers.
  bool echo = false;
  /// Share of messages that go to the room instead of a peer.
  double room_share = 0.0;
  bool requires_ack = true;
  /// Mix priorities (else all normal).
  bool mixed_priorities = true;
  size_t payload_bytes = 64;
  /// Cumulative ack cadence.
  std::chrono::milliseconds ack_interval{100};
  /// Flaky network: mean link drops per device per minute.
  double drops_per_minute = 0;
  /// Background cycles: every ~this long, leave for `background_for`.
  std::chrono::milliseconds background_every{0};
  std::chrono::milliseconds background_for{0};
  /// Presence churn: join the room with presence and change status this
  /// often (0: never).
  std::chrono::milliseconds status_every{0};
  /// Slow readers pause reading for this long every `slow_every`.
  std::chrono::milliseconds slow_every{2000};
  std::chrono::milliseconds slow_for{8000};
  /// Presence churn: share of status ticks that leave and rejoin the room.
  double leave_share = 0.0;
  /// Join with presence (snapshot and diffs); also on when status_every is.
  bool presence = false;
  /// Devices send only while `go` is set (all joined) and `quiet` is not
  /// (the drain phase). Unset pointers mean "always".
  std::shared_ptr<std::atomic<bool>> go;
  std::shared_ptr<std::atomic<bool>> quiet;
};

/// Live counters of a fleet, read by the CLI's progress line.
struct fleet_counters {
  std::atomic<int64_t> connected{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> terminal{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> presence_diffs{0};
  std::atomic<uint64_t> welcomes{0};
  /// Welcomes that confirmed a resume.
  std::atomic<uint64_t> resumed{0};
  /// Join requests acked (first joins and rejoins).
  std::atomic<uint64_t> joined{0};
  /// Joins and leaves requested by presence churn.
  std::atomic<uint64_t> room_changes{0};
  /// accepted x recipients the server reported.
  std::atomic<uint64_t> expected{0};
  /// Acks whose recipient count differs from what the sender expected.
  std::atomic<uint64_t> recipient_mismatch{0};
  /// Messages resent after a reconnect (unacked when the link dropped).
  std::atomic<uint64_t> resent{0};
  /// Links dropped by the scenario (flaky network, storm).
  std::atomic<uint64_t> drops{0};
  /// Frames the device could not read.
  std::atomic<uint64_t> errors{0};
  /// Devices that stopped reconnecting (terminal close, attempts used up).
  std::atomic<uint64_t> gave_up{0};
  latency_histogram latency;
};

/// A message sent with requiresAck and not acked yet: resent (same id) after
/// a reconnect; the server acks a resend within its dedup window without
/// queueing it twice.
struct pending_send {
  std::string id;
  shared_bytes frame;
  uint32_t recipients = 0;
};

/// What survives a device's incarnations.
struct device_memory {
  std::string resume_token;
  /// Highest seq received (presented as lastSeq on resume).
  uint64_t last_seq = 0;
  uint64_t next_order = 1;
  device_ledger ledger;
  /// By send order.
  std::map<uint64_t, pending_send> pending;
  uint32_t connects = 0;
  /// Welcomes that confirmed a resume.
  uint32_t resumes = 0;
  /// Restart delays the fleet applied, in milliseconds.
  std::vector<int64_t> restart_delays_ms;
  /// Why the device stopped reconnecting ("" while it does).
  std::string gave_up;
  uint16_t last_close = 0;
  /// The last failed ack's error code, if any.
  std::string last_error;
};

struct device_state {
  device_spec spec;
  device_params params;
  std::shared_ptr<device_memory> memory;
  std::shared_ptr<fleet_counters> counters;
  std::shared_ptr<link_port> link;
  protocol::source_info source;
  /// The link is up (counted in `connected`).
  bool open = false;
  bool welcomed = false;
  /// Closing on purpose: stop (stay down) or background (come back later).
  bool stopping = false;
  bool backgrounding = false;
  /// Highest seq acked to the server in this incarnation.
  uint64_t acked_seq = 0;
  /// A requiresAck message arrived since the last ack.
  bool need_ack = false;
  std::chrono::steady_clock::time_point next_send;
  size_t next_peer = 0;
  uint32_t status_ticks = 0;
  bool in_room = false;
  std::string join_id;
  std::minstd_rand rng;

  ~device_state();

  static inline const char* name = "device";
};

device_actor::behavior_type
device(device_actor::stateful_pointer<device_state> self, device_spec spec,
       device_params params, std::shared_ptr<device_memory> memory,
       std::shared_ptr<fleet_counters> counters, link_factory connect);

} // namespace tether::actors

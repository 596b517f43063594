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
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/device/delivery_checker.hpp"
#include "actors/device/device_params.hpp"
#include "actors/device/device_script.hpp"
#include "actors/device/latency_histogram.hpp"
#include "actors/device/push_checker.hpp"
#include "actors/interfaces.hpp"
#include "actors/ports.hpp"
#include "actors/wall_clock.hpp"
#include "protocol/delivery_scan.hpp"

namespace tether::actors {

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
  /// Links closed by a drain (1012) with a time to come back, and upgrades
  /// refused with 503 and a Retry-After: each waited that long.
  std::atomic<uint64_t> drained{0};
  std::atomic<uint64_t> paced{0};
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
  /// Send to delivery, for messages sent while their recipient's link was
  /// up (the server's latency)...
  latency_histogram latency;
  /// ... and for messages that waited for their recipient to connect
  /// (sent before the link that delivered them was established).
  latency_histogram offline_wait;
};

/// Frames the link has read and its device has not taken yet. The link's
/// thread appends under the mutex; the device takes everything at once and
/// gives its emptied buffers back (swap), so frames cost no allocation and
/// no actor message each: one message (`frame`) per batch, sent when the
/// inbox turns non-empty. Unbounded as a mailbox is; a slow reader pauses
/// its link instead.
struct frame_inbox {
  std::mutex mtx;
  /// The frames back to back, and each one's size and opcode.
  std::string bytes;
  std::vector<std::pair<uint32_t, bool>> frames;
  /// A `frame` message is on its way to the device.
  bool posted = false;
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
  /// Highest seq received from the queue incarnation of `resume_token`
  /// (presented as lastSeq on resume).
  uint64_t last_seq = 0;
  uint64_t next_order = 1;
  device_ledger ledger;
  /// By send order.
  std::map<uint64_t, pending_send> pending;
  uint32_t connects = 0;
  /// Welcomes that confirmed a resume.
  uint32_t resumes = 0;
  /// When the last welcome arrived (the actor clock's): whether the last
  /// link was established, and for how long (the reconnect rule).
  std::chrono::steady_clock::time_point welcomed_at{};
  /// The device's link is established now, and was at least once (read by
  /// the CLI at any time).
  std::atomic<bool> online{false};
  std::atomic<bool> ever_online{false};
  /// When the last welcome arrived, steady clock nanoseconds since its
  /// epoch (the CLI's time to reconnect after a restart).
  std::atomic<int64_t> welcomed_ns{0};
  /// Restart delays the fleet applied, in milliseconds.
  std::vector<int64_t> restart_delays_ms;
  /// Why the device stopped reconnecting ("" while it does).
  std::string gave_up;
  uint16_t last_close = 0;
  /// Which of its nodes it dials (0: its own, k: fallbacks[k - 1]).
  uint32_t node_turn = 0;
  /// The last failed ack's error code, if any.
  std::string last_error;
  /// The push scenario's record (read once the fleet stopped).
  push_log push;
};

struct device_state {
  device_spec spec;
  device_params params;
  std::shared_ptr<device_memory> memory;
  std::shared_ptr<fleet_counters> counters;
  std::shared_ptr<link_port> link;
  /// Shared with the link's event adapter; `taken` holds what the device
  /// took from it last (its buffers go back on the next take).
  std::shared_ptr<frame_inbox> inbox;
  std::string taken_bytes;
  std::vector<std::pair<uint32_t, bool>> taken_frames;
  /// Reads delivered JSON messages without a DOM (protocol::decode reads
  /// everything else).
  protocol::delivery_scan scan;
  protocol::source_info source;
  /// Wire timestamps (the actor clock's, anchored at spawn).
  wall_clock clock;
  /// The link is up (counted in `connected`).
  bool open = false;
  bool welcomed = false;
  /// When this link's welcome arrived.
  std::chrono::steady_clock::time_point welcomed_at{};
  /// Closing on purpose: stop (stay down) or background (come back later).
  bool stopping = false;
  bool backgrounding = false;
  /// Highest seq acked to the server in this incarnation.
  uint64_t acked_seq = 0;
  /// A requiresAck message arrived since the last ack.
  bool need_ack = false;
  /// The ack timer is armed (only while an ack is due).
  bool ack_armed = false;
  /// The push scenario: the app is in the background and holds its acks.
  bool holding_acks = false;
  /// The scenario (timers, send schedule, churn, priorities); refers to
  /// `params`.
  std::optional<device_script> script;
  size_t next_peer = 0;
  bool in_room = false;
  std::string join_id;

  ~device_state();

  static inline const char* name = "device";
};

device_actor::behavior_type
device(device_actor::stateful_pointer<device_state> self, device_spec spec,
       device_params params, std::shared_ptr<device_memory> memory,
       std::shared_ptr<fleet_counters> counters, const link_factory& connect);

} // namespace tether::actors

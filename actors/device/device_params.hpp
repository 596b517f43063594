#pragma once

// What a simulated device is (device_spec) and what its scenario makes it
// do (device_params): the plain data behind device_actor and device_script.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/ports.hpp"
#include "protocol/model.hpp"

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
  /// The cluster's other nodes, in the order it turns to them when its node
  /// drains (1012) or refuses the connection: what a load balancer in front
  /// of the cluster would do for it.
  std::vector<std::pair<std::string, uint16_t>> fallbacks;
  /// The local address it connects from (empty: the fleet's link's).
  std::string source;

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
  /// The push scenario: the device registers a webhook address named after
  /// it at every welcome, and its background cycles keep the link: it says
  /// tether.lifecycle background, holds its acks, and says foreground
  /// after `background_for` (its push_log records what the push checker
  /// needs).
  bool push = false;
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

} // namespace tether::actors

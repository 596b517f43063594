#pragma once

// Node-wide counters, updated lock-free from actors and Asio threads and
// rendered in the Prometheus text format (version 0.0.4) for GET /metrics.
// Labels have fixed, small value sets: frame kinds, error codes, close codes.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "protocol/codec.hpp"
#include "protocol/errc.hpp"

namespace tether::actors {

/// What a counted frame carried; `control` is server-originated messages
/// (welcome, pong), `invalid` a frame that could not be decoded.
enum class traffic_kind : uint8_t {
  message,
  batch,
  ack,
  heartbeat,
  control,
  invalid,
};

inline constexpr size_t traffic_kind_count = 6;

traffic_kind traffic_kind_of(protocol::frame_kind k) noexcept;

/// Why a handshake was refused before the upgrade.
enum class reject_reason : uint8_t {
  unauthorized, // 401: token missing, bad or expired
  forbidden,    // 403: Origin not allowed
  capacity,     // 503: max_connections reached
  bad_request,  // 400/404/426: not a valid WebSocket request for /ws
  paced,        // 503: beyond server.handshake_rate (a reconnect storm)
  draining,     // 503: the node is draining (SIGTERM, POST /api/v1/drain)
};

inline constexpr size_t reject_reason_count = 6;

/// What happened to queued messages.
enum class queue_counter : uint8_t {
  enqueued,
  delivered,   // first delivery
  redelivered, // after a reconnect or an ack timeout
  retired,     // acked or written
  expired,
  evicted,
  dead_lettered,
  overflow,      // refused with QUEUE_OVERFLOW
  slow_consumer, // closed with 4002
  duplicate,     // resent message id suppressed
  handed_over,   // moved to the node the device connected to (cluster)
  released,      // queues (not messages): an idle queue gave its memory back
  restored,      // queues: a released queue started again from its record
  withdrawn,     // handled on another device of the user (tether.handled)
};

inline constexpr size_t queue_counter_count = 14;

/// What happened in rooms.
enum class room_counter : uint8_t {
  published,       // room messages published
  delivered,       // copies handed to member queues
  diff_sent,       // presence diffs handed to member queues
  flap_suppressed, // reconnects within the grace period
  fanned_out,      // publishes handed to a fan-out on another loop
};

inline constexpr size_t room_counter_count = 5;

/// Why something from another node, or from what claimed to be one, was
/// refused on the cluster port (SPEC §14.2).
enum class peer_refusal : uint8_t {
  handshake, // TLS failed: no certificate, not the cluster CA's, expired,
             // naming no node id
  timeout,   // the handshake did not complete in cluster.handshake_timeout
  busy,      // cluster.max_pending_handshakes connections were waiting
  oversized, // a BASP message announced a payload over the cap
  identity,  // a hello for another node id than its certificate names
  unauthenticated, // a message from a node that has not said hello
  claim,      // speaking for another node, or a member change not backed by
              // the link
  forged,     // a forwarded message with a forged identity or a tether.* type
  unexpected, // a message the cluster port does not take
};

inline constexpr size_t peer_refusal_count = 9;

const char* to_string(peer_refusal r) noexcept;

/// What became of a push to one address (SPEC §5.10), by provider.
enum class push_outcome : uint8_t {
  sent,         // the provider took it (2xx)
  retried,      // 429, 5xx or no answer: tried again after a backoff
  failed,       // refused otherwise, or out of retries
  dead,         // the provider called the token dead: the address went
  unconfigured, // no provider settings on this node for that address
};

inline constexpr size_t push_outcome_count = 5;
inline constexpr size_t push_provider_count = 3; // apns, fcm, webhook

/// "sent", "retried", ... as /metrics and the overview name them.
std::string_view to_string(push_outcome o) noexcept;

/// What replicated queues did (SPEC §14.3), on the node that did it.
enum class replica_event : uint8_t {
  sent,       // a leader sent a batch to a follower
  stored,     // a follower stored a leader's batch
  failed,     // a follower did not answer a batch, or refused it
  no_quorum,  // a durable write failed: too few copies reachable
  taken_over, // this node took over a queue whose leader is gone
  repaired,   // a snapshot or drop sent when a replica set changed
  stale,      // a batch of an older generation, refused
  adopted,    // this node put an orphan copy into its own queue (the
              // leader came back with another store)
};

inline constexpr size_t replica_event_count = 8;

class node_metrics {
public:
  /// Upper bounds of the RTT histogram buckets, in microseconds.
  static constexpr std::array<uint64_t, 12> rtt_bounds_us{
    100,   250,   500,    1000,   2500,    5000,
    10000, 25000, 100000, 250000, 1000000, 5000000};

  void connection_opened() noexcept;
  void connection_closed(uint16_t close_code) noexcept;
  void handshake_rejected(reject_reason r) noexcept;
  void received(traffic_kind k, size_t messages, size_t bytes) noexcept;
  void sent(traffic_kind k, size_t messages, size_t bytes) noexcept;
  void error(protocol::errc code) noexcept;
  void rtt(uint64_t microseconds) noexcept;
  void queue_event(queue_counter c, uint64_t n) noexcept;
  void store_committed(size_t operations,
                       std::chrono::nanoseconds took) noexcept;
  void frame_sent(size_t messages, size_t bytes) noexcept;
  void compressed(size_t raw_bytes, size_t compressed_bytes) noexcept;
  void room_event(room_counter c, uint64_t n) noexcept;
  void room_opened() noexcept;
  void room_closed() noexcept;
  void room_members(int64_t delta) noexcept;
  /// Dead letters deleted after store.dead_letter_retention.
  void dead_letters_purged(uint64_t n) noexcept;
  /// Users held by the directory shards (+1 loaded, -1 evicted).
  void directory_users(int64_t delta) noexcept;
  /// Idle users forgotten by a directory shard.
  void users_evicted(uint64_t n) noexcept;

  /// What happened to cluster members (joined, rejoined, restarted, down).
  enum class member_change : uint8_t { joined, rejoined, restarted, down };
  static constexpr size_t member_change_count = 4;
  /// Nodes alive in this node's view, itself included (0: no cluster).
  void cluster_members(int64_t n) noexcept;
  void member_changed(member_change c) noexcept;
  /// A link to a peer restarted (a reconnect after its backoff).
  void link_restarted() noexcept;
  /// A member was found down `silent_ms` after this node last heard from
  /// it (the detection time, within one ping interval).
  void member_detected(int64_t silent_ms) noexcept;
  /// A message forwarded to (sent) or from (received) another node:
  /// `message` for direct and user routes, `batch` for a room publish.
  void cluster_sent(traffic_kind k, size_t bytes) noexcept;
  void cluster_received(traffic_kind k, size_t bytes) noexcept;
  /// Something from (what claimed to be) another node was refused.
  void peer_refused(peer_refusal r) noexcept;
  uint64_t peer_refusals(peer_refusal r) const noexcept;
  /// A push to an address of `provider` (protocol::push_provider) ended so.
  void push_ended(uint8_t provider, push_outcome o) noexcept;
  uint64_t pushes(uint8_t provider, push_outcome o) const noexcept;

  int64_t connections() const noexcept {
    return connections_current_.load(std::memory_order_relaxed);
  }

  uint64_t messages_in(traffic_kind k) const noexcept;
  uint64_t messages_out(traffic_kind k) const noexcept;
  uint64_t errors(protocol::errc code) const noexcept;
  void replicated(replica_event e, uint64_t n = 1) noexcept;
  uint64_t replica_events(replica_event e) const noexcept;
  uint64_t queue_events(queue_counter c) const noexcept;
  uint64_t room_events(room_counter c) const noexcept;
  uint64_t store_commits() const noexcept {
    return store_commits_.load(std::memory_order_relaxed);
  }
  uint64_t store_operations() const noexcept {
    return store_operations_.load(std::memory_order_relaxed);
  }
  /// Time spent committing, summed over every commit.
  uint64_t store_commit_ns() const noexcept {
    return store_commit_ns_.load(std::memory_order_relaxed);
  }
  uint64_t connections_total() const noexcept {
    return connections_total_.load(std::memory_order_relaxed);
  }
  uint64_t users_evicted() const noexcept {
    return users_evicted_.load(std::memory_order_relaxed);
  }
  uint64_t frames() const noexcept {
    return frames_.load(std::memory_order_relaxed);
  }
  uint64_t framed_messages() const noexcept {
    return framed_messages_.load(std::memory_order_relaxed);
  }

  /// The Prometheus exposition of every metric.
  std::string render_prometheus() const;

private:
  using counter = std::atomic<uint64_t>;

  // Close codes worth a label; everything else is counted as "other".
  static constexpr std::array<uint16_t, 15> close_codes_{1000, 1001, 1002, 1003,
                                                         1006, 1007, 1008, 1009,
                                                         1011, 1012, 1013, 4000,
                                                         4001, 4002, 4500};

  std::atomic<int64_t> connections_current_{0};
  counter connections_total_{0};
  std::array<counter, close_codes_.size() + 1> closes_{};
  std::array<counter, reject_reason_count> rejected_{};
  std::array<counter, traffic_kind_count> messages_in_{};
  std::array<counter, traffic_kind_count> bytes_in_{};
  std::array<counter, traffic_kind_count> messages_out_{};
  std::array<counter, traffic_kind_count> bytes_out_{};
  std::array<counter, 32> errors_{};
  std::array<counter, rtt_bounds_us.size() + 1> rtt_buckets_{};
  counter rtt_sum_us_{0};
  counter rtt_count_{0};
  std::array<counter, queue_counter_count> queue_{};
  std::array<counter, replica_event_count> replica_{};
  counter store_commits_{0};
  counter store_operations_{0};
  counter store_commit_ns_{0};
  counter dead_purged_{0};
  counter frames_{0};
  counter framed_messages_{0};
  counter frame_bytes_{0};
  counter compress_in_{0};
  counter compress_out_{0};
  std::array<counter, room_counter_count> room_{};
  std::atomic<int64_t> rooms_{0};
  std::atomic<int64_t> room_members_{0};
  std::atomic<int64_t> directory_users_{0};
  counter users_evicted_{0};
  std::atomic<int64_t> cluster_members_{0};
  std::array<counter, member_change_count> member_changes_{};
  counter link_restarts_{0};
  counter detections_{0};
  counter detection_ms_sum_{0};
  counter last_detection_ms_{0};
  std::array<counter, 3> cluster_out_{};
  std::array<counter, 3> cluster_out_bytes_{};
  std::array<counter, 3> cluster_in_{};
  std::array<counter, 3> cluster_in_bytes_{};
  std::array<counter, peer_refusal_count> peer_refused_{};
  std::array<counter, push_outcome_count * push_provider_count> pushes_{};
};

} // namespace tether::actors

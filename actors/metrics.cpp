#include "actors/metrics.hpp"

#include <algorithm>
#include <string_view>

namespace tether::actors {

namespace {

constexpr std::array<std::string_view, traffic_kind_count> kind_names{
  "message", "batch", "ack", "heartbeat", "control", "invalid"};

constexpr std::array<std::string_view, reject_reason_count> reject_names{
  "unauthorized", "forbidden", "capacity", "bad_request", "paced", "draining"};

constexpr std::array<std::string_view, queue_counter_count> queue_names{
  "enqueued",    "delivered",     "redelivered", "retired",       "expired",
  "evicted",     "dead_lettered", "overflow",    "slow_consumer", "duplicate",
  "handed_over", "released",      "restored",    "withdrawn"};

constexpr auto relaxed = std::memory_order_relaxed;

std::string seconds_text(uint64_t micros) {
  return std::to_string(micros / 1000000) + "."
         + std::to_string(1000000 + micros % 1000000).substr(1);
}

void header(std::string& out, std::string_view name, std::string_view help,
            std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels,
            uint64_t value) {
  out.append(name);
  if (!labels.empty())
    out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

// A counter family with one label over a fixed set of names:
// name{label="names[i]"} values[i].
template <size_t N>
void labelled(std::string& out, std::string_view name, std::string_view help,
              std::string_view label,
              const std::array<std::string_view, N>& names,
              const std::array<std::atomic<uint64_t>, N>& values) {
  header(out, name, help, "counter");
  for (size_t i = 0; i < N; ++i)
    sample(out, name, std::string{label} + "=\"" + std::string{names[i]} + "\"",
           values[i].load(relaxed));
}

template <size_t N>
void per_kind(std::string& out, std::string_view name, std::string_view help,
              const std::array<std::atomic<uint64_t>, N>& values) {
  labelled(out, name, help, "kind", kind_names, values);
}

} // namespace

traffic_kind traffic_kind_of(protocol::frame_kind k) noexcept {
  switch (k) {
    case protocol::frame_kind::message:
      return traffic_kind::message;
    case protocol::frame_kind::batch:
      return traffic_kind::batch;
    case protocol::frame_kind::ack:
      return traffic_kind::ack;
    case protocol::frame_kind::heartbeat:
      return traffic_kind::heartbeat;
  }
  return traffic_kind::invalid;
}

void node_metrics::connection_opened() noexcept {
  connections_current_.fetch_add(1, relaxed);
  connections_total_.fetch_add(1, relaxed);
}

void node_metrics::connection_closed(uint16_t close_code) noexcept {
  connections_current_.fetch_sub(1, relaxed);
  size_t i = 0;
  while (i < close_codes_.size() && close_codes_[i] != close_code)
    ++i;
  closes_[i].fetch_add(1, relaxed);
}

void node_metrics::handshake_rejected(reject_reason r) noexcept {
  rejected_[static_cast<size_t>(r)].fetch_add(1, relaxed);
}

void node_metrics::received(traffic_kind k, size_t messages,
                            size_t bytes) noexcept {
  messages_in_[static_cast<size_t>(k)].fetch_add(messages, relaxed);
  bytes_in_[static_cast<size_t>(k)].fetch_add(bytes, relaxed);
}

void node_metrics::sent(traffic_kind k, size_t messages,
                        size_t bytes) noexcept {
  messages_out_[static_cast<size_t>(k)].fetch_add(messages, relaxed);
  bytes_out_[static_cast<size_t>(k)].fetch_add(bytes, relaxed);
}

void node_metrics::error(protocol::errc code) noexcept {
  auto i = static_cast<size_t>(code);
  if (i < errors_.size())
    errors_[i].fetch_add(1, relaxed);
}

void node_metrics::rtt(uint64_t microseconds) noexcept {
  size_t i = 0;
  while (i < rtt_bounds_us.size() && microseconds > rtt_bounds_us[i])
    ++i;
  rtt_buckets_[i].fetch_add(1, relaxed);
  rtt_sum_us_.fetch_add(microseconds, relaxed);
  rtt_count_.fetch_add(1, relaxed);
}

void node_metrics::queue_event(queue_counter c, uint64_t n) noexcept {
  queue_[static_cast<size_t>(c)].fetch_add(n, relaxed);
}

void node_metrics::store_committed(size_t operations,
                                   std::chrono::nanoseconds took) noexcept {
  store_commits_.fetch_add(1, relaxed);
  store_operations_.fetch_add(operations, relaxed);
  store_commit_ns_.fetch_add(static_cast<uint64_t>(took.count()), relaxed);
}

void node_metrics::dead_letters_purged(uint64_t n) noexcept {
  dead_purged_.fetch_add(n, relaxed);
}

void node_metrics::frame_sent(size_t messages, size_t bytes) noexcept {
  frames_.fetch_add(1, relaxed);
  framed_messages_.fetch_add(messages, relaxed);
  frame_bytes_.fetch_add(bytes, relaxed);
}

void node_metrics::compressed(size_t raw_bytes,
                              size_t compressed_bytes) noexcept {
  compress_in_.fetch_add(raw_bytes, relaxed);
  compress_out_.fetch_add(compressed_bytes, relaxed);
}

void node_metrics::room_event(room_counter c, uint64_t n) noexcept {
  room_[static_cast<size_t>(c)].fetch_add(n, relaxed);
}

void node_metrics::room_opened() noexcept {
  rooms_.fetch_add(1, relaxed);
}

void node_metrics::room_closed() noexcept {
  rooms_.fetch_sub(1, relaxed);
}

void node_metrics::directory_users(int64_t delta) noexcept {
  directory_users_.fetch_add(delta, relaxed);
}

void node_metrics::cluster_members(int64_t n) noexcept {
  cluster_members_.store(n, relaxed);
}

void node_metrics::member_changed(member_change c) noexcept {
  member_changes_[static_cast<size_t>(c)].fetch_add(1, relaxed);
}

void node_metrics::member_detected(int64_t silent_ms) noexcept {
  auto ms = static_cast<uint64_t>(std::max<int64_t>(0, silent_ms));
  detections_.fetch_add(1, relaxed);
  detection_ms_sum_.fetch_add(ms, relaxed);
  last_detection_ms_.store(ms, relaxed);
}

void node_metrics::link_restarted() noexcept {
  link_restarts_.fetch_add(1, relaxed);
}

namespace {

// Cross-node traffic is a routed message, a room publish or a room's
// presence (control).
size_t cluster_slot(traffic_kind k) noexcept {
  return k == traffic_kind::batch ? 1 : k == traffic_kind::control ? 2 : 0;
}

} // namespace

void node_metrics::cluster_sent(traffic_kind k, size_t bytes) noexcept {
  cluster_out_[cluster_slot(k)].fetch_add(1, relaxed);
  cluster_out_bytes_[cluster_slot(k)].fetch_add(bytes, relaxed);
}

void node_metrics::cluster_received(traffic_kind k, size_t bytes) noexcept {
  cluster_in_[cluster_slot(k)].fetch_add(1, relaxed);
  cluster_in_bytes_[cluster_slot(k)].fetch_add(bytes, relaxed);
}

namespace {

constexpr std::array<std::string_view, peer_refusal_count> refusal_names{
  "handshake",       "timeout", "busy",   "oversized", "identity",
  "unauthenticated", "claim",   "forged", "unexpected"};

} // namespace

const char* to_string(peer_refusal r) noexcept {
  return refusal_names[static_cast<size_t>(r)].data();
}

void node_metrics::peer_refused(peer_refusal r) noexcept {
  peer_refused_[static_cast<size_t>(r)].fetch_add(1, relaxed);
}

uint64_t node_metrics::peer_refusals(peer_refusal r) const noexcept {
  return peer_refused_[static_cast<size_t>(r)].load(relaxed);
}

namespace {

constexpr std::array<std::string_view, push_outcome_count> push_outcome_names{
  "sent", "retried", "failed", "dead", "unconfigured"};
constexpr std::array<std::string_view, push_provider_count> push_provider_names{
  "apns", "fcm", "webhook"};

size_t push_slot(uint8_t provider, push_outcome o) noexcept {
  return std::min<size_t>(provider, push_provider_count - 1)
           * push_outcome_count
         + static_cast<size_t>(o);
}

} // namespace

std::string_view to_string(push_outcome o) noexcept {
  return push_outcome_names[static_cast<size_t>(o) % push_outcome_count];
}

constexpr std::array<std::string_view, replica_event_count> replica_names{
  "sent",       "stored",   "failed", "no_quorum",
  "taken_over", "repaired", "stale",  "adopted"};

void node_metrics::replicated(replica_event e, uint64_t n) noexcept {
  replica_[static_cast<size_t>(e)].fetch_add(n, relaxed);
}

uint64_t node_metrics::replica_events(replica_event e) const noexcept {
  return replica_[static_cast<size_t>(e)].load(relaxed);
}

void node_metrics::push_ended(uint8_t provider, push_outcome o) noexcept {
  pushes_[push_slot(provider, o)].fetch_add(1, relaxed);
}

uint64_t node_metrics::pushes(uint8_t provider, push_outcome o) const noexcept {
  return pushes_[push_slot(provider, o)].load(relaxed);
}

void node_metrics::users_evicted(uint64_t n) noexcept {
  users_evicted_.fetch_add(n, relaxed);
}

void node_metrics::room_members(int64_t delta) noexcept {
  room_members_.fetch_add(delta, relaxed);
}

uint64_t node_metrics::room_events(room_counter c) const noexcept {
  return room_[static_cast<size_t>(c)].load(relaxed);
}

uint64_t node_metrics::queue_events(queue_counter c) const noexcept {
  return queue_[static_cast<size_t>(c)].load(relaxed);
}

uint64_t node_metrics::messages_in(traffic_kind k) const noexcept {
  return messages_in_[static_cast<size_t>(k)].load(relaxed);
}

uint64_t node_metrics::messages_out(traffic_kind k) const noexcept {
  return messages_out_[static_cast<size_t>(k)].load(relaxed);
}

uint64_t node_metrics::errors(protocol::errc code) const noexcept {
  auto i = static_cast<size_t>(code);
  return i < errors_.size() ? errors_[i].load(relaxed) : 0;
}

std::string node_metrics::render_prometheus() const {
  std::string out;
  out.reserve(8192);
  header(out, "tether_connections", "Open WebSocket connections.", "gauge");
  sample(out, "tether_connections", "",
         static_cast<uint64_t>(std::max<int64_t>(0, connections())));
  header(out, "tether_connections_total", "WebSocket connections accepted.",
         "counter");
  sample(out, "tether_connections_total", "", connections_total_.load(relaxed));
  header(out, "tether_connections_closed_total",
         "Closed connections by WebSocket close code.", "counter");
  for (size_t i = 0; i <= close_codes_.size(); ++i) {
    auto code = i < close_codes_.size() ? std::to_string(close_codes_[i])
                                        : std::string{"other"};
    sample(out, "tether_connections_closed_total", "code=\"" + code + "\"",
           closes_[i].load(relaxed));
  }
  header(out, "tether_push_total",
         "Pushes to devices' addresses, by provider and outcome.", "counter");
  for (size_t p = 0; p < push_provider_count; ++p)
    for (size_t o = 0; o < push_outcome_count; ++o)
      sample(out, "tether_push_total",
             "provider=\"" + std::string{push_provider_names[p]}
               + "\",outcome=\"" + std::string{push_outcome_names[o]} + "\"",
             pushes_[p * push_outcome_count + o].load(relaxed));
  labelled(out, "tether_replica_total",
           "Replicated queues (SPEC 14.3): batches sent and stored, "
           "followers that failed, writes short of a quorum, takeovers, "
           "repairs, stale batches refused.",
           "event", replica_names, replica_);
  labelled(out, "tether_handshakes_rejected_total",
           "Upgrade requests refused before the WebSocket handshake.", "reason",
           reject_names, rejected_);
  per_kind(out, "tether_messages_received_total",
           "Messages received, by frame kind.", messages_in_);
  per_kind(out, "tether_bytes_received_total",
           "Frame bytes received, by frame kind.", bytes_in_);
  per_kind(out, "tether_messages_sent_total", "Messages sent, by frame kind.",
           messages_out_);
  per_kind(out, "tether_bytes_sent_total", "Frame bytes sent, by frame kind.",
           bytes_out_);
  header(out, "tether_errors_total",
         "Refused messages and frames, by protocol error code.", "counter");
  for (size_t i = 1; i <= static_cast<size_t>(protocol::errc_last); ++i)
    sample(out, "tether_errors_total",
           "code=\""
             + std::string{protocol::to_code(static_cast<protocol::errc>(i))}
             + "\"",
           errors_[i].load(relaxed));
  header(out, "tether_rtt_seconds",
         "WebSocket ping/pong round-trip time per connection.", "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= rtt_bounds_us.size(); ++i) {
    cumulative += rtt_buckets_[i].load(relaxed);
    std::string le = "+Inf";
    if (i < rtt_bounds_us.size()) {
      auto us = rtt_bounds_us[i];
      le = std::to_string(us / 1000000) + "."
           + std::string{std::to_string(1000000 + us % 1000000)}.substr(1);
    }
    sample(out, "tether_rtt_seconds_bucket", "le=\"" + le + "\"", cumulative);
  }
  out.append("tether_rtt_seconds_sum ")
    .append(seconds_text(rtt_sum_us_.load(relaxed)))
    .append("\n");
  sample(out, "tether_rtt_seconds_count", "", rtt_count_.load(relaxed));
  labelled(out, "tether_queue_events_total",
           "Device queue events: enqueued, delivered, redelivered, retired, "
           "expired, evicted, dead_lettered, overflow, slow_consumer, "
           "duplicate, handed_over (to another node), withdrawn (handled on "
           "another device of the user); released and restored count "
           "queues, not messages.",
           "event", queue_names, queue_);
  header(out, "tether_store_commits_total",
         "Durable store transactions (group commits).", "counter");
  sample(out, "tether_store_commits_total", "", store_commits_.load(relaxed));
  header(out, "tether_store_operations_total",
         "Operations committed in those transactions.", "counter");
  sample(out, "tether_store_operations_total", "",
         store_operations_.load(relaxed));
  header(out, "tether_store_commit_seconds_total",
         "Time spent committing (including fsync).", "counter");
  out.append("tether_store_commit_seconds_total ")
    .append(seconds_text(store_commit_ns_.load(relaxed) / 1000))
    .append("\n");
  header(out, "tether_store_dead_letters_purged_total",
         "Dead letters deleted after store.dead_letter_retention.", "counter");
  sample(out, "tether_store_dead_letters_purged_total", "",
         dead_purged_.load(relaxed));
  header(out, "tether_frames_sent_total",
         "Delivery frames written by batchers.", "counter");
  sample(out, "tether_frames_sent_total", "", frames_.load(relaxed));
  header(out, "tether_framed_messages_total",
         "Messages carried by those frames.", "counter");
  sample(out, "tether_framed_messages_total", "",
         framed_messages_.load(relaxed));
  header(out, "tether_rooms", "Rooms with members on this node.", "gauge");
  sample(out, "tether_rooms", "",
         static_cast<uint64_t>(std::max<int64_t>(0, rooms_.load(relaxed))));
  header(out, "tether_room_members", "Memberships across rooms.", "gauge");
  sample(
    out, "tether_room_members", "",
    static_cast<uint64_t>(std::max<int64_t>(0, room_members_.load(relaxed))));
  header(out, "tether_directory_users",
         "Users whose devices the directory shards hold in memory.", "gauge");
  sample(out, "tether_directory_users", "",
         static_cast<uint64_t>(
           std::max<int64_t>(0, directory_users_.load(relaxed))));
  header(out, "tether_directory_users_evicted_total",
         "Idle users forgotten by the directory (reloaded on next use).",
         "counter");
  sample(out, "tether_directory_users_evicted_total", "",
         users_evicted_.load(relaxed));
  header(out, "tether_cluster_members",
         "Nodes alive in this node's view of the cluster, itself included "
         "(0: a single node).",
         "gauge");
  sample(out, "tether_cluster_members", "",
         static_cast<uint64_t>(
           std::max<int64_t>(0, cluster_members_.load(relaxed))));
  static constexpr std::array<std::string_view, member_change_count>
    change_names{"joined", "rejoined", "restarted", "down"};
  labelled(out, "tether_cluster_member_changes_total",
           "Members that joined, came back (rejoined: the same process; "
           "restarted: a new one) or went down, as this node saw them.",
           "event", change_names, member_changes_);
  labelled(out, "tether_cluster_refused_total",
           "What the cluster port refused, by reason: a failed or slow "
           "handshake, too many waiting, an oversized message, a node "
           "claiming another id, a message from a node that did not say "
           "hello, speaking for another node, a forged forwarded message, a "
           "message peers may not send (SPEC §14.2).",
           "reason", refusal_names, peer_refused_);
  header(out, "tether_cluster_link_restarts_total",
         "Links to peers restarted after their backoff (reconnects).",
         "counter");
  sample(out, "tether_cluster_link_restarts_total", "",
         link_restarts_.load(relaxed));
  header(out, "tether_cluster_detection_seconds",
         "Time from the last word of a member (a ping every "
         "cluster.heartbeat_interval) to it being found down.",
         "summary");
  out.append("tether_cluster_detection_seconds_sum ")
    .append(seconds_text(detection_ms_sum_.load(relaxed) * 1000))
    .append("\n");
  sample(out, "tether_cluster_detection_seconds_count", "",
         detections_.load(relaxed));
  header(out, "tether_cluster_last_detection_seconds",
         "The latest of those times.", "gauge");
  out.append("tether_cluster_last_detection_seconds ")
    .append(seconds_text(last_detection_ms_.load(relaxed) * 1000))
    .append("\n");
  static constexpr std::array<std::string_view, 3> cluster_kinds{
    "route", "room", "presence"};
  auto cluster_family = [&](std::string_view name, std::string_view help,
                            const std::array<counter, 3>& sent,
                            const std::array<counter, 3>& received) {
    header(out, name, help, "counter");
    for (size_t i = 0; i < cluster_kinds.size(); ++i) {
      auto kind = "kind=\"" + std::string{cluster_kinds[i]} + "\"";
      sample(out, name, kind + ",direction=\"out\"", sent[i].load(relaxed));
      sample(out, name, kind + ",direction=\"in\"", received[i].load(relaxed));
    }
  };
  cluster_family("tether_cluster_messages_total",
                 "Messages forwarded to (out) or from (in) other nodes: "
                 "route (direct, extension, user broadcast), room (publish), "
                 "presence (a room's members, in entries).",
                 cluster_out_, cluster_in_);
  cluster_family("tether_cluster_bytes_total",
                 "Bytes of those messages (as forwarded; presence: the "
                 "entries' ids and texts).",
                 cluster_out_bytes_, cluster_in_bytes_);
  static constexpr std::array<std::string_view, room_counter_count> room_names{
    "published", "delivered", "diff_sent", "flap_suppressed", "fanned_out"};
  labelled(out, "tether_room_events_total",
           "Room events: published, delivered (copies), diff_sent, "
           "flap_suppressed, fanned_out (publishes handed to a fan-out on "
           "another event loop).",
           "event", room_names, room_);
  header(out, "tether_compression_bytes_total",
         "App-level compression: bytes before (in) and after (out).",
         "counter");
  sample(out, "tether_compression_bytes_total", "side=\"in\"",
         compress_in_.load(relaxed));
  sample(out, "tether_compression_bytes_total", "side=\"out\"",
         compress_out_.load(relaxed));
  return out;
}

} // namespace tether::actors

#include "runtime/node_params.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace tether::runtime {

namespace {

// How often a connection reports activity to its rooms: often enough to
// notice idleness within a quarter of presence.away_after.
std::chrono::milliseconds activity_interval_of(const config::settings& s) {
  return std::max(std::chrono::milliseconds{250},
                  s.presence.presence.away_after / 4);
}

} // namespace

actors::orchestrator_params orchestrator_params_of(const config::settings& s) {
  actors::orchestrator_params p;
  p.queue.queue = s.queue.queue;
  p.queue.resume_window = s.queue.resume_window;
  p.queue.release_after = s.queue.release_after;
  p.queue.handover_timeout = s.node.request_timeout;
  p.replica.factor = s.cluster.replication_factor;
  if (p.replica.factor > 1)
    p.queue.delivered_window = actors::replicated_delivered_window;
  p.replica.timeout = s.node.request_timeout;
  p.queue.push = s.push.push;
  p.pusher.webhook_url = s.push.webhook_url;
  p.pusher.max_retries = s.push.max_retries;
  // (The keys are read from their files at start: node.cpp.)
  p.pusher.apns.key_id = s.push.apns_key_id;
  p.pusher.apns.team_id = s.push.apns_team_id;
  p.pusher.apns.topic = s.push.apns_topic;
  p.pusher.apns.url = s.push.apns_url;
  p.pusher.apns.sandbox_url = s.push.apns_sandbox_url;
  p.pusher.fcm.url = s.push.fcm_url;
  p.pusher.fcm.token_url = s.push.fcm_token_url;
  p.store.dead_letter_retention = s.store.dead_letter_retention;
  p.directory.dedup_window = s.queue.dedup_window;
  p.directory.dedup_capacity = s.queue.dedup_capacity;
  p.directory.request_timeout = s.node.request_timeout;
  p.directory.shards = s.directory.shards;
  p.directory.idle_user_ttl = s.directory.idle_user_ttl;
  p.directory.max_users = s.directory.max_users;
  p.directory.max_rooms = s.presence.max_rooms;
  p.room.rules = s.presence.rules;
  p.room.presence = s.presence.presence;
  p.room.diff_interval = s.presence.diff_interval;
  p.room.max_page_size = s.presence.max_page_size;
  auto& c = p.connection;
  c.batcher.batch = s.batch.batch;
  c.batcher.compress_threshold = s.batch.compress_threshold;
  c.batcher.compress_level = static_cast<int>(s.batch.compress_level);
  c.activity_interval = activity_interval_of(s);
  c.limits = s.limits.protocol;
  c.guard = s.limits.guard;
  c.request_timeout = s.node.request_timeout;
  c.ping_interval = s.heartbeat.ping_interval;
  c.pong_timeout = s.heartbeat.pong_timeout;
  c.max_message_bytes = s.limits.max_message_bytes;
  p.backoff = s.supervision.backoff;
  p.budget = s.supervision.budget;
  p.stop_timeout = s.node.stop_timeout;
  p.peer.timeout = s.cluster.connection_timeout;
  p.peer.request_timeout = s.node.request_timeout;
  return p;
}

server_params server_params_of(const config::settings& s) {
  server_params sp;
  sp.address = s.server.address;
  sp.port = s.server.port;
  sp.ws_path = s.server.ws_path;
  sp.max_connections = s.server.max_connections;
  sp.handshake_rate = s.server.handshake_rate;
  sp.handshake_burst = s.server.handshake_burst;
  sp.io_threads = s.server.io_threads;
  sp.allowed_origins = s.server.allowed_origins;
  sp.permessage_deflate = s.server.permessage_deflate;
  sp.deflate_level = s.server.deflate_level;
  sp.deflate_window_bits = s.server.deflate_window_bits;
  sp.deflate_mem_level = s.server.deflate_mem_level;
  sp.deflate_no_context_takeover = s.server.deflate_no_context_takeover;
  sp.max_message_bytes = s.limits.max_message_bytes;
  sp.tls_cert = s.server.tls_cert;
  sp.tls_key = s.server.tls_key;
  sp.tls_port = s.server.tls_port;
  sp.tls_only = s.server.tls_only;
  sp.echo_path = s.server.echo_path;
  sp.handshake_timeout = s.heartbeat.handshake_timeout;
  sp.ping_interval = s.heartbeat.ping_interval;
  sp.pong_timeout = s.heartbeat.pong_timeout;
  sp.close_timeout = s.heartbeat.close_timeout;
  sp.token_leeway = s.auth.leeway;
  return sp;
}

actors::cluster_params cluster_params_of(const config::settings& s,
                                         const actors::member_info& self) {
  actors::cluster_params cp;
  cp.self = self;
  for (auto& seed : s.cluster.seeds) {
    std::string host;
    std::string problem; // validated with the settings
    uint16_t port = 0;
    if (config::parse_endpoint(seed, host, port, problem))
      cp.seeds.emplace_back(std::move(host), port);
  }
  cp.request_timeout = s.node.request_timeout;
  cp.heartbeat_interval = s.cluster.heartbeat_interval;
  cp.limits = s.limits.protocol;
  return cp;
}

actors::gate_params gate_params_of(const config::settings& s) {
  actors::gate_params gp;
  gp.request_timeout = s.node.request_timeout;
  return gp;
}

cluster_transport_params transport_params_of(const config::settings& s) {
  auto& c = s.cluster;
  cluster_transport_params tp;
  tp.handshake_timeout = c.handshake_timeout;
  tp.max_pending = c.max_pending_handshakes;
  tp.connect_timeout = c.connection_timeout;
  // The largest message peers exchange: a handover batch or a relayed
  // message of limits.max_message_bytes, with room for its envelope.
  tp.max_payload = static_cast<uint32_t>(std::min<uint64_t>(
    UINT32_MAX, std::max<uint64_t>(16u << 20, 2 * s.limits.max_message_bytes
                                                + (1u << 20))));
  return tp;
}

} // namespace tether::runtime

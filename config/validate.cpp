// validate(): the rules settings must keep together (ranges, relations
// between settings, files that must be given in pairs), every problem at
// once.

#include "config/settings.hpp"

#include <algorithm>

#include "actors/cluster/replication.hpp"

namespace tether::config {

std::vector<std::string> validate(const settings& s) {
  std::vector<std::string> p;
  auto rule = [&](bool ok, std::string message) {
    if (!ok)
      p.push_back(std::move(message));
  };
  rule(!s.server.address.empty(), "server.address must not be empty");
  rule(!s.server.ws_path.empty() && s.server.ws_path[0] == '/',
       "server.ws_path must start with '/'");
  rule(s.server.ws_path != "/healthz" && s.server.ws_path != "/metrics",
       "server.ws_path must not be /healthz or /metrics");
  rule(s.server.max_connections >= 1, "server.max_connections must be >= 1");
  rule(s.server.handshake_rate == 0 || s.server.handshake_burst >= 1,
       "server.handshake_burst must be >= 1 when handshake_rate is set");
  rule(s.server.drain_window <= std::chrono::minutes{10},
       "server.drain_window must be at most 10 minutes (node.stop_timeout "
       "follows it)");
  rule(s.server.io_threads <= 64, "server.io_threads must be at most 64");
  rule(s.server.deflate_level >= 1 && s.server.deflate_level <= 9,
       "server.deflate_level must be between 1 and 9");
  rule(s.server.deflate_window_bits >= 9 && s.server.deflate_window_bits <= 15,
       "server.deflate_window_bits must be between 9 and 15");
  rule(s.server.deflate_mem_level >= 1 && s.server.deflate_mem_level <= 9,
       "server.deflate_mem_level must be between 1 and 9");
  rule(s.server.echo_path.empty()
         || (s.server.echo_path[0] == '/'
             && s.server.echo_path != s.server.ws_path
             && s.server.echo_path != "/healthz"
             && s.server.echo_path != "/metrics"),
       "server.echo_path must be a path of its own (or empty)");
  rule(s.server.tls_cert.empty() == s.server.tls_key.empty(),
       "server.tls_cert and server.tls_key go together");
  rule(!s.server.tls_only || !s.server.tls_cert.empty(),
       "server.tls_only needs server.tls_cert and server.tls_key");
  rule(s.server.tls_port == 0 || !s.server.tls_cert.empty(),
       "server.tls_port needs server.tls_cert and server.tls_key");
  rule(s.server.tls_port == 0 || s.server.tls_port != s.server.port,
       "server.tls_port must differ from server.port");
  for (auto& o : s.server.allowed_origins)
    rule(o == "*" || o.rfind("http://", 0) == 0 || o.rfind("https://", 0) == 0,
         "server.allowed_origins: '" + o
           + "' must be an origin like https://app.example.com");
  rule(s.limits.max_message_bytes >= 1024
         && s.limits.max_message_bytes <= 64 * 1024 * 1024,
       "limits.max_message_bytes must be between 1024 and 67108864");
  rule(s.limits.protocol.max_payload_bytes <= s.limits.max_message_bytes,
       "limits.max_payload_bytes must not exceed limits.max_message_bytes");
  rule(s.limits.protocol.max_batch_messages >= 1
         && s.limits.protocol.max_batch_messages <= 10000,
       "limits.max_batch_messages must be between 1 and 10000");
  rule(s.limits.protocol.max_depth >= 2 && s.limits.protocol.max_depth <= 128,
       "limits.max_depth must be between 2 and 128");
  rule(s.limits.protocol.max_ttl.count() > 0,
       "limits.max_ttl must be positive");
  rule(s.limits.guard.rate_per_second > 0,
       "limits.rate_per_second must be positive");
  rule(s.limits.guard.burst >= 1, "limits.rate_burst must be >= 1");
  rule(s.store.dead_letter_retention.count() >= 0,
       "store.dead_letter_retention must not be negative");
  rule(s.limits.guard.violation_window.count() > 0,
       "limits.violation_window must be positive");
  rule(s.heartbeat.ping_interval.count() >= 100,
       "heartbeat.ping_interval must be at least 100ms");
  rule(s.heartbeat.pong_timeout.count() > 0
         && s.heartbeat.pong_timeout <= s.heartbeat.ping_interval,
       "heartbeat.pong_timeout must be positive and at most "
       "heartbeat.ping_interval");
  rule(s.heartbeat.handshake_timeout.count() > 0,
       "heartbeat.handshake_timeout must be positive");
  rule(s.heartbeat.close_timeout.count() > 0,
       "heartbeat.close_timeout must be positive");
  rule(s.queue.queue.max_items >= 1, "queue.max_items must be >= 1");
  rule(s.queue.queue.max_bytes >= s.limits.max_message_bytes,
       "queue.max_bytes must be at least limits.max_message_bytes");
  for (auto& ttl : s.queue.queue.default_ttl)
    rule(ttl.count() > 0, "queue.ttl_* must be positive");
  rule(s.queue.queue.ack_timeout.count() > 0,
       "queue.ack_timeout must be positive");
  rule(s.queue.queue.ack_backoff >= 1.0, "queue.ack_backoff must be >= 1");
  rule(s.queue.queue.max_attempts >= 1, "queue.max_attempts must be >= 1");
  rule(s.queue.queue.max_inflight >= 1, "queue.max_inflight must be >= 1");
  rule(s.queue.dedup_capacity >= 1, "queue.dedup_capacity must be >= 1");
  rule(s.directory.shards >= 1 && s.directory.shards <= 1024,
       "directory.shards must be between 1 and 1024");
  rule(s.directory.idle_user_ttl.count() >= 1000,
       "directory.idle_user_ttl must be at least 1s");
  rule(s.directory.max_users >= 1, "directory.max_users must be >= 1");
  rule(s.batch.batch.max_items >= 1 && s.batch.batch.max_items <= 10000,
       "batch.max_items must be between 1 and 10000");
  rule(s.batch.batch.max_bytes >= 1024,
       "batch.max_bytes must be at least 1024");
  rule(s.batch.batch.max_frames_in_flight >= 1,
       "batch.max_frames_in_flight must be >= 1");
  rule(s.batch.compress_level >= 1 && s.batch.compress_level <= 9,
       "batch.compress_level must be between 1 and 9");
  rule(s.presence.presence.away_after.count() > 0,
       "presence.away_after must be positive");
  rule(s.presence.presence.grace.count() >= 0,
       "presence.grace must not be negative");
  rule(s.presence.diff_interval.count() > 0,
       "presence.diff_interval must be positive");
  rule(s.presence.max_page_size >= 1, "presence.max_page_size must be >= 1");
  rule(s.presence.max_rooms >= 1, "presence.max_rooms must be >= 1");
  rule(s.push.push.delay.count() >= 0, "push.delay must not be negative");
  rule(s.push.push.min_interval.count() >= 0,
       "push.min_interval must not be negative");
  rule(s.push.webhook_url.empty() || s.push.webhook_url.rfind("http://", 0) == 0
         || s.push.webhook_url.rfind("https://", 0) == 0,
       "push.webhook_url must be an http:// or https:// URL");
  rule(s.push.webhook_url.empty() || !s.push.webhook_secret_file.empty(),
       "push.webhook_secret_file is required when push.webhook_url is set");
  auto web = [](const std::string& url) {
    return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  };
  rule(web(s.push.apns_url) && web(s.push.apns_sandbox_url)
         && web(s.push.fcm_url)
         && (s.push.fcm_token_url.empty() || web(s.push.fcm_token_url)),
       "push.apns_url, push.apns_sandbox_url, push.fcm_url and "
       "push.fcm_token_url must be http:// or https:// URLs");
  rule(s.push.apns_key_file.empty()
         || (!s.push.apns_key_id.empty() && !s.push.apns_team_id.empty()),
       "push.apns_key_id and push.apns_team_id are required when "
       "push.apns_key_file is set");
  rule(s.push.timeout.count() > 0, "push.timeout must be positive");
  rule(s.push.push.delay < s.queue.resume_window,
       "push.delay must be shorter than queue.resume_window (a device's "
       "queue waits that long for it)");
  rule(s.push.max_retries <= 20, "push.max_retries must be at most 20");
  rule(!s.node.data_dir.empty(), "node.data_dir must not be empty");
  static const std::vector<std::string> levels{
    "trace", "debug", "info", "warn", "error", "critical", "off"};
  rule(std::find(levels.begin(), levels.end(), s.node.log_level)
         != levels.end(),
       "node.log_level must be one of trace, debug, info, warn, error, "
       "critical, off");
  rule(s.node.request_timeout.count() > 0,
       "node.request_timeout must be positive");
  rule(s.caf.scheduler_policy == "loops" || s.caf.scheduler_policy == "sharing"
         || s.caf.scheduler_policy == "stealing",
       "caf.scheduler_policy must be loops, sharing or stealing");
  rule(s.caf.max_threads <= 256, "caf.max_threads must be at most 256");
  rule(s.supervision.backoff.base.count() > 0
         && s.supervision.backoff.base <= s.supervision.backoff.cap,
       "supervision.backoff_base must be positive and at most backoff_cap");
  rule(s.supervision.backoff.multiplier >= 1.0,
       "supervision.backoff_multiplier must be >= 1");
  rule(s.supervision.budget.max_restarts >= 1,
       "supervision.max_restarts must be >= 1");
  // Names and addresses appear in logs, /healthz and peers' views as is.
  auto plain = [](const std::string& x) {
    return std::all_of(x.begin(), x.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':'
             || c == '[' || c == ']';
    });
  };
  rule(plain(s.cluster.node_id) && s.cluster.node_id.size() <= 100,
       "cluster.node_id may hold letters, digits and . - _ : [ ] (at most "
       "100)");
  rule(plain(s.cluster.address), "cluster.address must be a host name or IP");
  rule(s.cluster.replication_factor >= 1
         && s.cluster.replication_factor <= actors::max_replication_factor,
       "cluster.replication_factor must be 1-"
         + std::to_string(actors::max_replication_factor));
  if (s.cluster.port != 0) {
    // Peers dial what a node announces: "any address" dials nowhere.
    rule(!s.cluster.address.empty() && s.cluster.address != "0.0.0.0"
           && s.cluster.address != "::",
         "cluster.address must be an address peers can reach (not empty, "
         "0.0.0.0 or ::)");
    rule(s.cluster.heartbeat_interval.count() > 0
           && s.cluster.heartbeat_interval < s.cluster.connection_timeout,
         "cluster.heartbeat_interval must be positive and below "
         "cluster.connection_timeout");
    rule(s.cluster.port != s.server.port && s.cluster.port != s.server.tls_port,
         "cluster.port must differ from server.port and server.tls_port");
    auto tls = !s.cluster.tls_cert.empty();
    rule(tls == !s.cluster.tls_key.empty() && tls == !s.cluster.tls_ca.empty(),
         "cluster.tls_cert, cluster.tls_key and cluster.tls_ca go together");
    rule(!tls || !s.cluster.insecure,
         "cluster.insecure and cluster.tls_* exclude each other");
    rule(tls || s.cluster.insecure || is_loopback(s.cluster.address),
         "cluster.address " + s.cluster.address
           + " is reachable from other hosts: give every node "
             "cluster.tls_cert, cluster.tls_key and cluster.tls_ca (tether "
             "cert cluster-ca, tether cert node), or set cluster.insecure = "
             "true on a network you trust");
    rule(!tls || s.node_id().size() <= 64,
         "the node id of a TLS cluster holds at most 64 characters (it is "
         "its certificate's CN)");
    rule(s.cluster.handshake_timeout.count() > 0,
         "cluster.handshake_timeout must be positive");
    rule(s.cluster.max_pending_handshakes >= 1,
         "cluster.max_pending_handshakes must be at least 1");
  }
  rule(s.cluster.seeds.empty() || s.cluster.port != 0,
       "cluster.seeds needs cluster.port");
  for (auto& seed : s.cluster.seeds) {
    std::string host, problem;
    uint16_t port = 0;
    auto ok = parse_endpoint(seed, host, port, problem);
    rule(ok, "cluster.seeds: " + problem);
  }
  return p;
}

} // namespace tether::config

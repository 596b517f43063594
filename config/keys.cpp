// The table of keys: every setting's INI key, its help line and where it
// lives in `settings`; reading a key's value (apply, apply_ini) and writing
// them all (describe, to_ini) go through it.

#include "config/settings.hpp"
#include "config/values.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

namespace tether::config {

namespace {

using detail::trim;

// -- the table of keys
// ----------------------------------------------------------------

struct binding {
  std::string key;
  std::string help;
  std::function<bool(settings&, const std::string&, std::string&)> set;
  std::function<std::string(const settings&)> get;
};

template <class Access>
void add_key(std::vector<binding>& table, std::string key, std::string help,
             Access access) {
  table.push_back(
    binding{std::move(key), std::move(help),
            [access](settings& s, const std::string& text, std::string& err) {
              return detail::parse_value(text, access(s), err);
            },
            [access](const settings& s) {
              return detail::print(access(const_cast<settings&>(s)));
            }});
}

const std::vector<binding>& table() {
  static const std::vector<binding> result = [] {
    std::vector<binding> t;
    // server
    add_key(
      t, "server.address", "IP address to listen on",
      [](settings & s) -> auto& { return s.server.address; });
    add_key(
      t, "server.port", "TCP port for WebSocket and HTTP (0: any free port)",
      [](settings & s) -> auto& { return s.server.port; });
    add_key(
      t, "server.ws_path", "HTTP path of the WebSocket endpoint",
      [](settings & s) -> auto& { return s.server.ws_path; });
    add_key(
      t, "server.echo_path",
      "TESTS ONLY: unauthenticated echo route of the conformance suite "
      "(empty: off)",
      [](settings & s) -> auto& { return s.server.echo_path; });
    add_key(
      t, "server.max_connections",
      "open connections before new upgrades get HTTP 503",
      [](settings & s) -> auto& { return s.server.max_connections; });
    add_key(
      t, "server.handshake_rate",
      "handshakes admitted per second (0: no limit); beyond it HTTP 503 "
      "with a Retry-After spread at this rate",
      [](settings & s) -> auto& { return s.server.handshake_rate; });
    add_key(
      t, "server.handshake_burst",
      "handshakes admitted at once before handshake_rate applies",
      [](settings & s) -> auto& { return s.server.handshake_burst; });
    add_key(
      t, "server.drain_window",
      "on SIGTERM or POST /api/v1/drain: close the sessions with 1012 "
      "within this time (at most handshake_rate per second), then stop",
      [](settings & s) -> auto& { return s.server.drain_window; });
    add_key(
      t, "server.io_threads",
      "event loops running the sockets and, with caf.scheduler_policy "
      "loops, the actors serving them (0: one per CPU the process may run "
      "on with loops, else 1)",
      [](settings & s) -> auto& { return s.server.io_threads; });
    add_key(
      t, "server.allowed_origins",
      "comma-separated Origin allow-list for browsers (empty: no check)",
      [](settings & s) -> auto& { return s.server.allowed_origins; });
    add_key(
      t, "server.permessage_deflate",
      "negotiate permessage-deflate when a client offers it",
      [](settings & s) -> auto& { return s.server.permessage_deflate; });
    add_key(
      t, "server.deflate_level", "zlib level for permessage-deflate (1-9)",
      [](settings & s) -> auto& { return s.server.deflate_level; });
    add_key(
      t, "server.deflate_window_bits",
      "permessage-deflate server_max_window_bits (9-15): window per session",
      [](settings & s) -> auto& { return s.server.deflate_window_bits; });
    add_key(
      t, "server.deflate_mem_level",
      "zlib memLevel (1-9) of a session's deflate stream",
      [](settings & s) -> auto& { return s.server.deflate_mem_level; });
    add_key(
      t, "server.tls_cert",
      "PEM certificate chain for wss (empty: no TLS; tether cert makes one)",
      [](settings & s) -> auto& { return s.server.tls_cert; });
    add_key(
      t, "server.tls_key", "PEM private key of server.tls_cert",
      [](settings & s) -> auto& { return s.server.tls_key; });
    add_key(
      t, "server.tls_only",
      "server.port accepts TLS only (no plain ws/http beside it)",
      [](settings & s) -> auto& { return s.server.tls_only; });
    add_key(
      t, "server.tls_port",
      "TLS-only port (0: TLS and plain share server.port)",
      [](settings & s) -> auto& { return s.server.tls_port; });
    add_key(
      t, "server.deflate_no_context_takeover",
      "both sides reset the deflate context per message (no kept window)",
      [](settings & s) -> auto& {
        return s.server.deflate_no_context_takeover;
      });
    // limits
    add_key(
      t, "limits.max_message_bytes",
      "largest inbound WebSocket message; larger ones close with 1009",
      [](settings & s) -> auto& { return s.limits.max_message_bytes; });
    add_key(
      t, "limits.max_batch_messages", "messages per inbound BatchMessage",
      [](settings & s) -> auto& {
        return s.limits.protocol.max_batch_messages;
      });
    add_key(
      t, "limits.max_depth", "nesting depth of payloads",
      [](settings & s) -> auto& { return s.limits.protocol.max_depth; });
    add_key(
      t, "limits.max_payload_bytes", "encoded payload size per message", [
      ](settings & s) -> auto& { return s.limits.protocol.max_payload_bytes; });
    add_key(
      t, "limits.max_ttl", "longest optimization.ttl accepted",
      [](settings & s) -> auto& { return s.limits.protocol.max_ttl; });
    add_key(
      t, "limits.rate_per_second",
      "sustained inbound messages/s per connection",
      [](settings & s) -> auto& { return s.limits.guard.rate_per_second; });
    add_key(
      t, "limits.rate_burst", "inbound burst per connection",
      [](settings & s) -> auto& { return s.limits.guard.burst; });
    add_key(
      t, "limits.max_violations",
      "rejected frames per window before close 1008",
      [](settings & s) -> auto& { return s.limits.guard.max_violations; });
    add_key(
      t, "limits.violation_window", "window for counting violations",
      [](settings & s) -> auto& { return s.limits.guard.violation_window; });
    // heartbeat
    add_key(
      t, "heartbeat.ping_interval", "WebSocket ping interval",
      [](settings & s) -> auto& { return s.heartbeat.ping_interval; });
    add_key(
      t, "heartbeat.pong_timeout",
      "close with 4000 if a ping is not answered within this",
      [](settings & s) -> auto& { return s.heartbeat.pong_timeout; });
    add_key(
      t, "heartbeat.handshake_timeout",
      "time to send the upgrade request and finish the handshake",
      [](settings & s) -> auto& { return s.heartbeat.handshake_timeout; });
    add_key(
      t, "heartbeat.close_timeout",
      "wait for the peer's close frame before cutting the TCP connection",
      [](settings & s) -> auto& { return s.heartbeat.close_timeout; });
    // queue
    add_key(
      t, "queue.max_items", "messages queued per device",
      [](settings & s) -> auto& { return s.queue.queue.max_items; });
    add_key(
      t, "queue.max_bytes", "bytes queued per device",
      [](settings & s) -> auto& { return s.queue.queue.max_bytes; });
    add_key(
      t, "queue.overflow",
      "evict_lowest (oldest lowest-priority first, never critical) or "
      "refuse_new",
      [](settings & s) -> auto& { return s.queue.queue.overflow; });
    add_key(
      t, "queue.ttl_low", "default TTL of low-priority messages",
      [](settings & s) -> auto& { return s.queue.queue.default_ttl[0]; });
    add_key(
      t, "queue.ttl_normal", "default TTL of normal-priority messages",
      [](settings & s) -> auto& { return s.queue.queue.default_ttl[1]; });
    add_key(
      t, "queue.ttl_high", "default TTL of high-priority messages",
      [](settings & s) -> auto& { return s.queue.queue.default_ttl[2]; });
    add_key(
      t, "queue.ttl_critical", "default TTL of critical-priority messages",
      [](settings & s) -> auto& { return s.queue.queue.default_ttl[3]; });
    add_key(
      t, "queue.ack_timeout",
      "wait for a device ack before the first redelivery",
      [](settings & s) -> auto& { return s.queue.queue.ack_timeout; });
    add_key(
      t, "queue.ack_backoff", "growth of that wait per attempt",
      [](settings & s) -> auto& { return s.queue.queue.ack_backoff; });
    add_key(
      t, "queue.max_attempts",
      "deliveries before an unacked message is dead-lettered",
      [](settings & s) -> auto& { return s.queue.queue.max_attempts; });
    add_key(
      t, "queue.max_inflight", "delivered but unacked messages per device",
      [](settings & s) -> auto& { return s.queue.queue.max_inflight; });
    add_key(
      t, "queue.slow_after",
      "oldest waiting message age that closes a connected device (4002)",
      [](settings & s) -> auto& { return s.queue.queue.slow_after; });
    add_key(
      t, "queue.resume_window",
      "how long an idle queue stays in memory after its device left",
      [](settings & s) -> auto& { return s.queue.resume_window; });
    add_key(
      t, "queue.release_after",
      "a connected device's queue that held nothing this long gives "
      "its memory back until the next message (0: never)",
      [](settings & s) -> auto& { return s.queue.release_after; });
    add_key(
      t, "queue.dedup_window",
      "a resent message id within this is not delivered again",
      [](settings & s) -> auto& { return s.queue.dedup_window; });
    add_key(
      t, "queue.dedup_capacity",
      "message ids remembered for dedup per sender device",
      [](settings & s) -> auto& { return s.queue.dedup_capacity; });
    // directory
    add_key(
      t, "directory.shards",
      "directory actors; a user's devices live in one by hash",
      [](settings & s) -> auto& { return s.directory.shards; });
    add_key(
      t, "directory.idle_user_ttl",
      "a user without connections or queues is forgotten after this",
      [](settings & s) -> auto& { return s.directory.idle_user_ttl; });
    add_key(
      t, "directory.max_users",
      "users one shard holds; past it the longest idle are forgotten",
      [](settings & s) -> auto& { return s.directory.max_users; });
    // batch
    add_key(
      t, "batch.enabled", "coalesce deliveries into BatchMessage frames",
      [](settings & s) -> auto& { return s.batch.batch.enabled; });
    add_key(
      t, "batch.max_items", "messages per frame",
      [](settings & s) -> auto& { return s.batch.batch.max_items; });
    add_key(
      t, "batch.max_bytes", "frame bytes before compression",
      [](settings & s) -> auto& { return s.batch.batch.max_bytes; });
    add_key(
      t, "batch.max_delay",
      "longest a message waits for the frame being written",
      [](settings & s) -> auto& { return s.batch.batch.max_delay; });
    add_key(
      t, "batch.flush_priority",
      "messages at or above this priority are written at once",
      [](settings & s) -> auto& { return s.batch.batch.flush_priority; });
    add_key(
      t, "batch.max_frames_in_flight", "write credit per connection",
      [](settings & s) -> auto& { return s.batch.batch.max_frames_in_flight; });
    add_key(
      t, "batch.compress_threshold",
      "frames at least this large are compressed (app-level zlib)",
      [](settings & s) -> auto& { return s.batch.compress_threshold; });
    add_key(
      t, "batch.compress_level", "zlib level of app-level compression",
      [](settings & s) -> auto& { return s.batch.compress_level; });
    // presence
    add_key(
      t, "presence.away_after", "idle time before a device shows as away",
      [](settings & s) -> auto& { return s.presence.presence.away_after; });
    add_key(
      t, "presence.grace",
      "a device reconnecting within this causes no leave/join",
      [](settings & s) -> auto& { return s.presence.presence.grace; });
    add_key(
      t, "presence.diff_interval",
      "presence diffs per room at most this often (coalesced)",
      [](settings & s) -> auto& { return s.presence.diff_interval; });
    add_key(
      t, "presence.max_page_size", "largest presence snapshot page",
      [](settings & s) -> auto& { return s.presence.max_page_size; });
    add_key(
      t, "presence.max_rooms", "rooms one device may be in at once",
      [](settings & s) -> auto& { return s.presence.max_rooms; });
    add_key(
      t, "presence.rules",
      "room rules: action:pattern[@role], action join or publish",
      [](settings & s) -> auto& { return s.presence.rules; });
    // push
    add_key(
      t, "push.min_priority",
      "messages at or above this priority call for a push (low, normal, "
      "high, critical)",
      [](settings & s) -> auto& { return s.push.push.min_priority; });
    add_key(
      t, "push.delay",
      "how long such a message waits for its device before the push",
      [](settings & s) -> auto& { return s.push.push.delay; });
    add_key(
      t, "push.min_interval", "at most one push per device within this",
      [](settings & s) -> auto& { return s.push.push.min_interval; });
    add_key(
      t, "push.webhook_url",
      "where webhook pushes are POSTed (http or https; empty: no webhook)",
      [](settings & s) -> auto& { return s.push.webhook_url; });
    add_key(
      t, "push.webhook_secret_file",
      "file holding the HMAC-SHA256 key of the webhook signature (>= 16 "
      "bytes)",
      [](settings & s) -> auto& { return s.push.webhook_secret_file; });
    add_key(
      t, "push.apns_key_file",
      "APNs token-auth key (.p8, EC P-256) file; empty: no APNs",
      [](settings & s) -> auto& { return s.push.apns_key_file; });
    add_key(
      t, "push.apns_key_id", "the APNs key's id (10 characters, from Apple)",
      [](settings & s) -> auto& { return s.push.apns_key_id; });
    add_key(
      t, "push.apns_team_id", "the Apple developer team id",
      [](settings & s) -> auto& { return s.push.apns_team_id; });
    add_key(
      t, "push.apns_topic",
      "bundle id for APNs addresses registered without a topic",
      [](settings & s) -> auto& { return s.push.apns_topic; });
    add_key(
      t, "push.apns_url", "APNs production base URL",
      [](settings & s) -> auto& { return s.push.apns_url; });
    add_key(
      t, "push.apns_sandbox_url",
      "APNs base URL for addresses registered with environment sandbox",
      [](settings & s) -> auto& { return s.push.apns_sandbox_url; });
    add_key(
      t, "push.fcm_service_account_file",
      "FCM HTTP v1 service account JSON key file; empty: no FCM",
      [](settings & s) -> auto& { return s.push.fcm_service_account_file; });
    add_key(
      t, "push.fcm_url", "FCM base URL",
      [](settings & s) -> auto& { return s.push.fcm_url; });
    add_key(
      t, "push.fcm_token_url",
      "OAuth token endpoint (empty: the service account's token_uri)",
      [](settings & s) -> auto& { return s.push.fcm_token_url; });
    add_key(
      t, "push.timeout", "bound on one request to a push provider",
      [](settings & s) -> auto& { return s.push.timeout; });
    add_key(
      t, "push.max_retries",
      "retries of a push answered 429 or 5xx (backoff or Retry-After)",
      [](settings & s) -> auto& { return s.push.max_retries; });
    add_key(
      t, "push.ca_file",
      "extra CA certificates for the providers' TLS (empty: the system's)",
      [](settings & s) -> auto& { return s.push.ca_file; });
    // store
    add_key(
      t, "store.dead_letter_retention",
      "how long dead letters are kept before they are purged (0: forever)",
      [](settings & s) -> auto& { return s.store.dead_letter_retention; });
    // auth
    add_key(
      t, "auth.secret_file",
      "HMAC secret for tokens (empty: <data_dir>/secret.key)",
      [](settings & s) -> auto& { return s.auth.secret_file; });
    add_key(
      t, "auth.leeway", "clock skew tolerated on exp and nbf",
      [](settings & s) -> auto& { return s.auth.leeway; });
    add_key(
      t, "auth.api_keys_file",
      "keys of the server API, one per line (empty: the API is off)",
      [](settings & s) -> auto& { return s.auth.api_keys_file; });
    // node
    add_key(
      t, "node.data_dir", "directory for the secret and durable state",
      [](settings & s) -> auto& { return s.node.data_dir; });
    add_key(
      t, "node.log_level", "trace, debug, info, warn, error or critical",
      [](settings & s) -> auto& { return s.node.log_level; });
    add_key(
      t, "node.request_timeout",
      "bound on a join and the requests that may wait on the network",
      [](settings & s) -> auto& { return s.node.request_timeout; });
    add_key(
      t, "node.stop_timeout", "graceful shutdown drain time",
      [](settings & s) -> auto& { return s.node.stop_timeout; });
    // caf
    add_key(
      t, "caf.scheduler_policy",
      "where actors run: loops (beside their sockets), or CAF's workers: "
      "sharing, stealing (see README, Scheduling)",
      [](settings & s) -> auto& { return s.caf.scheduler_policy; });
    add_key(
      t, "caf.max_threads",
      "CAF worker threads with sharing/stealing (0: one per CPU the "
      "process may use)",
      [](settings & s) -> auto& { return s.caf.max_threads; });
    // supervision
    add_key(
      t, "supervision.backoff_base", "first restart window",
      [](settings & s) -> auto& { return s.supervision.backoff.base; });
    add_key(
      t, "supervision.backoff_cap", "longest restart window",
      [](settings & s) -> auto& { return s.supervision.backoff.cap; });
    add_key(
      t, "supervision.backoff_multiplier", "window growth per attempt",
      [](settings & s) -> auto& { return s.supervision.backoff.multiplier; });
    add_key(
      t, "supervision.backoff_reset_after",
      "uptime after which a child counts as stable again",
      [](settings & s) -> auto& { return s.supervision.backoff.reset_after; });
    add_key(
      t, "supervision.max_restarts", "restarts allowed per period",
      [](settings & s) -> auto& { return s.supervision.budget.max_restarts; });
    add_key(
      t, "supervision.restart_period", "window of max_restarts",
      [](settings & s) -> auto& { return s.supervision.budget.period; });
    // cluster
    add_key(
      t, "cluster.node_id",
      "unique name of this node (empty: cluster.address:cluster.port)",
      [](settings & s) -> auto& { return s.cluster.node_id; });
    add_key(
      t, "cluster.address",
      "address the cluster port listens on and peers dial",
      [](settings & s) -> auto& { return s.cluster.address; });
    add_key(
      t, "cluster.port",
      "TCP port of this node's CAF middleman (0: single node)",
      [](settings & s) -> auto& { return s.cluster.port; });
    add_key(
      t, "cluster.seeds",
      "host:port of other nodes' cluster ports, comma-separated",
      [](settings & s) -> auto& { return s.cluster.seeds; });
    add_key(
      t, "cluster.heartbeat_interval", "middleman heartbeat to every peer",
      [](settings & s) -> auto& { return s.cluster.heartbeat_interval; });
    add_key(
      t, "cluster.connection_timeout", "a peer silent this long is down",
      [](settings & s) -> auto& { return s.cluster.connection_timeout; });
    add_key(
      t, "cluster.tls_cert",
      "this node's certificate (tether cert node): mutual TLS between nodes",
      [](settings & s) -> auto& { return s.cluster.tls_cert; });
    add_key(
      t, "cluster.tls_key", "PEM private key of cluster.tls_cert",
      [](settings & s) -> auto& { return s.cluster.tls_key; });
    add_key(
      t, "cluster.tls_ca", "the cluster's CA: peers must show its certificates",
      [](settings & s) -> auto& { return s.cluster.tls_ca; });
    add_key(
      t, "cluster.insecure",
      "allow plain BASP off loopback (anyone reaching the port is a peer)",
      [](settings & s) -> auto& { return s.cluster.insecure; });
    add_key(
      t, "cluster.handshake_timeout",
      "a connection that has not completed its TLS handshake by then closes",
      [](settings & s) -> auto& { return s.cluster.handshake_timeout; });
    add_key(
      t, "cluster.max_pending_handshakes",
      "connections in their handshake at once; more are closed at accept",
      [](settings & s) -> auto& { return s.cluster.max_pending_handshakes; });
    add_key(
      t, "cluster.replication_factor",
      "copies of each device queue on different nodes (1-5); an ack waits "
      "for a majority",
      [](settings & s) -> auto& { return s.cluster.replication_factor; });
    return t;
  }();
  return result;
}

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

} // namespace

std::vector<option_info> describe(const settings& s) {
  std::vector<option_info> result;
  for (auto& b : table())
    result.push_back({b.key, b.help, b.get(s)});
  return result;
}

bool apply(settings& s, const std::string& key, const std::string& value,
           std::string& problem) {
  auto k = normalize_key(key);
  for (auto& b : table()) {
    if (b.key == k) {
      std::string err;
      if (b.set(s, value, err))
        return true;
      problem = k;
      problem += ": ";
      problem += err;
      return false;
    }
  }
  problem = key + ": unknown setting (see --help)";
  return false;
}

void apply_ini(settings& s, const std::string& text, const std::string& origin,
               std::vector<std::string>& problems) {
  std::istringstream in{text};
  std::string line;
  std::string section;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    auto where = origin + ":" + std::to_string(line_no) + ": ";
    auto t = trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#')
      continue;
    if (t.front() == '[') {
      if (t.back() != ']') {
        problems.push_back(where + "unterminated section header");
        continue;
      }
      section = trim(std::string_view{t}.substr(1, t.size() - 2));
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos) {
      problems.push_back(where + "expected 'key = value'");
      continue;
    }
    auto key = trim(std::string_view{t}.substr(0, eq));
    auto value = trim(std::string_view{t}.substr(eq + 1));
    // Strip a trailing comment and surrounding quotes.
    if (auto c = value.find(" ;"); c != std::string::npos)
      value = trim(value.substr(0, c));
    if (auto c = value.find(" #"); c != std::string::npos)
      value = trim(value.substr(0, c));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (section.empty()) {
      problems.push_back(where);
      problems.back() += "'" + key + "' outside of a [section]";
      continue;
    }
    std::string problem;
    auto full_key = section;
    full_key += '.';
    full_key += key;
    if (!apply(s, full_key, value, problem))
      problems.push_back(where + problem);
  }
}

std::string to_ini(const settings& s) {
  std::string out;
  std::string section;
  for (auto& o : describe(s)) {
    auto dot = o.key.find('.');
    auto sec = o.key.substr(0, dot);
    if (sec != section) {
      out += (section.empty() ? "[" : "\n[") + sec + "]\n";
      section = sec;
    }
    out += "; " + o.help + "\n" + o.key.substr(dot + 1) + " = " + o.value
           + "\n";
  }
  return out;
}

} // namespace tether::config

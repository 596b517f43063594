#include "config/settings.hpp"

#include "actors/room/room_rules.hpp"
#include "protocol/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <type_traits>

namespace tether::config {

// Value parsers and printers, found by overload resolution from the table.
namespace detail {

// -- value parsing and printing
// ---------------------------------------------------

std::string trim(std::string_view s) {
  return std::string{protocol::trim(s)};
}

template <class T>
bool parse_unsigned(const std::string& text, T& out, std::string& err) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) {
    err = "expected a non-negative integer, got '" + text + "'";
    return false;
  }
  if (v > std::numeric_limits<T>::max()) {
    err = "must be at most " + std::to_string(std::numeric_limits<T>::max());
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

bool parse_value(const std::string& text, std::string& out, std::string&) {
  out = text;
  return true;
}

bool parse_value(const std::string& text, uint16_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, uint32_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, uint64_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, int64_t& out, std::string& err) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || p != text.data() + text.size()) {
    err = "expected an integer, got '" + text + "'";
    return false;
  }
  return true;
}

bool parse_value(const std::string& text, double& out, std::string& err) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    if (used == text.size())
      return true;
  } catch (const std::exception&) {
    // reported below
  }
  err = "expected a number, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, bool& out, std::string& err) {
  if (text == "true" || text == "on" || text == "yes" || text == "1") {
    out = true;
    return true;
  }
  if (text == "false" || text == "off" || text == "no" || text == "0") {
    out = false;
    return true;
  }
  err = "expected true or false, got '" + text + "'";
  return false;
}

// Durations: a number with an optional unit (ms, s, m, h, d); a bare number
// is in the unit of the setting.
template <class Rep, class Period>
bool parse_value(const std::string& text,
                 std::chrono::duration<Rep, Period>& out, std::string& err) {
  using target = std::chrono::duration<Rep, Period>;
  size_t digits = 0;
  while (digits < text.size()
         && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  uint64_t n = 0;
  auto unit = text.substr(digits);
  if (digits == 0
      || std::from_chars(text.data(), text.data() + digits, n).ec
           != std::errc{}) {
    err = "expected a duration such as 500ms, 20s, 5m, 1h or 30d, got '" + text
          + "'";
    return false;
  }
  using namespace std::chrono;
  int64_t per_unit = 0; // milliseconds
  if (unit.empty())
    per_unit = duration_cast<milliseconds>(target{1}).count();
  else if (unit == "ms")
    per_unit = 1;
  else if (unit == "s")
    per_unit = 1000;
  else if (unit == "m" || unit == "min")
    per_unit = 60 * 1000;
  else if (unit == "h")
    per_unit = 3600 * 1000;
  else if (unit == "d")
    per_unit = 24 * 3600 * 1000;
  if (per_unit == 0) {
    err = "unknown duration unit '" + unit + "' (use ms, s, m, h or d)";
    return false;
  }
  // About 290 million years of milliseconds: anything beyond is a typo.
  if (n > static_cast<uint64_t>(INT64_MAX / per_unit)) {
    err = "'" + text + "' is too long";
    return false;
  }
  milliseconds ms{static_cast<int64_t>(n) * per_unit};
  if (ms.count() % duration_cast<milliseconds>(target{1}).count() != 0) {
    err = "'" + text + "' is finer than this setting's unit";
    return false;
  }
  out = duration_cast<target>(ms);
  return true;
}

bool parse_value(const std::string& text, actors::overflow_policy& out,
                 std::string& err) {
  if (actors::from_string(text, out))
    return true;
  err = "expected evict_lowest or refuse_new, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, protocol::priority& out,
                 std::string& err) {
  if (protocol::from_string(text, out))
    return true;
  err = "expected low, normal, high or critical, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, std::vector<std::string>& out,
                 std::string&) {
  out.clear();
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    if (auto t = trim(item); !t.empty())
      out.push_back(t);
  return true;
}

std::string print(const std::string& x) {
  return x;
}
std::string print(actors::overflow_policy x) {
  return std::string{actors::to_string(x)};
}
std::string print(protocol::priority x) {
  return std::string{protocol::to_string(x)};
}
std::string print(bool x) {
  return x ? "true" : "false";
}
std::string print(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}
std::string print(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}
// In the largest unit that is exact: 7d, 5m, 30s, 250ms.
std::string print(std::chrono::milliseconds x) {
  auto n = x.count();
  static constexpr std::pair<int64_t, const char*> units[] = {
    {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
  for (auto& [per, name] : units)
    if (n != 0 && n % per == 0)
      return std::to_string(n / per) + name;
  return std::to_string(n) + (n == 0 ? "s" : "ms");
}
std::string print(std::chrono::seconds x) {
  return print(std::chrono::milliseconds{x});
}
template <class T>
std::enable_if_t<std::is_integral_v<T>, std::string> print(T x) {
  return std::to_string(x);
}

} // namespace detail

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
      t, "presence.rules",
      "room rules: action:pattern[@role], action join or publish",
      [](settings & s) -> auto& { return s.presence.rules; });
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
    return t;
  }();
  return result;
}

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

} // namespace

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address == "[::1]"
         || address.rfind("127.", 0) == 0;
}

std::string settings::secret_path() const {
  if (!auth.secret_file.empty())
    return auth.secret_file;
  return node.data_dir + "/secret.key";
}

std::string settings::node_id() const {
  if (!cluster.node_id.empty())
    return cluster.node_id;
  return cluster.address + ":" + std::to_string(cluster.port);
}

bool parse_endpoint(const std::string& text, std::string& host, uint16_t& port,
                    std::string& problem) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    problem = "'" + text + "' is not host:port";
    return false;
  }
  auto digits = text.substr(colon + 1);
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                   n);
  if (ec != std::errc{} || end != digits.data() + digits.size() || n == 0
      || n > 65535) {
    problem = "'" + text + "': the port must be 1-65535";
    return false;
  }
  host = text.substr(0, colon);
  port = static_cast<uint16_t>(n);
  return true;
}

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

bool parse_duration(const std::string& text, std::chrono::seconds& out,
                    std::string& problem) {
  return detail::parse_value(text, out, problem);
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

load_result load(const std::vector<std::string>& args) {
  load_result r;
  // Pairs of (key, value) from the command line, applied after the file.
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--help" || a == "-h") {
      r.help = true;
      continue;
    }
    if (a == "--dump-config") {
      r.dump = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      r.problems.push_back("unexpected argument '" + a + "'");
      continue;
    }
    std::string key = a.substr(2);
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      r.problems.push_back("--" + key + " needs a value");
      continue;
    }
    static const std::pair<const char*, const char*> shortcuts[] = {
      {"port", "server.port"},         {"address", "server.address"},
      {"data-dir", "node.data_dir"},   {"data_dir", "node.data_dir"},
      {"log-level", "node.log_level"}, {"log_level", "node.log_level"},
    };
    for (auto& [flag, full] : shortcuts)
      if (key == flag)
        key = full;
    if (key == "config") {
      r.values.config_file = value;
      continue;
    }
    flags.emplace_back(key, value);
  }
  if (!r.values.config_file.empty()) {
    std::ifstream in{r.values.config_file};
    if (!in) {
      r.problems.push_back("cannot read config file '" + r.values.config_file
                           + "'");
    } else {
      std::stringstream buf;
      buf << in.rdbuf();
      apply_ini(r.values, buf.str(), r.values.config_file, r.problems);
    }
  }
  for (auto& [key, value] : flags) {
    std::string problem;
    if (!apply(r.values, key, value, problem))
      r.problems.push_back("--" + problem);
  }
  for (auto& p : validate(r.values))
    r.problems.push_back(p);
  return r;
}

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
  std::vector<std::string> rule_problems;
  actors::parse_room_rules(s.presence.rules, rule_problems);
  for (auto& p_ : rule_problems)
    p.push_back("presence.rules: " + p_);
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

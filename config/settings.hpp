#pragma once

// Every setting of a Tether node, with its default and the reason for it.
// Sources, later ones winning: these defaults, an INI file (--config FILE),
// command-line flags. load() reports every problem at once.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/batcher/batch_policy.hpp"
#include "actors/connection/inbound_guard.hpp"
#include "actors/orchestrator/backoff_policy.hpp"
#include "actors/orchestrator/restart_budget.hpp"
#include "actors/queue/device_queue.hpp"
#include "actors/queue/push_policy.hpp"
#include "actors/room/presence_set.hpp"
#include "actors/room/room_rules.hpp"
#include "protocol/codec.hpp"

namespace tether::config {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct server_settings {
  std::string address = "0.0.0.0";  // all interfaces; dev.ini uses loopback
  uint16_t port = 8080;             // the customary alternative HTTP port
  std::string ws_path = "/ws";      // one path; /healthz and /metrics beside it
  std::string echo_path;            // TESTS ONLY: an unauthenticated echo
                                    // route for test/conformance/ (empty: off)
  uint32_t max_connections = 20000; // below the default fd limit (ulimit -n)
  // Handshakes admitted per second, and at once (0: no limit). Beyond
  // them: 503 with a Retry-After spread at this rate (a reconnect storm
  // drains at the rate instead of timing out in the accept backlog). Above
  // what a small node sustains (about 6,000 new devices/s on 2 cores, 13,000
  // known), so benchmarks are not paced: set it to what yours sustains.
  uint32_t handshake_rate = 10000;
  uint32_t handshake_burst = 20000;
  // On SIGTERM or POST /api/v1/drain: sessions are closed with 1012 within
  // this window, at most handshake_rate per second, and the node stops.
  milliseconds drain_window{30000};
  uint32_t io_threads = 0; // event loops (sockets and, with
                           // caf.scheduler_policy loops, the actors serving
                           // them); 0: one per CPU the process may run on
                           // with loops, else one
  std::vector<std::string> allowed_origins; // empty: no check (native apps)
  bool permessage_deflate = true;           // most browsers and stacks offer it
  uint32_t deflate_level = 6; // zlib's default speed/ratio balance
  // Measured (README, "permessage-deflate"): a 1 KiB window compresses
  // 500-byte envelopes as well as 32 KiB does (ratio 0.243 vs 0.254) and
  // an idle session holds 36 KB instead of 108 KB.
  uint32_t deflate_window_bits = 10;
  uint32_t deflate_mem_level = 2;
  bool deflate_no_context_takeover = false; // saves no memory in Beast and
                                            // loses the ratio (0.59)
  // TLS (wss): PEM files; empty: plain only (e.g. behind a TLS proxy).
  std::string tls_cert;
  std::string tls_key;
  uint16_t tls_port = 0; // 0: TLS and plain on server.port (first bytes
                         // decide); else TLS only there, plain on port
  bool tls_only = false; // plain allowed beside TLS by default (health
                         // checks, dev clients); true: server.port is TLS
                         // only, no token ever crosses in clear text
};

struct limits_settings {
  uint64_t max_message_bytes = 256 * 1024; // Beast's 16 MiB would let one
                                           // frame cost 16 MiB per socket
  protocol::limits protocol;               // see protocol/codec.hpp
  actors::inbound_guard_params guard;      // see inbound_guard.hpp
};

struct heartbeat_settings {
  milliseconds ping_interval{20000};     // under mobile NAT timeouts (~30 s)
  milliseconds pong_timeout{10000};      // a slow 3G round trip is < 2 s
  milliseconds handshake_timeout{10000}; // slowloris: upgrade or go
  milliseconds close_timeout{2000}; // a live peer answers a close in one RTT
};

struct queue_settings {
  actors::queue_params queue;         // see device_queue.hpp
  milliseconds resume_window{300000}; // a phone switching networks is back
                                      // within minutes
  milliseconds release_after{10000};  // idle devices are most devices; a
                                      // chat's next message comes sooner
  milliseconds dedup_window{600000};  // a sender retries within minutes
  uint32_t dedup_capacity = 4096;     // ids per sender device (~64 B each):
                                      // 10 min of a chatty device at 7 msg/s
};

struct directory_settings {
  uint32_t shards = 8; // routing work spread over CAF threads; the unit the
                       // cluster places on nodes
  milliseconds idle_user_ttl{600000}; // as long as queue.dedup_window, so a
                                      // resend stays a duplicate
  uint32_t max_users = 200000; // per shard: bounds memory under user churn
};

struct batch_settings {
  actors::batch_params batch;         // see batch_policy.hpp
  uint64_t compress_threshold = 1024; // smaller frames barely shrink
  uint32_t compress_level = 6;        // zlib's speed/ratio balance
};

struct presence_settings {
  actors::presence_params presence; // see presence_set.hpp
  milliseconds diff_interval{250};  // at most 4 diffs/s per room
  uint32_t max_page_size = 1000;    // bounds one snapshot message
  uint32_t max_rooms = 256;         // rooms one device is in at once: an app's
                                    // channels fit, a bot cannot grow a shard's
                                    // and the rooms' memory without bound
  /// Room rules (room_rules.hpp), read once at load: any device may join
  /// and publish to non-private rooms unless the operator narrows it.
  std::vector<actors::room_rule> rules = actors::default_room_rules();
};

struct push_settings {
  actors::push_params push; // see push_policy.hpp
  /// Where pushes for provider `webhook` go (POST, signed); empty: no
  /// webhook.
  std::string webhook_url;
  /// A file holding the HMAC-SHA256 key of the webhook's
  /// X-Tether-Signature (at least 16 bytes; a trailing newline is not part
  /// of it); required with webhook_url. A file, like auth.secret_file: a
  /// key given as a flag shows in `ps` and in --dump-config.
  std::string webhook_secret_file;
  /// APNs with token authentication: the .p8 key file Apple gave, its key
  /// id and the team id (all three, or none: no APNs), and the topic
  /// (bundle id) of addresses registered without one.
  std::string apns_key_file;
  std::string apns_key_id;
  std::string apns_team_id;
  std::string apns_topic;
  std::string apns_url = "https://api.push.apple.com";
  std::string apns_sandbox_url = "https://api.sandbox.push.apple.com";
  /// FCM HTTP v1: the service account's JSON key file (empty: no FCM).
  std::string fcm_service_account_file;
  std::string fcm_url = "https://fcm.googleapis.com";
  /// Where the assertion is exchanged for an access token; empty: the
  /// service account's token_uri (Google's).
  std::string fcm_token_url;
  /// Bound on one request to a provider, connect included.
  milliseconds timeout{10000};
  /// Retries of a push a provider answered 429 or 5xx (or did not answer),
  /// with backoff from 1 s doubling, or its Retry-After.
  uint32_t max_retries = 5;
  /// Extra CA certificates (PEM) the providers' TLS is checked against (a
  /// proxy's); empty: the system's.
  std::string ca_file;
};

struct store_settings {
  // A week: long enough to inspect what failed, bounded so that a device
  // that keeps rejecting messages cannot fill the disk.
  milliseconds dead_letter_retention{7 * 24 * 3600 * 1000LL};
};

struct auth_settings {
  std::string secret_file; // empty: <data_dir>/secret.key, made on first run
  seconds leeway{30};      // tolerated clock skew for exp/nbf
  /// Keys of the server API (/api/v1), one per line ("name key" or "key");
  /// empty: the API is off.
  std::string api_keys_file;
};

struct node_settings {
  std::string data_dir = "tether-data"; // relative to the working directory
  std::string log_level = "info";       // one line per connection event
  milliseconds request_timeout{5000};   // a join never waits forever
  milliseconds stop_timeout{5000};      // graceful drain before kill
};

struct caf_settings {
  // loops: the actors of a connection on the event loop of its socket
  // (runtime/io_scheduler.hpp): fewest hops and context switches. sharing,
  // stealing: CAF's worker threads (caf.max_threads) beside one loop; kept
  // while fan-out under load still costs less there (README, Scheduling).
  std::string scheduler_policy = "loops";
  uint32_t max_threads = 0; // 0: one per CPU this process may run on (its
                            // affinity): more only add context switches
};

struct cluster_settings {
  std::string node_id; // empty: cluster.address:cluster.port, unique as
                       // long as the addresses are
  std::string address = "127.0.0.1"; // where the middleman listens and what
                                     // peers dial: a host's own address
  uint16_t port = 0; // 0: a single node, no middleman (as before clusters)
  std::vector<std::string> seeds; // host:port of other nodes; one reachable
                                  // seed is enough, the rest is learned
  // A peer that sends nothing for connection_timeout is down; heartbeats
  // keep a quiet but live link from looking so (one tiny BASP message per
  // second per peer). Detection: at once for a closed socket (process
  // death), within connection_timeout + heartbeat_interval for a hung host
  // or a cut link.
  milliseconds heartbeat_interval{1000};
  milliseconds connection_timeout{5000}; // rides out a few lost heartbeats
                                         // and a busy peer's stall
  // Mutual TLS between nodes (SPEC §14.1): this node's certificate and key
  // (tether cert node) and the cluster's CA; all three or none. Required
  // unless cluster.address is loopback or cluster.insecure is set.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool insecure = false; // plain BASP off loopback: anyone who reaches the
                         // port is a peer; for a network you trust only
  milliseconds handshake_timeout{5000}; // a connection's TLS handshake;
                                        // a silent one is closed then
  uint32_t max_pending_handshakes = 64; // connections in their handshake
                                        // at once: bounds what strangers
                                        // cost before they are known
  // Copies of each device queue on different nodes (SPEC §14.3): 1 keeps
  // a queue on its node's disk only; 2 or 3 ack a durable message once a
  // majority of the copies is on disk, and a follower takes a queue over
  // when its node is gone. The nodes of a cluster are configured alike.
  uint32_t replication_factor = 1;
};

struct supervision_settings {
  actors::backoff_params backoff;       // see backoff_policy.hpp
  actors::restart_budget_params budget; // see restart_budget.hpp
};

struct settings {
  server_settings server;
  limits_settings limits;
  heartbeat_settings heartbeat;
  queue_settings queue;
  directory_settings directory;
  batch_settings batch;
  presence_settings presence;
  push_settings push;
  store_settings store;
  auth_settings auth;
  node_settings node;
  supervision_settings supervision;
  caf_settings caf;
  cluster_settings cluster;
  /// The INI file the settings came from, if any.
  std::string config_file;

  /// The secret file in effect (auth.secret_file or its default).
  std::string secret_path() const;

  /// This node's cluster name (cluster.node_id or its default).
  std::string node_id() const;
};

/// One settable key, for --help and --dump-config.
struct option_info {
  std::string key;
  std::string help;
  std::string value;
};

/// Lists every key with its help text and current value.
std::vector<option_info> describe(const settings& s);

struct load_result {
  settings values;
  /// Every problem found (parse errors and failed rules), one line each.
  std::vector<std::string> problems;
  bool help = false;
  bool dump = false;
};

/// Parses `args` (without the program name) on top of the defaults; reads
/// the INI file named by --config first, then applies the other flags.
load_result load(const std::vector<std::string>& args);

/// Applies the INI text to `s`; `origin` prefixes problems (file name).
void apply_ini(settings& s, const std::string& text, const std::string& origin,
               std::vector<std::string>& problems);

/// Applies one `section.key` = `value`.
bool apply(settings& s, const std::string& key, const std::string& value,
           std::string& problem);

/// Reads a duration as settings do (500ms, 20s, 5m, 1h, 30d; a bare number
/// is seconds), e.g. for a CLI flag; `problem` says what is wrong.
bool parse_duration(const std::string& text, std::chrono::seconds& out,
                    std::string& problem);

/// Reads "host:port" (port 1-65535); `problem` says what is wrong.
bool parse_endpoint(const std::string& text, std::string& host, uint16_t& port,
                    std::string& problem);

/// Whether a cluster address is this host only (127.0.0.0/8, ::1,
/// localhost): a cluster there may run without TLS.
bool is_loopback(const std::string& address);

/// Checks the rules between settings; returns every violated rule.
std::vector<std::string> validate(const settings& s);

/// Renders the settings as an INI file (what --dump-config prints).
std::string to_ini(const settings& s);

} // namespace tether::config

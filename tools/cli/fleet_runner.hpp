#pragma once

// What `tether devices` and the client benchmarks share: the server they
// drive (a URL, or a tetherd they spawn and pin to a CPU), tokens for the
// simulated devices, and a running fleet of device actors with a live
// progress line.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/device/fleet_actor.hpp"
#include "runtime/process.hpp"
#include "tools/cli/commands.hpp"

namespace tether::cli {

/// The server under test.
struct server_target {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/ws";
  /// wss (--url wss://..., or --spawn --tls): verified against `ca_file`
  /// (--ca; empty: the system's store) unless `insecure` (--insecure).
  bool tls = false;
  std::string ca_file;
  bool insecure = false;
  /// The HMAC secret the devices' tokens are signed with.
  std::string secret;
  /// The server's pid for /proc figures (0: unknown, e.g. a remote URL).
  int pid = 0;
  /// Set when this process started the server itself (--spawn).
  std::unique_ptr<runtime::child_process> child;
  /// --spawn --nodes N: the other nodes of the cluster it started (the
  /// first is `child`), and every node's pid.
  std::vector<std::unique_ptr<runtime::child_process>> more_nodes;
  std::vector<int> node_pids;
  std::string spawned_dir;
  /// The spawned tetherd that restart() restarts (a single one, or node 0
  /// of a cluster): its binary, extra arguments and data dir.
  std::string spawned_path;
  std::vector<std::string> spawned_args;
  std::string restart_dir;
  /// The CPU the spawned server is pinned to (-1: not pinned).
  int cpu = -1;
  /// --url A --url B ... --spread (a cluster): every node's host and port;
  /// devices are spread over them (the first is the target above).
  std::vector<std::pair<std::string, uint16_t>> spread;
  mutable size_t spread_next = 0;
  /// With --spawn --baseline: a tether-baseline beside the tetherd, on the
  /// same CPU, for the same workload.
  std::unique_ptr<server_target> baseline;

  server_target() = default;
  server_target(server_target&&) = default;
  ~server_target();

  /// Stops a spawned server (SIGTERM, bounded wait) and removes its data
  /// dir; a no-op for a server this process did not start.
  void stop();

  /// Stops the spawned tetherd (a single one, or node 0 of a cluster) with
  /// SIGTERM (it drains), waits for it to exit and starts it again on the
  /// same data dir and ports; false with `problem` if that cannot be done.
  bool restart(std::string& problem);

  /// The pids of the server's processes (every node of a spawned
  /// cluster), for /proc figures; empty if unknown.
  std::vector<int> pids() const;
};

/// The flags of open_target().
#define TETHER_TARGET_FLAGS                                                    \
  "url", "data-dir", "secret-file", "tetherd", "pid", "cpu-server",            \
    "cpu-client", "server-config", "tether-baseline", "ca", "nodes"

/// The switches of open_target().
#define TETHER_TARGET_SWITCHES                                                 \
  "spawn", "insecure", "tls", "spread", "cluster-tls"

/// Connects the flags to a server: --url ws://HOST:PORT/PATH with
/// --data-dir DIR or --secret-file F (the server's token secret), and
/// optionally --pid N; or --spawn [--tetherd PATH] [--server-config INI] to
/// start a tetherd (port 0, a temporary data dir). With --spawn on a
/// machine with two CPUs or more, tetherd runs on --cpu-server (0) and this
/// process on --cpu-client (1), as `taskset -c` would. With --spawn and
/// --baseline, also starts tools/baseline's server (--tether-baseline PATH,
/// default: beside this binary) on the same CPU, into `out.baseline`.
/// Several --url need --spread: every URL is a node of one cluster, into
/// `out.spread`. --spawn --nodes N starts a cluster of N tetherd on
/// 127.0.0.1 (all on --cpu-server), one seed, one token secret, with mutual
/// TLS between them if --cluster-tls (a CA and node certificates made for
/// the run), and spreads the devices over them (`out.spread`).
/// `server_extra`: more flags for a spawned tetherd (every node of a
/// cluster).
bool open_target(const arg_map& a, server_target& out, std::string& problem,
                 const std::vector<std::string>& server_extra = {});

/// Reads ws://HOST[:PORT][/PATH] or wss://... into `t`.
bool parse_url(const std::string& url, server_target& t, std::string& problem);

/// Reads --ca FILE and --insecure into a wss target `t` and checks that the
/// CA can be loaded; false with `problem` set otherwise.
bool read_tls_flags(const arg_map& a, server_target& t, std::string& problem);

/// The link options of the target (host, port, path, TLS) for simulated
/// devices.
actors::link_options target_link(const server_target& t);

/// A token for a simulated device, valid for a day.
std::string mint_token(const server_target& t, const actors::device_spec& d);

/// One fleet of device actors on its own actor system and client pool.
class fleet_run {
public:
  explicit fleet_run(const server_target& target);
  ~fleet_run();

  /// Link options pointing at the target.
  actors::link_options link() const;

  /// Starts the fleet (plan.connect and plan.counters are filled in).
  void start(std::shared_ptr<actors::fleet_plan> plan);

  /// Drops every device's link at once.
  void drop_all();

  /// The run ends: devices waiting out a backoff reconnect now (a server's
  /// Retry-After still holds).
  void drain();

  /// Stops every device (bounded); the memories are then safe to read.
  bool stop();

  /// After setting `quiet`: returns once every device finished the sends it
  /// had begun, so that counts compared afterwards are complete.
  void quiesce();

  /// Polls `done` every 100 ms until it holds or `limit` passes, printing
  /// the progress line on a terminal. Returns whether `done` held.
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit,
            const std::string& phase);

  actors::fleet_counters& counters() { return *plan_->counters; }
  actors::fleet_plan& plan() { return *plan_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::shared_ptr<actors::fleet_plan> plan_;
};

/// Seconds of `d`.
inline double secs(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Parses a number flag with a default; sets `problem` when malformed.
double number_flag(const arg_map& a, const std::string& key, double fallback,
                   std::string& problem);

} // namespace tether::cli

#pragma once

// What the benchmarks against a server (`tether bench echo|fanout|presence|
// connect|idle`, one file each) share: the measurement window (CPU, memory
// and context switches from /proc), latency columns, the simulated device
// of a benchmark, and run_compared(), which runs one benchmark against
// tetherd and, with --baseline, against the bare reference server, and
// prints the figures side by side.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/device/latency_histogram.hpp"
#include "tools/cli/bench_common.hpp"
#include "tools/cli/fleet_runner.hpp"

namespace tether::cli {

/// CPU and memory of the server and of this process over a window, and the
/// context switches of every server thread.
struct usage_window {
  runtime::process_usage server0, server1, client0, client1;
  uint64_t switches0 = 0, switches1 = 0;
  /// The server's processes (every node of a spawned cluster); summed.
  std::vector<int> pids;
  /// pids.front(), or 0 when the server is not known.
  int pid = 0;
  std::chrono::steady_clock::time_point t0, t1;

  void begin(int server_pid);
  void begin(std::vector<int> server_pids);
  void end();
  double seconds() const { return secs(t1 - t0); }
  double server_cpu() const {
    return server1.cpu_seconds - server0.cpu_seconds;
  }
  double client_cpu() const {
    return client1.cpu_seconds - client0.cpu_seconds;
  }
  double server_switches() const {
    return static_cast<double>(switches1 - std::min(switches1, switches0));
  }

  /// Adds client_cpu_pct and, if the server's pid is known, server_cpu_pct.
  void add_cpu_pct(result_row& r) const;

  /// Adds server_cpu_us_per_<unit> (`precision` decimals) and
  /// server_ctxsw_per_<unit> for `n` events of the window, if the server's
  /// pid is known.
  void add_server_costs(result_row& r, const std::string& unit, uint64_t n,
                        int precision) const;
};

/// Adds the p50/p90/p99/p99.9/max columns (µs) of `h`.
void add_latency(result_row& r, const actors::latency_histogram& h);

/// The columns a delivery benchmark ends with: latency, what never arrived,
/// both sides' CPU and the server's cost per `unit` (`n` of them in `w`).
void add_outcome(result_row& r, const actors::latency_histogram& h,
                 uint64_t missing, const usage_window& w,
                 const std::string& unit, uint64_t n, int precision);

/// Device "d0" of `user` (a mobile) with a token for `t`; device `i` of
/// `n` connects from source_address(t, i, n).
actors::device_spec bench_device(const server_target& t, std::string user,
                                 protocol::codec c, size_t i = 0, size_t n = 0);

/// Connections per local address before a run spreads over several: under
/// the ~28,000 ephemeral ports of one (source, destination) pair.
constexpr size_t connections_per_source = 20000;

/// The local address connection `i` of `n` comes from: with more than
/// connections_per_source to a loopback server, 127.0.0.1, 127.0.0.2, ...
/// in turn (one per connections_per_source); else "" (the system's choice).
std::string source_address(const server_target& t, size_t i, size_t n);

/// Waits until all `n` devices are welcomed (and joined, if `rooms`).
bool wait_ready(fleet_run& run, size_t n, bool rooms);

/// A number of seconds from a flag, as milliseconds.
std::chrono::milliseconds seconds_flag(const arg_map& a, const std::string& key,
                                       double fallback, std::string& problem);

/// --codec json|msgpack.
protocol::codec codec_flag(const arg_map& a, std::string& problem);

/// One benchmark against one server: appends its rows; false if it could
/// not finish (what it has is still printed).
using bench_body
  = std::function<bool(const server_target&, std::vector<result_row>&)>;

/// Runs `body` against `t` and prints the rows under `title`. With
/// t.baseline (--baseline), stops the tetherd once its run is done, runs
/// `body` again against the baseline (alone on the same CPU) and prints
/// each figure beside the baseline's with the ratio; --json FILE gets both
/// and the ratios. Returns the exit status (1 if a run did not finish).
int run_compared(const arg_map& a, server_target& t, const std::string& title,
                 const bench_body& body);

int bench_echo(const arg_map& a, server_target& t);
int bench_fanout(const arg_map& a, server_target& t);
int bench_presence(const arg_map& a, server_target& t);
int bench_connect(const arg_map& a, server_target& t);
int bench_idle(const arg_map& a, server_target& t);

} // namespace tether::cli

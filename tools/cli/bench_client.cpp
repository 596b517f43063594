// `tether bench echo|fanout|presence|connect|idle`: figures of a running
// server as its clients see them, measured with simulated devices (one
// device actor per connection) and, for a local server, the server's CPU
// time, context switches and memory from /proc. They print a table and,
// with --json FILE, write the figures; they assert nothing. This file
// holds what they share and the dispatch; each lives in bench_<name>.cpp.

#include "tools/cli/bench_client.hpp"

#include <iostream>
#include <sstream>

#include <unistd.h>

#include "tools/cli/commands.hpp"

namespace tether::cli {

using std::chrono::milliseconds;

namespace {

// CPU, RSS and context switches of `pids`, summed.
void read_all(const std::vector<int>& pids, runtime::process_usage& usage,
              uint64_t& switches) {
  usage = {};
  switches = 0;
  for (auto p : pids) {
    runtime::process_usage u;
    uint64_t s = 0;
    runtime::read_usage(p, u);
    runtime::read_context_switches(p, s);
    usage.cpu_seconds += u.cpu_seconds;
    usage.rss_bytes += u.rss_bytes;
    switches += s;
  }
}

} // namespace

void usage_window::begin(int server_pid) {
  begin(server_pid > 0 ? std::vector<int>{server_pid} : std::vector<int>{});
}

void usage_window::begin(std::vector<int> server_pids) {
  pids = std::move(server_pids);
  pid = pids.empty() ? 0 : pids.front();
  read_all(pids, server0, switches0);
  runtime::read_usage(::getpid(), client0);
  t0 = std::chrono::steady_clock::now();
}

void usage_window::end() {
  t1 = std::chrono::steady_clock::now();
  read_all(pids, server1, switches1);
  runtime::read_usage(::getpid(), client1);
}

void usage_window::add_cpu_pct(result_row& r) const {
  r.num("client_cpu_pct", 100 * client_cpu() / seconds(), 1);
  if (pid > 0)
    r.num("server_cpu_pct", 100 * server_cpu() / seconds(), 1);
}

void usage_window::add_server_costs(result_row& r, const std::string& unit,
                                    uint64_t n, int precision) const {
  if (pid <= 0)
    return;
  auto events = std::max<double>(1, static_cast<double>(n));
  r.num("server_cpu_us_per_" + unit, 1e6 * server_cpu() / events, precision)
    .num("server_ctxsw_per_" + unit, server_switches() / events, 3);
}

void add_outcome(result_row& r, const actors::latency_histogram& h,
                 uint64_t missing, const usage_window& w,
                 const std::string& unit, uint64_t n, int precision) {
  add_latency(r, h);
  r.num("missing", static_cast<double>(missing), 0);
  w.add_cpu_pct(r);
  w.add_server_costs(r, unit, n, precision);
}

void add_latency(result_row& r, const actors::latency_histogram& h) {
  r.num("p50_us", static_cast<double>(h.percentile(50)), 0)
    .num("p90_us", static_cast<double>(h.percentile(90)), 0)
    .num("p99_us", static_cast<double>(h.percentile(99)), 0)
    .num("p999_us", static_cast<double>(h.percentile(99.9)), 0)
    .num("max_us", static_cast<double>(h.max()), 0);
}

std::string source_address(const server_target& t, size_t i, size_t n) {
  if (n <= connections_per_source || t.host.rfind("127.", 0) != 0)
    return {};
  auto sources = (n + connections_per_source - 1) / connections_per_source;
  return "127.0.0." + std::to_string(1 + i % sources);
}

actors::device_spec bench_device(const server_target& t, std::string user,
                                 protocol::codec c, size_t i, size_t n) {
  actors::device_spec s;
  s.source = source_address(t, i, n);
  s.user_id = std::move(user);
  s.device_id = "d0";
  s.type = protocol::device_type::mobile;
  s.codec = c;
  s.token = mint_token(t, s);
  if (!t.spread.empty()) {
    // --spread: the devices of a run go round the nodes in turn.
    auto& node = t.spread[t.spread_next++ % t.spread.size()];
    s.host = node.first;
    s.port = node.second;
  }
  return s;
}

bool wait_ready(fleet_run& run, size_t n, bool rooms) {
  auto& c = run.counters();
  return run.wait(
    [&] {
      return static_cast<size_t>(c.connected.load()) == n
             && c.welcomes.load() >= n && (!rooms || c.joined.load() >= n);
    },
    std::chrono::seconds{60} + milliseconds{static_cast<int64_t>(n)},
    "connect");
}

milliseconds seconds_flag(const arg_map& a, const std::string& key,
                          double fallback, std::string& problem) {
  return milliseconds{
    static_cast<int64_t>(1000 * number_flag(a, key, fallback, problem))};
}

protocol::codec codec_flag(const arg_map& a, std::string& problem) {
  auto c = a.get("codec", "json");
  if (c != "json" && c != "msgpack")
    problem = "--codec must be json or msgpack";
  return c == "msgpack" ? protocol::codec::msgpack : protocol::codec::json;
}

namespace {

// --replication 1,2,3: the factors to run, in order (empty with `problem`
// set if the list is not one of 1-5).
std::vector<std::string> replication_factors(const arg_map& a,
                                             std::string& problem) {
  std::vector<std::string> out;
  std::stringstream list{a.get("replication")};
  for (std::string f; std::getline(list, f, ',');) {
    if (f.size() != 1 || f[0] < '1' || f[0] > '5') {
      problem = "--replication takes factors 1-5, comma-separated";
      return {};
    }
    out.push_back(f);
  }
  if (out.empty())
    problem = "--replication takes factors 1-5, comma-separated";
  return out;
}

} // namespace

int run_compared(const arg_map& a, server_target& t, const std::string& title,
                 const bench_body& body) {
  std::vector<result_row> rows;
  if (a.has("replication")) {
    // One cluster per factor, one after the other, the same workload; the
    // first is `t` (opened with the first factor).
    std::string problem;
    auto factors = replication_factors(a, problem);
    bool ok = true;
    for (size_t i = 0; i < factors.size(); ++i) {
      server_target next;
      if (i > 0) {
        t.stop();
        if (!open_target(a, next, problem,
                         {"--cluster.replication_factor", factors[i]})) {
          std::cerr << "tether bench: " << problem << "\n";
          return 1;
        }
      }
      std::cerr << "tether bench: replication factor " << factors[i] << "\n";
      std::vector<result_row> part;
      ok = body(i > 0 ? next : t, part) && ok;
      for (auto& r : part) {
        result_row tagged;
        tagged.num("replication", std::stod(factors[i]), 0);
        tagged.fields.insert(tagged.fields.end(), r.fields.begin(),
                             r.fields.end());
        tagged.values.insert(tagged.values.end(), r.values.begin(),
                             r.values.end());
        rows.push_back(std::move(tagged));
      }
    }
    report(title, rows, a.get("json"));
    return ok ? 0 : 1;
  }
  auto ok = body(t, rows);
  if (!t.baseline) {
    report(title, rows, a.get("json"));
    return ok ? 0 : 1;
  }
  // Tether first, then the baseline with CPU 0 to itself: the tetherd (idle
  // by now, its devices gone) is stopped, the baseline was idle so far.
  t.stop();
  std::cerr << "tether bench: the same against tether-baseline\n";
  std::vector<result_row> base;
  auto base_ok = body(*t.baseline, base);
  report_compared(title, rows, base, a.get("json"));
  return ok && base_ok ? 0 : 1;
}

int bench_client_command(const std::string& what,
                         const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args,
                  {TETHER_TARGET_FLAGS, "connections", "rate", "duration",
                   "warmup", "payload", "codec", "subscribers", "publishers",
                   "concurrency", "rounds", "settle", "start-rate", "churners",
                   "deliveries", "json", "replication"},
                  {TETHER_TARGET_SWITCHES, "durable", "baseline", "deflate",
                   "sweep"},
                  a, problem)) {
    std::cerr << "tether bench " << what << ": " << problem << "\n";
    return 2;
  }
  if (a.has("baseline") && !a.has("spawn")) {
    std::cerr << "tether bench " << what
              << ": --baseline needs --spawn (both servers run here, on the "
                 "same CPU)\n";
    return 2;
  }
  if (a.has("baseline") && what == "presence") {
    std::cerr << "tether bench presence: the baseline has no presence\n";
    return 2;
  }
  std::vector<std::string> first_factor;
  if (a.has("replication")) {
    if (what != "echo" || !a.has("nodes") || a.has("baseline")) {
      std::cerr << "tether bench " << what
                << ": --replication is for bench echo with --spawn --nodes N "
                   "(no --baseline)\n";
      return 2;
    }
    auto factors = replication_factors(a, problem);
    if (factors.empty()) {
      std::cerr << "tether bench " << what << ": " << problem << "\n";
      return 2;
    }
    first_factor = {"--cluster.replication_factor", factors.front()};
  }
  server_target t;
  if (!open_target(a, t, problem, first_factor)) {
    std::cerr << "tether bench " << what << ": " << problem << "\n";
    return 2;
  }
  if (what == "echo")
    return bench_echo(a, t);
  if (what == "fanout")
    return bench_fanout(a, t);
  if (what == "connect")
    return bench_connect(a, t);
  if (what == "presence")
    return bench_presence(a, t);
  return bench_idle(a, t);
}

} // namespace tether::cli

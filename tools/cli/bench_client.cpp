// `tether bench echo|fanout|connect|idle`: figures of a running server as
// its clients see them, measured with simulated devices (one device actor
// per connection) and, for a local server, the server's CPU time and memory
// from /proc. They print a table and, with --json FILE, write the figures;
// they assert nothing.

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "actors/device/latency_histogram.hpp"
#include "protocol/client.hpp"
#include "runtime/ws_client_pool.hpp"
#include "tools/cli/bench_common.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/fleet_runner.hpp"

namespace tether::cli {

namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

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

/// CPU and memory of the server and of this process over a window.
struct usage_window {
  runtime::process_usage server0, server1, client0, client1;
  int pid = 0;
  steady::time_point t0, t1;

  void begin(int server_pid) {
    pid = server_pid;
    if (pid > 0)
      runtime::read_usage(pid, server0);
    runtime::read_usage(::getpid(), client0);
    t0 = steady::now();
  }
  void end() {
    t1 = steady::now();
    if (pid > 0)
      runtime::read_usage(pid, server1);
    runtime::read_usage(::getpid(), client1);
  }
  double seconds() const { return secs(t1 - t0); }
  double server_cpu() const { return server1.cpu_seconds - server0.cpu_seconds; }
  double client_cpu() const { return client1.cpu_seconds - client0.cpu_seconds; }
};

void add_latency(result_row& r, const actors::latency_histogram& h) {
  r.num("p50_us", static_cast<double>(h.percentile(50)), 0)
    .num("p90_us", static_cast<double>(h.percentile(90)), 0)
    .num("p99_us", static_cast<double>(h.percentile(99)), 0)
    .num("p999_us", static_cast<double>(h.percentile(99.9)), 0)
    .num("max_us", static_cast<double>(h.max()), 0);
}

actors::device_spec bench_device(const server_target& t, std::string user,
                                 protocol::codec c) {
  actors::device_spec s;
  s.user_id = std::move(user);
  s.device_id = "d0";
  s.type = protocol::device_type::mobile;
  s.codec = c;
  s.token = mint_token(t, s);
  return s;
}

/// Waits until all `n` devices are welcomed (and joined, if `rooms`).
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

// -- echo -------------------------------------------------------------------------

int bench_echo(const arg_map& a, server_target& t) {
  std::string problem;
  auto conns = static_cast<size_t>(number_flag(a, "connections", 100, problem));
  auto rate = number_flag(a, "rate", 10000, problem);
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || conns == 0 || rate <= 0) {
    std::cerr << "tether bench echo: "
              << (problem.empty() ? "--connections and --rate must be > 0"
                                  : problem)
              << "\n";
    return 2;
  }
  fleet_run run{t};
  auto plan = std::make_shared<actors::fleet_plan>();
  auto& p = plan->params;
  p.link = run.link();
  p.echo = true;
  p.requires_ack = a.has("durable");
  p.mixed_priorities = false;
  p.payload_bytes = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  p.send_interval = std::chrono::microseconds{
    static_cast<int64_t>(1e6 * static_cast<double>(conns) / rate)};
  p.go = std::make_shared<std::atomic<bool>>(false);
  p.quiet = std::make_shared<std::atomic<bool>>(false);
  for (size_t i = 0; i < conns; ++i)
    plan->devices.push_back(bench_device(t, "echo-" + std::to_string(i), codec));
  plan->start_rate = 2000;
  run.start(plan);
  if (!wait_ready(run, conns, false)) {
    std::cerr << "tether bench echo: not every connection came up\n";
    return 1;
  }
  auto& c = run.counters();
  p.go->store(true);
  run.wait([] { return false; }, warmup, "warmup");
  c.latency.reset();
  auto sent0 = c.sent.load();
  auto recv0 = c.received.load();
  usage_window w;
  w.begin(t.pid);
  run.wait([] { return false; }, duration, "echo");
  w.end();
  auto sent = c.sent.load() - sent0;
  auto received = c.received.load() - recv0;
  p.quiet->store(true);
  run.wait([&] { return c.received.load() >= c.sent.load(); },
           std::chrono::seconds{10}, "drain");
  auto missing = c.sent.load() - std::min(c.sent.load(), c.received.load());
  run.stop();
  result_row r;
  r.num("connections", static_cast<double>(conns), 0)
    .num("target_msgs_per_s", rate, 0)
    .num("sent_per_s", static_cast<double>(sent) / w.seconds(), 0)
    .num("echoed_per_s", static_cast<double>(received) / w.seconds(), 0);
  add_latency(r, c.latency);
  r.num("missing", static_cast<double>(missing), 0)
    .num("client_cpu_pct", 100 * w.client_cpu() / w.seconds(), 1);
  if (t.pid > 0)
    r.num("server_cpu_pct", 100 * w.server_cpu() / w.seconds(), 1)
      .num("server_cpu_us_per_msg",
           1e6 * w.server_cpu() / std::max<double>(1, received), 2);
  report(std::string{"echo: each device messages itself through the full "
                     "actor path ("}
           + (p.requires_ack ? "durable" : "in-memory") + " queue, "
           + protocol::to_string(codec).data()
           + "); latency from the intended send time (CO-corrected)",
         {r}, a.get("json"));
  return 0;
}

// -- fanout -----------------------------------------------------------------------

int bench_fanout(const arg_map& a, server_target& t) {
  std::string problem;
  auto subs = static_cast<size_t>(number_flag(a, "subscribers", 1000, problem));
  auto pubs = static_cast<size_t>(number_flag(a, "publishers", 1, problem));
  auto rate = number_flag(a, "rate", 100, problem);
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || subs == 0 || pubs == 0 || rate <= 0) {
    std::cerr << "tether bench fanout: "
              << (problem.empty() ? "counts and --rate must be > 0" : problem)
              << "\n";
    return 2;
  }
  fleet_run run{t};
  auto plan = std::make_shared<actors::fleet_plan>();
  auto members = std::make_shared<std::vector<std::string>>();
  for (size_t i = 0; i < subs; ++i)
    plan->devices.push_back(bench_device(t, "sub-" + std::to_string(i), codec));
  for (size_t i = 0; i < pubs; ++i)
    plan->devices.push_back(bench_device(t, "pub-" + std::to_string(i), codec));
  for (auto& d : plan->devices) {
    d.room = "fanout";
    d.room_members = members;
    members->push_back(d.key());
  }
  auto& p = plan->params;
  p.link = run.link();
  p.requires_ack = a.has("durable");
  p.mixed_priorities = false;
  p.payload_bytes = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  p.go = std::make_shared<std::atomic<bool>>(false);
  p.quiet = std::make_shared<std::atomic<bool>>(false);
  plan->start_rate = 2000;
  // Subscribers do not send; publishers send to the room only. The params
  // are per fleet, so publishers get theirs through a second fleet below.
  auto pub_plan = std::make_shared<actors::fleet_plan>();
  pub_plan->devices.assign(plan->devices.end() - static_cast<long>(pubs),
                           plan->devices.end());
  plan->devices.resize(subs);
  pub_plan->params = p;
  pub_plan->params.room_share = 1.0;
  pub_plan->params.send_interval = std::chrono::microseconds{
    static_cast<int64_t>(1e6 * static_cast<double>(pubs) / rate)};
  run.start(plan);
  if (!wait_ready(run, subs, true)) {
    std::cerr << "tether bench fanout: not every subscriber came up\n";
    return 1;
  }
  fleet_run pub_run{t};
  pub_plan->params.link = pub_run.link();
  pub_run.start(pub_plan);
  if (!wait_ready(pub_run, pubs, true)) {
    std::cerr << "tether bench fanout: not every publisher came up\n";
    return 1;
  }
  auto& c = run.counters();
  p.go->store(true);
  pub_plan->params.go->store(true);
  run.wait([] { return false; }, warmup, "warmup");
  c.latency.reset();
  auto recv0 = c.received.load();
  auto pub0 = pub_run.counters().sent.load();
  usage_window w;
  w.begin(t.pid);
  run.wait([] { return false; }, duration, "fanout");
  w.end();
  auto received = c.received.load() - recv0;
  auto published = pub_run.counters().sent.load() - pub0;
  p.quiet->store(true);
  auto expected = [&] { return pub_run.counters().sent.load() * subs; };
  run.wait([&] { return c.received.load() >= expected(); },
           std::chrono::seconds{10}, "drain");
  auto missing = expected() - std::min(expected(), c.received.load());
  pub_run.stop();
  run.stop();
  result_row r;
  r.num("subscribers", static_cast<double>(subs), 0)
    .num("publishes_per_s", static_cast<double>(published) / w.seconds(), 0)
    .num("deliveries_per_s", static_cast<double>(received) / w.seconds(), 0);
  add_latency(r, c.latency);
  r.num("missing", static_cast<double>(missing), 0)
    .num("client_cpu_pct", 100 * w.client_cpu() / w.seconds(), 1);
  if (t.pid > 0)
    r.num("server_cpu_pct", 100 * w.server_cpu() / w.seconds(), 1)
      .num("server_cpu_us_per_delivery",
           1e6 * w.server_cpu() / std::max<double>(1, received), 3);
  report("fanout: publishers to one room, end-to-end latency at every "
         "subscriber (CO-corrected)",
         {r}, a.get("json"));
  return 0;
}

// -- presence ----------------------------------------------------------------------

int bench_presence(const arg_map& a, server_target& t) {
  std::string problem;
  auto members = static_cast<size_t>(number_flag(a, "subscribers", 1000, problem));
  auto churners = static_cast<size_t>(number_flag(a, "churners", 100, problem));
  auto rate = number_flag(a, "rate", 200, problem); // joins+leaves per second
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || members == 0 || churners == 0 || rate <= 0) {
    std::cerr << "tether bench presence: "
              << (problem.empty() ? "counts and --rate must be > 0" : problem)
              << "\n";
    return 2;
  }
  // Members join with presence and stay; churners leave and rejoin.
  fleet_run run{t};
  auto plan = std::make_shared<actors::fleet_plan>();
  for (size_t i = 0; i < members; ++i)
    plan->devices.push_back(bench_device(t, "member-" + std::to_string(i), codec));
  for (auto& d : plan->devices)
    d.room = "presence";
  plan->params.link = run.link();
  plan->params.presence = true;
  plan->start_rate = 2000;
  run.start(plan);
  if (!wait_ready(run, members, true)) {
    std::cerr << "tether bench presence: not every member came up\n";
    return 1;
  }
  fleet_run churn{t};
  auto cplan = std::make_shared<actors::fleet_plan>();
  for (size_t i = 0; i < churners; ++i) {
    cplan->devices.push_back(bench_device(t, "churn-" + std::to_string(i), codec));
    cplan->devices.back().room = "presence";
  }
  cplan->params.link = churn.link();
  cplan->params.leave_share = 1.0; // every tick: leave, or join again
  cplan->params.status_every = milliseconds{
    static_cast<int64_t>(1000.0 * static_cast<double>(churners) / rate)};
  churn.start(cplan);
  auto& c = run.counters();
  auto& cc = churn.counters();
  run.wait([] { return false; }, warmup, "warmup");
  auto diffs0 = c.presence_diffs.load();
  auto changes0 = cc.room_changes.load();
  usage_window w;
  w.begin(t.pid);
  run.wait([] { return false; }, duration, "presence");
  w.end();
  auto diffs = c.presence_diffs.load() - diffs0;
  auto changes = cc.room_changes.load() - changes0;
  churn.stop();
  run.stop();
  result_row r;
  r.num("members", static_cast<double>(members), 0)
    .num("churners", static_cast<double>(churners), 0)
    .num("joins_leaves_per_s", static_cast<double>(changes) / w.seconds(), 0)
    .num("diffs_per_s_all_members", static_cast<double>(diffs) / w.seconds(), 0)
    .num("diffs_per_s_per_member",
         static_cast<double>(diffs) / w.seconds() / static_cast<double>(members),
         2);
  if (t.pid > 0)
    r.num("server_cpu_pct", 100 * w.server_cpu() / w.seconds(), 1);
  report("presence: members watching one room while others join and leave; "
         "diffs are coalesced per presence.diff_interval",
         {r}, a.get("json"));
  return 0;
}

// -- connect -----------------------------------------------------------------------

/// Counts handshakes (up to the welcome frame) of raw client links.
class connect_probe final : public actors::link_events {
public:
  struct shared {
    std::mutex mx;
    std::condition_variable cv;
    size_t in_flight = 0;
    size_t done = 0;
    size_t failed = 0;
    actors::latency_histogram latency;
  };

  connect_probe(std::shared_ptr<shared> s, steady::time_point started)
    : s_(std::move(s)), started_(started) {}

  void on_open(actors::link_opened r) override {
    if (!r.ok)
      finish(false);
  }
  void on_frame(std::string, bool) override { finish(true); }
  void on_closed(uint16_t) override { finish(false); }

private:
  void finish(bool ok) {
    if (finished_.exchange(true))
      return;
    if (ok)
      s_->latency.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now()
                                                              - started_)
          .count()));
    std::lock_guard<std::mutex> guard{s_->mx};
    --s_->in_flight;
    ++s_->done;
    if (!ok)
      ++s_->failed;
    s_->cv.notify_one();
  }

  std::shared_ptr<shared> s_;
  steady::time_point started_;
  std::atomic<bool> finished_{false};
};

/// One round of `n` handshakes, `window` at a time; fills `r`.
void connect_round(const server_target& t, const std::vector<std::string>& tokens,
                   size_t window, protocol::codec codec, result_row& r) {
  auto n = tokens.size();
  runtime::client_pool pool{1};
  actors::link_options o;
  o.host = t.host;
  o.port = t.port;
  o.target = t.path;
  o.subprotocols = {std::string{protocol::subprotocol(codec)}};
  auto s = std::make_shared<connect_probe::shared>();
  std::vector<std::shared_ptr<actors::link_port>> links;
  links.reserve(n);
  usage_window w;
  w.begin(t.pid);
  auto deadline = steady::now() + std::chrono::seconds{120};
  for (size_t i = 0; i < n && steady::now() < deadline; ++i) {
    {
      std::unique_lock<std::mutex> guard{s->mx};
      s->cv.wait_until(guard, deadline, [&] { return s->in_flight < window; });
      ++s->in_flight;
    }
    o.token = tokens[i];
    links.push_back(
      pool.open(o, std::make_shared<connect_probe>(s, steady::now())));
  }
  {
    std::unique_lock<std::mutex> guard{s->mx};
    s->cv.wait_until(guard, deadline, [&] { return s->done >= links.size(); });
  }
  w.end();
  size_t done, failed;
  {
    std::lock_guard<std::mutex> guard{s->mx};
    done = s->done;
    failed = s->failed;
  }
  // Links must not outlive their pool.
  for (auto& l : links)
    l->abort();
  links.clear();
  pool.stop();
  r.num("connections", static_cast<double>(n), 0)
    .num("concurrency", static_cast<double>(window), 0)
    .num("handshakes_per_s",
         static_cast<double>(done - failed) / w.seconds(), 0)
    .num("failed", static_cast<double>(failed + (n - done)), 0);
  add_latency(r, s->latency);
  if (t.pid > 0)
    r.num("server_cpu_us_per_handshake",
          1e6 * w.server_cpu() / std::max<double>(1, done - failed), 1);
}

int bench_connect(const arg_map& a, server_target& t) {
  std::string problem;
  auto n = static_cast<size_t>(number_flag(a, "connections", 10000, problem));
  auto window = static_cast<size_t>(number_flag(a, "concurrency", 128, problem));
  auto rounds = static_cast<int>(number_flag(a, "rounds", 2, problem));
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || n == 0 || window == 0 || rounds < 1) {
    std::cerr << "tether bench connect: "
              << (problem.empty() ? "counts must be > 0" : problem) << "\n";
    return 2;
  }
  std::vector<std::string> tokens;
  for (size_t i = 0; i < n; ++i)
    tokens.push_back(
      bench_device(t, "conn-" + std::to_string(i), codec).token);
  // Round 1 meets devices the server never saw (each is recorded durably);
  // later rounds reconnect known devices, the everyday case.
  std::vector<result_row> rows;
  for (int i = 0; i < rounds; ++i) {
    if (i > 0)
      std::this_thread::sleep_for(std::chrono::seconds{2}); // old links gone
    result_row r;
    r.str("devices", i == 0 ? "new" : "known");
    connect_round(t, tokens, window, codec, r);
    rows.push_back(std::move(r));
  }
  report("connect: TCP connect + upgrade (token checked) until the welcome "
         "frame arrives",
         rows, a.get("json"));
  return 0;
}

// -- idle --------------------------------------------------------------------------

int bench_idle(const arg_map& a, server_target& t) {
  std::string problem;
  auto n = static_cast<size_t>(number_flag(a, "connections", 10000, problem));
  auto settle = seconds_flag(a, "settle", 3, problem);
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || n == 0) {
    std::cerr << "tether bench idle: "
              << (problem.empty() ? "--connections must be > 0" : problem)
              << "\n";
    return 2;
  }
  if (t.pid <= 0)
    std::cerr << "tether bench idle: no server pid (--pid or --spawn): "
                 "server memory is not measured\n";
  runtime::process_usage server0, client0, server1, client1;
  if (t.pid > 0)
    runtime::read_usage(t.pid, server0);
  runtime::read_usage(::getpid(), client0);
  fleet_run run{t};
  auto plan = std::make_shared<actors::fleet_plan>();
  plan->params.link = run.link();
  for (size_t i = 0; i < n; ++i)
    plan->devices.push_back(bench_device(t, "idle-" + std::to_string(i), codec));
  plan->start_rate = number_flag(a, "start-rate", 2000, problem);
  auto t0 = steady::now();
  run.start(plan);
  auto ok = wait_ready(run, n, false);
  auto up = secs(steady::now() - t0);
  run.wait([] { return false; }, settle, "settle");
  if (t.pid > 0)
    runtime::read_usage(t.pid, server1);
  runtime::read_usage(::getpid(), client1);
  auto connected = static_cast<size_t>(run.counters().connected.load());
  run.stop();
  auto per = [&](uint64_t after, uint64_t before) {
    return static_cast<double>(after - std::min(after, before))
           / static_cast<double>(std::max<size_t>(1, connected));
  };
  result_row r;
  r.num("connections", static_cast<double>(connected), 0)
    .num("seconds_to_connect", up, 2);
  if (t.pid > 0)
    r.num("server_rss_before_mib", server0.rss_bytes / 1048576.0, 1)
      .num("server_rss_after_mib", server1.rss_bytes / 1048576.0, 1)
      .num("server_bytes_per_conn", per(server1.rss_bytes, server0.rss_bytes), 0);
  r.num("client_bytes_per_device", per(client1.rss_bytes, client0.rss_bytes), 0);
  report("idle: memory per open, welcomed, idle connection (RSS from /proc)",
         {r}, a.get("json"));
  return ok ? 0 : 1;
}

} // namespace

int bench_client_command(const std::string& what,
                         const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args,
                  {TETHER_TARGET_FLAGS, "connections", "rate", "duration",
                   "warmup", "payload", "codec", "subscribers", "publishers",
                   "concurrency", "rounds", "settle", "start-rate",
                   "churners", "json"},
                  {"spawn", "durable"}, a, problem)) {
    std::cerr << "tether bench " << what << ": " << problem << "\n";
    return 2;
  }
  server_target t;
  if (!open_target(a, t, problem)) {
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

// `tether devices`: simulated devices of many users against a server, a
// scenario, and the delivery invariants checked at the end (exit 1 when one
// fails).

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "actors/device/delivery_checker.hpp"
#include "actors/device/push_checker.hpp"
#include "protocol/token.hpp"
#include "runtime/process.hpp"
#include "tools/cli/bench_client.hpp"
#include "tools/cli/bench_common.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/fleet_runner.hpp"
#include "tools/cli/push_receiver.hpp"

namespace tether::cli {

namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

int usage() {
  std::cerr
    << "usage: tether devices (--url ws[s]://HOST:PORT/ws (--data-dir DIR | "
       "--secret-file F) | --spawn [--tls] [--nodes N [--cluster-tls]])\n"
       "         (--spawn --nodes N: a cluster of N tetherd on this host, the "
       "devices\n"
       "         spread over them; --cluster-tls: mutual TLS between them)\n"
       "         [--url ... --url ... --spread] (a cluster: device i of every "
       "user\n"
       "         connects to url i mod n, so a user's devices meet on "
       "different nodes)\n"
       "         [--ca FILE | --insecure] (wss: the server's CA)\n"
       "         [--scenario "
       "chat|presence|storm|flaky|slow|background|push|restart]\n"
       "         (restart: with --spawn, tetherd gets SIGTERM halfway and is\n"
       "         started again on its data dir; the reconnect is reported;\n"
       "         with --nodes N it is node 0, its devices moving to the next)\n"
       "         [--users 50] [--devices-per-user 4] [--no-extension]\n"
       "         [--rate 1] (messages/s per device) [--duration 10] (s)\n"
       "         [--room-size 10] (users per room) [--room-share 0.3]\n"
       "         [--codec json|msgpack|mixed] [--deflate] [--payload 64]\n"
       "         [--start-rate 500] (devices/s) [--drain S] (s; default: the\n"
       "         backoff cap plus two link timeouts plus 10 s)\n"
       "         [--drops-per-minute 6] [--storms 1] [--slow-share 0.1]\n"
       "         [--background-every 5] [--background-for 2] (s)\n"
       "         (push: with --spawn, apps go to the background keeping their\n"
       "         link (tether.lifecycle, acks held) and come back; tetherd\n"
       "         pushes to a webhook this process serves; reports pushes due\n"
       "         vs sent, missed and unnecessary)\n"
       "         [--push-delay 1000] [--push-interval 1000] (ms: tetherd's\n"
       "         push.delay and push.min_interval) [--push-tolerance 300] "
       "(ms:\n"
       "         how late a push may come, how early a request takes effect)\n"
       "         [--status-every 2] (s) [--backoff-base 250] [--backoff-cap "
       "30000] (ms)\n"
       "         [--stable-link 3000] (ms: a link up this long after its "
       "welcome\n"
       "         resets the backoff; a shorter one is a failed attempt)\n"
       "         [--max-attempts 0] [--seed 1] [--json FILE]\n";
  return 2;
}

const char* type_names[] = {"mobile", "tablet", "web", "desktop"};

bool apply_scenario(const std::string& name, const arg_map& a,
                    actors::device_params& p, double& slow_share,
                    std::string& problem) {
  p.requires_ack = true;
  p.mixed_priorities = true;
  if (name == "chat")
    return true;
  if (name == "presence") {
    // Direct messages only: a device that left a room misses its messages
    // by design, which is not a loss.
    p.room_share = 0;
    p.status_every = milliseconds{
      static_cast<int64_t>(1000 * number_flag(a, "status-every", 2, problem))};
    p.leave_share = 0.2;
    return true;
  }
  if (name == "storm" || name == "restart")
    return true;
  if (name == "flaky") {
    p.drops_per_minute = number_flag(a, "drops-per-minute", 6, problem);
    return true;
  }
  if (name == "slow") {
    slow_share = number_flag(a, "slow-share", 0.1, problem);
    return true;
  }
  if (name == "background" || name == "push") {
    p.push = name == "push";
    p.background_every = milliseconds{static_cast<int64_t>(
      1000 * number_flag(a, "background-every", 5, problem))};
    p.background_for = milliseconds{static_cast<int64_t>(
      1000 * number_flag(a, "background-for", p.push ? 3 : 2, problem))};
    if (p.push && !a.has("spawn"))
      problem = "--scenario push needs --spawn (tetherd must push to this "
                "process's webhook)";
    return true;
  }
  problem = "unknown scenario '" + name
            + "' (chat, presence, storm, flaky, slow, background, push, "
              "restart)";
  return false;
}

std::string fmt(double v, int precision = 2) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << v;
  return out.str();
}

// --scenario restart: what the devices saw of tetherd's drain, stop and
// start again (SIGTERM, then the same data dir and port). In a cluster
// (--nodes) node 0 restarts and its devices move to the others.
struct restart_figures {
  std::string problem;
  /// SIGTERM to listening again; SIGTERM to the last device's welcome.
  double down_s = 0;
  double back_s = 0;
  /// Devices of the restarted node.
  size_t affected = 0;
  /// Welcomes in the busiest second after the start.
  uint64_t peak_per_s = 0;
  /// Per device welcomed again: SIGTERM to its welcome.
  std::vector<double> reconnect_ms;

  size_t back() const noexcept { return reconnect_ms.size(); }
};

restart_figures restart_and_watch(server_target& target, fleet_run& run,
                                  const actors::fleet_plan& plan,
                                  milliseconds settle) {
  restart_figures f;
  auto& c = run.counters();
  // The restarted node's devices: all of them, or in a cluster those
  // placed on node 0.
  std::vector<const actors::device_memory*> mine;
  for (size_t i = 0; i < plan.devices.size(); ++i)
    if (plan.devices[i].port == 0 || plan.devices[i].port == target.port)
      mine.push_back(plan.memories[i].get());
  f.affected = mine.size();
  auto t0 = steady::now();
  auto ns0 = std::chrono::duration_cast<std::chrono::nanoseconds>(
               t0.time_since_epoch())
               .count();
  // The restart (drain, stop, start) runs beside the sampling: in a
  // cluster the devices move on while the node still drains.
  std::atomic<bool> restarted{false};
  std::atomic<double> down_s{0};
  bool started = false;
  std::thread restarter{[&] {
    started = target.restart(f.problem);
    down_s = secs(steady::now() - t0);
    restarted = true;
  }};
  auto back = [&] {
    size_t k = 0;
    for (auto* m : mine)
      k += m->welcomed_ns.load(std::memory_order_relaxed) > ns0 ? 1 : 0;
    return k;
  };
  std::vector<std::pair<steady::time_point, uint64_t>> samples;
  run.wait(
    [&] {
      samples.emplace_back(steady::now(), c.welcomes.load());
      return restarted && (!started || back() >= mine.size());
    },
    settle + std::chrono::seconds{180}, "restart");
  restarter.join();
  f.down_s = down_s;
  if (!started)
    return f;
  for (size_t i = 0; i < samples.size(); ++i)
    for (size_t j = i + 1;
         j < samples.size()
         && samples[j].first - samples[i].first <= std::chrono::seconds{1};
         ++j)
      f.peak_per_s = std::max(f.peak_per_s,
                              samples[j].second - samples[i].second);
  for (auto* m : mine) {
    auto at = m->welcomed_ns.load(std::memory_order_relaxed);
    if (at > ns0)
      f.reconnect_ms.push_back(static_cast<double>(at - ns0) / 1e6);
  }
  f.back_s = percentile(f.reconnect_ms, 100) / 1000;
  return f;
}

// p50 / p90 / p99 / max of a latency histogram, in ms.
std::string ms_row(const actors::latency_histogram& h) {
  auto ms = [&](uint64_t us) { return fmt(static_cast<double>(us) / 1000.0); };
  return ms(h.percentile(50)) + " / " + ms(h.percentile(90)) + " / "
         + ms(h.percentile(99)) + " / " + ms(h.max()) + " ms";
}

} // namespace

int devices_command(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args,
                  {TETHER_TARGET_FLAGS, "scenario",       "users",
                   "devices-per-user",  "rate",           "duration",
                   "room-size",         "room-share",     "codec",
                   "payload",           "start-rate",     "drain",
                   "drops-per-minute",  "storms",         "slow-share",
                   "background-every",  "background-for", "status-every",
                   "backoff-base",      "backoff-cap",    "stable-link",
                   "max-attempts",      "seed",           "json",
                   "push-delay",        "push-interval",  "push-tolerance"},
                  {TETHER_TARGET_SWITCHES, "no-extension", "deflate", "help"},
                  a, problem)) {
    std::cerr << "tether devices: " << problem << "\n";
    return usage();
  }
  if (a.has("help"))
    return usage(), 0;
  auto users = static_cast<uint32_t>(number_flag(a, "users", 50, problem));
  auto per_user
    = static_cast<uint32_t>(number_flag(a, "devices-per-user", 4, problem));
  auto rate = number_flag(a, "rate", 1, problem);
  auto duration = number_flag(a, "duration", 10, problem);
  auto room_size = std::max<uint32_t>(
    1, static_cast<uint32_t>(number_flag(a, "room-size", 10, problem)));
  auto drain_flag = number_flag(a, "drain", 0, problem);
  auto storms = static_cast<int>(number_flag(a, "storms", 1, problem));
  auto scenario = a.get("scenario", "chat");
  auto codec_name = a.get("codec", "mixed");
  if (codec_name != "json" && codec_name != "msgpack" && codec_name != "mixed")
    problem = "--codec must be json, msgpack or mixed";
  if (users == 0 || per_user == 0)
    problem = "--users and --devices-per-user must be at least 1";
  actors::device_params params;
  params.room_share = number_flag(a, "room-share", 0.3, problem);
  params.payload_bytes
    = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  if (rate > 0)
    params.send_interval
      = std::chrono::microseconds{static_cast<int64_t>(1e6 / rate)};
  double slow_share = 0;
  if (problem.empty())
    apply_scenario(scenario, a, params, slow_share, problem);
  auto plan = std::make_shared<actors::fleet_plan>();
  plan->reconnect.backoff.base = milliseconds{
    static_cast<int64_t>(number_flag(a, "backoff-base", 250, problem))};
  plan->reconnect.backoff.cap = milliseconds{
    static_cast<int64_t>(number_flag(a, "backoff-cap", 30000, problem))};
  plan->reconnect.stable_link = milliseconds{
    static_cast<int64_t>(number_flag(a, "stable-link", 3000, problem))};
  plan->reconnect.backoff.max_attempts
    = static_cast<uint32_t>(number_flag(a, "max-attempts", 0, problem));
  plan->start_rate = number_flag(a, "start-rate", 500, problem);
  plan->seed = static_cast<uint32_t>(number_flag(a, "seed", 1, problem));
  if (!problem.empty()) {
    std::cerr << "tether devices: " << problem << "\n";
    return usage();
  }
  // The push scenario: a webhook here, its key in a file for tetherd.
  auto push_delay = milliseconds{
    static_cast<int64_t>(number_flag(a, "push-delay", 1000, problem))};
  auto push_interval = milliseconds{
    static_cast<int64_t>(number_flag(a, "push-interval", 1000, problem))};
  auto push_tolerance = milliseconds{
    static_cast<int64_t>(number_flag(a, "push-tolerance", 300, problem))};
  std::unique_ptr<push_receiver> hook;
  std::vector<std::string> server_extra;
  std::string hook_dir;
  if (params.push) {
    auto key = protocol::generate_secret();
    hook = std::make_unique<push_receiver>(key);
    hook_dir = (std::filesystem::temp_directory_path()
                / ("tether-push-" + std::to_string(::getpid())))
                 .string();
    std::filesystem::create_directories(hook_dir);
    std::ofstream{hook_dir + "/webhook.key"} << key << "\n";
    if (hook->port() == 0) {
      std::cerr << "tether devices: cannot listen for the webhook\n";
      return 2;
    }
    server_extra
      = {"--push.webhook_url",
         "http://127.0.0.1:" + std::to_string(hook->port()) + "/push",
         "--push.webhook_secret_file",
         hook_dir + "/webhook.key",
         "--push.min_priority",
         "high",
         "--push.delay",
         std::to_string(push_delay.count()) + "ms",
         "--push.min_interval",
         std::to_string(push_interval.count()) + "ms"};
  }
  struct remove_dir {
    std::string dir;
    ~remove_dir() {
      std::error_code ec;
      if (!dir.empty())
        std::filesystem::remove_all(dir, ec);
    }
  } hook_dir_guard{hook_dir};
  server_target target;
  if (!open_target(a, target, problem, server_extra)) {
    std::cerr << "tether devices: " << problem << "\n";
    return 2;
  }
  runtime::process_usage before;
  runtime::read_usage(::getpid(), before);

  // Users u0..; devices of a user: mobile, tablet, web, ... and, unless
  // --no-extension, the last one a desktop with the extension role. Users
  // share rooms of --room-size users.
  fleet_run run{target};
  params.link = run.link();
  params.go = std::make_shared<std::atomic<bool>>(false);
  params.quiet = std::make_shared<std::atomic<bool>>(false);
  plan->params = params;
  std::minstd_rand rng{plan->seed};
  std::vector<std::shared_ptr<std::vector<std::string>>> rooms;
  for (uint32_t u = 0; u < users; ++u) {
    auto user = "user-" + std::to_string(u);
    auto room_no = u / room_size;
    if (room_no >= rooms.size())
      rooms.push_back(std::make_shared<std::vector<std::string>>());
    std::vector<std::string> ids;
    for (uint32_t d = 0; d < per_user; ++d)
      ids.push_back("dev-" + std::to_string(d));
    for (uint32_t d = 0; d < per_user; ++d) {
      actors::device_spec s;
      s.user_id = user;
      s.device_id = ids[d];
      protocol::from_string(type_names[d % 3], s.type);
      if (!a.has("no-extension") && d + 1 == per_user && per_user > 1) {
        s.type = protocol::device_type::desktop;
        s.role = "extension";
      }
      s.codec = codec_name == "msgpack" ? protocol::codec::msgpack
                : codec_name == "json" || (u + d) % 2 == 0
                  ? protocol::codec::json
                  : protocol::codec::msgpack;
      s.deflate = a.has("deflate");
      for (auto& other : ids)
        if (other != s.device_id)
          s.peers.push_back(other);
      s.room = "team-" + std::to_string(room_no);
      s.slow = std::uniform_real_distribution<double>{0, 1}(rng) < slow_share;
      if (auto& nodes = target.spread; !nodes.empty()) {
        // Device d of user u on node (u + d) mod n: every user's devices
        // meet on different nodes, and every node has every kind. When its
        // node drains or is gone it turns to the next ones.
        auto k = (u + d) % nodes.size();
        s.host = nodes[k].first;
        s.port = nodes[k].second;
        for (size_t j = 1; j < nodes.size(); ++j)
          s.fallbacks.push_back(nodes[(k + j) % nodes.size()]);
      }
      s.token = mint_token(target, s);
      rooms[room_no]->push_back(s.key());
      plan->devices.push_back(std::move(s));
    }
  }
  for (auto& d : plan->devices) {
    auto room_no = std::stoul(d.room.substr(5));
    d.room_members = rooms[room_no];
  }
  auto n = plan->devices.size();
  run.start(plan);
  auto& c = run.counters();

  // 1. Everyone connected and in their room; where the scenario drops
  // links on purpose, every device connected at least once (the whole
  // fleet is rarely connected at one instant then).
  auto drops_links = params.drops_per_minute > 0;
  auto all_were_online = [&] {
    for (auto& m : plan->memories)
      if (!m->ever_online.load(std::memory_order_relaxed))
        return false;
    return true;
  };
  auto t0 = steady::now();
  bool ready = run.wait(
    [&] {
      if (drops_links)
        return all_were_online() && c.joined.load() >= n;
      return static_cast<size_t>(c.connected.load()) == n
             && c.joined.load() >= n;
    },
    std::chrono::seconds{60}
      + milliseconds{static_cast<int64_t>(1000.0 * static_cast<double>(n)
                                          / std::max(plan->start_rate, 1.0))},
    "connect");
  auto connect_secs = secs(steady::now() - t0);
  runtime::process_usage connected_usage;
  runtime::read_usage(::getpid(), connected_usage);
  // 2. The scenario (the server's CPU over it, every node of a cluster).
  usage_window w;
  w.begin(target.pids());
  auto delivered0 = c.received.load();
  params.go->store(true);
  auto run_for = milliseconds{static_cast<int64_t>(duration * 1000)};
  auto t1 = steady::now();
  restart_figures restart;
  if (scenario == "restart") {
    run.wait([] { return false; }, run_for / 2, scenario);
    restart = restart_and_watch(target, run, *plan, run_for / 2);
  } else if (scenario == "storm" && storms > 0) {
    for (int i = 0; i < storms; ++i) {
      run.wait([] { return false; }, run_for / (storms + 1), scenario);
      run.drop_all();
    }
    run.wait([] { return false; }, run_for / (storms + 1), scenario);
  } else {
    run.wait([] { return false; }, run_for, scenario);
  }
  auto run_secs = secs(steady::now() - t1);
  w.end();
  auto delivered_in_run = c.received.load() - delivered0;
  auto per_delivery_us
    = 1e6 * w.server_cpu()
      / std::max<double>(1, static_cast<double>(delivered_in_run));
  // 3. Drain: no new messages, no more drops, devices waiting out a
  // backoff reconnect now; wait for every ack and delivery (and every
  // device that still reconnects), as long as a device that fails again
  // may back off: the backoff cap plus two link timeouts, plus 10 s.
  params.quiet->store(true);
  run.drain();
  auto drain = drain_flag > 0
                 ? drain_flag
                 : secs(plan->reconnect.backoff.cap + 2 * params.link.timeout)
                     + 10;
  // A device may have read quiet == false just before: its send must be
  // counted before the counts are compared.
  run.quiesce();
  auto t2 = steady::now();
  bool drained = run.wait(
    [&] {
      return c.accepted.load() + c.failed.load() >= c.sent.load()
             && c.received.load() + c.gaps.load() >= c.expected.load()
             && static_cast<size_t>(c.connected.load()) + c.gave_up.load() >= n;
    },
    milliseconds{static_cast<int64_t>(drain * 1000)}, "drain");
  auto drain_secs = secs(steady::now() - t2);
  // The push scenario: every app back in the foreground and the last
  // pushes arrived before they are checked.
  if (params.push)
    run.wait([] { return false; },
             params.background_for + push_delay + milliseconds{1500}, "pushes");
  auto end_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  steady::now().time_since_epoch())
                  .count();
  // What each device was doing as the run ended (a lost message's
  // recipient is named with it).
  std::map<std::string, bool> online_at_end;
  for (auto& m : plan->memories)
    online_at_end[m->ledger.key] = m->online.load(std::memory_order_relaxed);
  run.stop();

  // 4. The verdict.
  std::vector<const actors::device_ledger*> ledgers;
  size_t resumed_devices = 0;
  size_t reconnected_devices = 0;
  std::vector<int64_t> delays;
  for (auto& m : plan->memories) {
    ledgers.push_back(&m->ledger);
    if (m->connects > 1)
      ++reconnected_devices;
    if (m->resumes > 0)
      ++resumed_devices;
    delays.insert(delays.end(), m->restart_delays_ms.begin(),
                  m->restart_delays_ms.end());
  }
  auto r = actors::check(ledgers);
  actors::push_check_result pushes;
  if (params.push) {
    hook->stop();
    auto got = hook->pushes();
    actors::push_check_params pp;
    pp.delay_ns = push_delay.count() * 1'000'000;
    pp.min_interval_ns = push_interval.count() * 1'000'000;
    pp.tolerance_ns = push_tolerance.count() * 1'000'000;
    for (auto& m : plan->memories) {
      auto& key = m->ledger.key;
      actors::merge(pushes,
                    actors::check_pushes(key, m->push, got[key], end_ns, pp));
      got.erase(key);
    }
    for (auto& [key, times] : got) // pushes for devices of no one here
      actors::merge(pushes, actors::check_pushes(key, {}, times, end_ns, pp));
  }
  auto& lat = c.latency;
  auto& waited = c.offline_wait;
  std::map<std::string, std::string> gave_up;
  for (auto& m : plan->memories)
    if (!m->gave_up.empty())
      gave_up[m->ledger.key] = m->gave_up;
  auto state_of = [&](const std::string& key) -> std::string {
    if (auto g = gave_up.find(key); g != gave_up.end())
      return "gave up: " + g->second;
    return online_at_end[key] ? "connected" : "backing off";
  };
  std::map<std::string, uint64_t> lost_by_state;
  for (auto& [key, count] : r.lost_to)
    lost_by_state[state_of(key).substr(0, state_of(key).find(':'))] += count;
  runtime::process_usage after;
  runtime::read_usage(::getpid(), after);
  auto per_device
    = n == 0 ? 0.0
             : static_cast<double>(
                 connected_usage.rss_bytes
                 - std::min(connected_usage.rss_bytes, before.rss_bytes))
                 / static_cast<double>(n);
  bool ok = r.ok() && r.in_doubt == 0 && c.errors.load() == 0 && ready;
  if (scenario == "restart")
    ok = ok && restart.problem.empty() && restart.back() == restart.affected;
  if (params.push)
    ok = ok && pushes.missed == 0 && pushes.unnecessary == 0
         && hook->refused() == 0;

  std::vector<std::pair<std::string, std::string>> rows = {
    {"scenario", scenario},
    {"devices", std::to_string(n) + " (" + std::to_string(users) + " users x "
                  + std::to_string(per_user) + ")"},
    {"connected in", fmt(connect_secs) + " s" + (ready ? "" : " (NOT ALL)")},
    {"ran", fmt(run_secs) + " s, drained in " + fmt(drain_secs) + " s"
              + (drained ? "" : " (drain timed out)")},
    {"sent", std::to_string(r.sent)},
    {"accepted", std::to_string(r.accepted)},
    {"refused", std::to_string(r.failed)},
    {"in doubt", std::to_string(r.in_doubt)},
    {"expected deliveries", std::to_string(r.expected)},
    {"delivered", std::to_string(r.delivered)},
    {"dropped with gap notice", std::to_string(r.gapped)},
    {"lost", std::to_string(r.lost)},
    {"duplicates", std::to_string(r.duplicates)},
    {"order violations", std::to_string(r.order_violations)},
    {"delivered/s", fmt(static_cast<double>(c.received.load()) / run_secs, 0)},
    {"latency p50/p90/p99/max", ms_row(lat) + " (" + std::to_string(lat.count())
                                  + " to a connected recipient)"},
    {"waited offline", ms_row(waited) + " (" + std::to_string(waited.count())
                         + " sent while the recipient was away)"},
    {"reconnects", std::to_string(c.reconnects.load()) + " (devices: "
                     + std::to_string(reconnected_devices) + ", resumed: "
                     + std::to_string(resumed_devices) + "; resumed "
                     + std::to_string(c.resumed.load()) + " times)"},
    {"links dropped", std::to_string(c.drops.load())},
    {"told to wait", std::to_string(c.drained.load()) + " drained (1012), "
                       + std::to_string(c.paced.load())
                       + " paced (503 Retry-After)"},
    {"resent after reconnect", std::to_string(c.resent.load())},
    {"gap notices (messages)", std::to_string(c.gaps.load())},
    {"presence messages", std::to_string(c.presence_diffs.load())},
    {"gave up", std::to_string(c.gave_up.load())},
    {"errors", std::to_string(c.errors.load())},
    {"client memory/device", fmt(per_device / 1024.0, 1) + " KiB"},
    {"client CPU", fmt(100 * w.client_cpu() / w.seconds(), 1) + " %"},
  };
  // (A restarted server is another process: its CPU is not comparable.)
  if (!w.pids.empty() && scenario != "restart")
    rows.push_back({"server CPU", fmt(100 * w.server_cpu() / w.seconds(), 1)
                                    + " % (" + std::to_string(w.pids.size())
                                    + " processes), " + fmt(per_delivery_us, 1)
                                    + " us per delivery"});
  if (params.push)
    rows.push_back({"pushes", "due " + std::to_string(pushes.due) + ", sent "
                                + std::to_string(pushes.sent) + ", missed "
                                + std::to_string(pushes.missed)
                                + ", unnecessary "
                                + std::to_string(pushes.unnecessary)
                                + " (refused at the webhook: "
                                + std::to_string(hook->refused()) + ")"});
  if (scenario == "restart") {
    if (!restart.problem.empty())
      rows.push_back({"restart", "FAILED: " + restart.problem});
    rows.push_back({"restart", "SIGTERM to listening again "
                                 + fmt(restart.down_s, 1) + " s; devices back "
                                 + std::to_string(restart.back()) + "/"
                                 + std::to_string(restart.affected) + " within "
                                 + fmt(restart.back_s, 1) + " s"});
    rows.push_back({"reconnect after SIGTERM",
                    fmt(percentile(restart.reconnect_ms, 50), 0) + " / "
                      + fmt(percentile(restart.reconnect_ms, 99), 0) + " / "
                      + fmt(percentile(restart.reconnect_ms, 100), 0)
                      + " ms (p50 / p99 / max)"});
    rows.push_back({"handshakes/s, peak",
                    std::to_string(restart.peak_per_s)
                      + " (welcomes in the busiest second after the start)"});
  }
  std::cout << "\ntether devices\n";
  for (auto& [k, v] : rows)
    std::cout << "  " << std::left << std::setw(26) << k << v << "\n";
  if (r.lost > 0) {
    std::string states;
    for (auto& [state, count] : lost_by_state)
      states += (states.empty() ? "" : ", ") + state + " "
                + std::to_string(count);
    std::cout << "  " << std::left << std::setw(26) << "lost, by recipient"
              << states << "\n";
  }
  for (auto& e : r.lost_examples)
    std::cout << "  lost: " << e << " (recipient "
              << state_of(e.substr(e.find(" -> ") + 4)) << ")\n";
  for (auto& e : r.order_examples)
    std::cout << "  out of order: " << e << "\n";
  for (auto& e : pushes.examples)
    std::cout << "  push: " << e << "\n";
  std::cout << "lost = " << r.lost
            << ", order violations = " << r.order_violations << ": "
            << (ok ? "OK" : "FAILED") << "\n";
  if (a.has("json")) {
    std::ofstream out{a.get("json")};
    out << "{\"scenario\":\"" << scenario << "\",\"devices\":" << n
        << ",\"users\":" << users << ",\"connect_seconds\":" << connect_secs
        << ",\"run_seconds\":" << run_secs
        << ",\"drain_seconds\":" << drain_secs << ",\"sent\":" << r.sent
        << ",\"accepted\":" << r.accepted << ",\"refused\":" << r.failed
        << ",\"in_doubt\":" << r.in_doubt << ",\"expected\":" << r.expected
        << ",\"delivered\":" << r.delivered << ",\"gapped\":" << r.gapped
        << ",\"lost\":" << r.lost << ",\"duplicates\":" << r.duplicates
        << ",\"order_violations\":" << r.order_violations
        << ",\"latency_us\":{\"p50\":" << lat.percentile(50)
        << ",\"p90\":" << lat.percentile(90)
        << ",\"p99\":" << lat.percentile(99) << ",\"max\":" << lat.max()
        << ",\"count\":" << lat.count()
        << "},\"offline_wait_us\":{\"p50\":" << waited.percentile(50)
        << ",\"p99\":" << waited.percentile(99) << ",\"max\":" << waited.max()
        << ",\"count\":" << waited.count() << "},\"lost_by_recipient_state\":{";
    auto first = true;
    for (auto& [state, count] : lost_by_state) {
      out << (first ? "" : ",") << "\"" << state << "\":" << count;
      first = false;
    }
    out << "},\"reconnects\":" << c.reconnects.load()
        << ",\"reconnected_devices\":" << reconnected_devices
        << ",\"resumed_devices\":" << resumed_devices
        << ",\"resumes\":" << c.resumed.load()
        << ",\"drops\":" << c.drops.load() << ",\"resent\":" << c.resent.load()
        << ",\"drained\":" << c.drained.load()
        << ",\"paced\":" << c.paced.load() << ",\"gaps\":" << c.gaps.load()
        << ",\"gave_up\":" << c.gave_up.load()
        << ",\"errors\":" << c.errors.load()
        << ",\"client_bytes_per_device\":" << static_cast<uint64_t>(per_device)
        << ",\"client_cpu_pct\":" << 100 * w.client_cpu() / w.seconds()
        << ",\"server_processes\":" << w.pids.size()
        << ",\"server_cpu_pct\":" << 100 * w.server_cpu() / w.seconds()
        << ",\"server_cpu_us_per_delivery\":" << per_delivery_us
        << ",\"restart\":{\"down_seconds\":" << restart.down_s
        << ",\"affected\":" << restart.affected
        << ",\"back\":" << restart.back()
        << ",\"back_seconds\":" << restart.back_s
        << ",\"peak_handshakes_per_s\":" << restart.peak_per_s
        << ",\"reconnect_ms\":{\"p50\":" << percentile(restart.reconnect_ms, 50)
        << ",\"p99\":" << percentile(restart.reconnect_ms, 99)
        << ",\"max\":" << percentile(restart.reconnect_ms, 100) << "}}"
        << ",\"restart_delays_ms\":[";
    for (size_t i = 0; i < delays.size(); ++i)
      out << (i ? "," : "") << delays[i];
    out << "],\"pushes\":{\"due\":" << pushes.due << ",\"sent\":" << pushes.sent
        << ",\"missed\":" << pushes.missed
        << ",\"unnecessary\":" << pushes.unnecessary
        << ",\"refused\":" << (hook ? hook->refused() : 0) << "}";
    out << ",\"ok\":" << (ok ? "true" : "false") << "}\n";
  }
  return ok ? 0 : 1;
}

} // namespace tether::cli

// `tether bench idle`: memory per open, welcomed, idle connection (RSS
// from /proc), and the server's CPU and context switches per connection
// for connecting them and letting them settle.

#include <iostream>

#include "tools/cli/bench_client.hpp"

namespace tether::cli {

int bench_idle(const arg_map& a, server_target& t) {
  std::string problem;
  auto n = static_cast<size_t>(number_flag(a, "connections", 10000, problem));
  // Past tetherd's queue.release_after (10 s): idle devices' queues have
  // given their memory back by then.
  auto settle = seconds_flag(a, "settle", 12, problem);
  auto start_rate = number_flag(a, "start-rate", 2000, problem);
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
  return run_compared(
    a, t, "idle: memory per open, welcomed, idle connection (RSS from /proc)",
    [&](const server_target& s, std::vector<result_row>& rows) {
      usage_window w;
      w.begin(s.pids());
      fleet_run run{s};
      auto plan = std::make_shared<actors::fleet_plan>();
      plan->params.link = run.link();
      for (size_t i = 0; i < n; ++i) {
        plan->devices.push_back(
          bench_device(s, "idle-" + std::to_string(i), codec, i, n));
        // Offer permessage-deflate (what most browsers do).
        plan->devices.back().deflate = a.has("deflate");
      }
      plan->start_rate = start_rate;
      auto t0 = std::chrono::steady_clock::now();
      run.start(plan);
      auto ok = wait_ready(run, n, false);
      auto up = secs(std::chrono::steady_clock::now() - t0);
      run.wait([] { return false; }, settle, "settle");
      w.end();
      auto connected = static_cast<size_t>(run.counters().connected.load());
      run.stop();
      auto per = [&](uint64_t after, uint64_t before) {
        return static_cast<double>(after - std::min(after, before))
               / static_cast<double>(std::max<size_t>(1, connected));
      };
      result_row r;
      r.num("connections", static_cast<double>(connected), 0)
        .num("seconds_to_connect", up, 2);
      if (s.pid > 0)
        r.num("server_rss_before_mib",
              static_cast<double>(w.server0.rss_bytes) / 1048576.0, 1)
          .num("server_rss_after_mib",
               static_cast<double>(w.server1.rss_bytes) / 1048576.0, 1)
          .num("server_bytes_per_conn",
               per(w.server1.rss_bytes, w.server0.rss_bytes), 0);
      r.num("client_bytes_per_device",
            per(w.client1.rss_bytes, w.client0.rss_bytes), 0);
      w.add_server_costs(r, "conn", connected, 1);
      rows.push_back(std::move(r));
      return ok;
    });
}

} // namespace tether::cli

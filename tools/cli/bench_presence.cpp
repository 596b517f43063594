// `tether bench presence`: members watch one room while churners join and
// leave it; the rate of presence diffs the members receive (coalesced per
// presence.diff_interval). Tether only: the baseline has no presence.

#include <iostream>

#include "tools/cli/bench_client.hpp"

namespace tether::cli {

using std::chrono::milliseconds;

int bench_presence(const arg_map& a, server_target& t) {
  std::string problem;
  auto members
    = static_cast<size_t>(number_flag(a, "subscribers", 1000, problem));
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
  return run_compared(
    a, t,
    "presence: members watching one room while others join and leave; "
    "diffs are coalesced per presence.diff_interval",
    [&](const server_target& s, std::vector<result_row>& rows) {
      // Members join with presence and stay; churners leave and rejoin.
      fleet_run run{s};
      auto plan = std::make_shared<actors::fleet_plan>();
      for (size_t i = 0; i < members; ++i)
        plan->devices.push_back(
          bench_device(s, "member-" + std::to_string(i), codec));
      for (auto& d : plan->devices)
        d.room = "presence";
      plan->params.link = run.link();
      plan->params.presence = true;
      plan->start_rate = 2000;
      run.start(plan);
      if (!wait_ready(run, members, true)) {
        std::cerr << "tether bench presence: not every member came up\n";
        return false;
      }
      fleet_run churn{s};
      auto cplan = std::make_shared<actors::fleet_plan>();
      for (size_t i = 0; i < churners; ++i) {
        cplan->devices.push_back(
          bench_device(s, "churn-" + std::to_string(i), codec));
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
      w.begin(s.pids());
      run.wait([] { return false; }, duration, "presence");
      w.end();
      auto diffs = c.presence_diffs.load() - diffs0;
      auto changes = cc.room_changes.load() - changes0;
      churn.stop();
      run.stop();
      result_row r;
      r.num("members", static_cast<double>(members), 0)
        .num("churners", static_cast<double>(churners), 0)
        .num("joins_leaves_per_s", static_cast<double>(changes) / w.seconds(),
             0)
        .num("diffs_per_s_all_members",
             static_cast<double>(diffs) / w.seconds(), 0)
        .num("diffs_per_s_per_member",
             static_cast<double>(diffs) / w.seconds()
               / static_cast<double>(members),
             2);
      if (s.pid > 0)
        r.num("server_cpu_pct", 100 * w.server_cpu() / w.seconds(), 1);
      rows.push_back(std::move(r));
      return true;
    });
}

} // namespace tether::cli

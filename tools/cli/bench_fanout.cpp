// `tether bench fanout`: publishers send to one room at a fixed total rate;
// end-to-end latency at every subscriber (coordinated-omission corrected).

#include <algorithm>
#include <cmath>
#include <iostream>

#include "tools/cli/bench_client.hpp"

namespace tether::cli {

int bench_fanout(const arg_map& a, server_target& t) {
  std::string problem;
  auto subs = static_cast<size_t>(number_flag(a, "subscribers", 1000, problem));
  auto rate = number_flag(a, "rate", 100, problem);
  // One publisher per 100 msg/s by default: a connection may send
  // limits.rate_per_second (200) messages per second, the baseline has no
  // limit, and the comparison must not measure refusals.
  auto pubs = static_cast<size_t>(number_flag(
    a, "publishers", std::max(1.0, std::ceil(rate / 100.0)), problem));
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto payload = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  auto codec = codec_flag(a, problem);
  auto durable = a.has("durable");
  if (!problem.empty() || subs == 0 || pubs == 0 || rate <= 0) {
    std::cerr << "tether bench fanout: "
              << (problem.empty() ? "counts and --rate must be > 0" : problem)
              << "\n";
    return 2;
  }
  return run_compared(
    a, t,
    "fanout: publishers to one room, end-to-end latency at every "
    "subscriber (CO-corrected)",
    [&](const server_target& s, std::vector<result_row>& rows) {
      fleet_run run{s};
      auto plan = std::make_shared<actors::fleet_plan>();
      auto members = std::make_shared<std::vector<std::string>>();
      for (size_t i = 0; i < subs; ++i)
        plan->devices.push_back(
          bench_device(s, "sub-" + std::to_string(i), codec));
      for (size_t i = 0; i < pubs; ++i)
        plan->devices.push_back(
          bench_device(s, "pub-" + std::to_string(i), codec));
      for (auto& d : plan->devices) {
        d.room = "fanout";
        d.room_members = members;
        members->push_back(d.key());
      }
      auto& p = plan->params;
      p.link = run.link();
      p.requires_ack = durable;
      p.mixed_priorities = false;
      p.payload_bytes = payload;
      p.go = std::make_shared<std::atomic<bool>>(false);
      p.quiet = std::make_shared<std::atomic<bool>>(false);
      plan->start_rate = 2000;
      // Subscribers do not send; publishers send to the room only. The
      // params are per fleet, so publishers get theirs through a second
      // fleet below.
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
        return false;
      }
      fleet_run pub_run{s};
      pub_plan->params.link = pub_run.link();
      pub_run.start(pub_plan);
      if (!wait_ready(pub_run, pubs, true)) {
        std::cerr << "tether bench fanout: not every publisher came up\n";
        return false;
      }
      auto& c = run.counters();
      p.go->store(true);
      pub_plan->params.go->store(true);
      run.wait([] { return false; }, warmup, "warmup");
      c.latency.reset();
      auto recv0 = c.received.load();
      auto pub0 = pub_run.counters().sent.load();
      usage_window w;
      w.begin(s.pids());
      run.wait([] { return false; }, duration, "fanout");
      w.end();
      auto received = c.received.load() - recv0;
      auto published = pub_run.counters().sent.load() - pub0;
      p.quiet->store(true);
      pub_run.quiesce();
      auto expected = [&] { return pub_run.counters().sent.load() * subs; };
      run.wait([&] { return c.received.load() >= expected(); },
               std::chrono::seconds{10}, "drain");
      auto missing = expected() - std::min(expected(), c.received.load());
      pub_run.stop();
      run.stop();
      result_row r;
      r.num("subscribers", static_cast<double>(subs), 0)
        .num("publishes_per_s", static_cast<double>(published) / w.seconds(), 0)
        .num("deliveries_per_s", static_cast<double>(received) / w.seconds(),
             0);
      add_latency(r, c.latency);
      r.num("missing", static_cast<double>(missing), 0);
      w.add_cpu_pct(r);
      w.add_server_costs(r, "delivery", received, 3);
      rows.push_back(std::move(r));
      return true;
    });
}

} // namespace tether::cli

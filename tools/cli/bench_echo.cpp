// `tether bench echo`: every device sends messages to itself through the
// server at a fixed total rate; round-trip latency from each message's
// intended send time (coordinated-omission corrected).

#include <iostream>

#include "tools/cli/bench_client.hpp"

namespace tether::cli {

int bench_echo(const arg_map& a, server_target& t) {
  std::string problem;
  auto conns = static_cast<size_t>(number_flag(a, "connections", 100, problem));
  auto rate = number_flag(a, "rate", 10000, problem);
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto payload = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  auto codec = codec_flag(a, problem);
  auto durable = a.has("durable");
  if (!problem.empty() || conns == 0 || rate <= 0) {
    std::cerr << "tether bench echo: "
              << (problem.empty() ? "--connections and --rate must be > 0"
                                  : problem)
              << "\n";
    return 2;
  }
  auto title = std::string{"echo: each device messages itself through the "
                           "full actor path ("}
               + (durable ? "durable" : "in-memory") + " queue, "
               + protocol::to_string(codec).data()
               + "); latency from the intended send time (CO-corrected)";
  return run_compared(
    a, t, title, [&](const server_target& s, std::vector<result_row>& rows) {
      fleet_run run{s};
      auto plan = std::make_shared<actors::fleet_plan>();
      auto& p = plan->params;
      p.link = run.link();
      p.echo = true;
      p.requires_ack = durable;
      p.mixed_priorities = false;
      p.payload_bytes = payload;
      p.send_interval = std::chrono::microseconds{
        static_cast<int64_t>(1e6 * static_cast<double>(conns) / rate)};
      p.go = std::make_shared<std::atomic<bool>>(false);
      p.quiet = std::make_shared<std::atomic<bool>>(false);
      for (size_t i = 0; i < conns; ++i)
        plan->devices.push_back(
          bench_device(s, "echo-" + std::to_string(i), codec));
      plan->start_rate = 2000;
      run.start(plan);
      if (!wait_ready(run, conns, false)) {
        std::cerr << "tether bench echo: not every connection came up\n";
        return false;
      }
      auto& c = run.counters();
      p.go->store(true);
      run.wait([] { return false; }, warmup, "warmup");
      c.latency.reset();
      auto sent0 = c.sent.load();
      auto recv0 = c.received.load();
      usage_window w;
      w.begin(s.pids());
      run.wait([] { return false; }, duration, "echo");
      w.end();
      auto sent = c.sent.load() - sent0;
      auto received = c.received.load() - recv0;
      p.quiet->store(true);
      run.quiesce();
      run.wait([&] { return c.received.load() >= c.sent.load(); },
               std::chrono::seconds{10}, "drain");
      auto missing = c.sent.load() - std::min(c.sent.load(), c.received.load());
      run.stop();
      result_row r;
      r.num("connections", static_cast<double>(conns), 0)
        .num("target_msgs_per_s", rate, 0)
        .num("sent_per_s", static_cast<double>(sent) / w.seconds(), 0)
        .num("echoed_per_s", static_cast<double>(received) / w.seconds(), 0);
      add_outcome(r, c.latency, missing, w, "msg", received, 2);
      rows.push_back(std::move(r));
      return true;
    });
}

} // namespace tether::cli

// `tether bench fanout`: publishers send to one room at a fixed total rate;
// end-to-end latency at every subscriber (coordinated-omission corrected).

#include <algorithm>
#include <cmath>
#include <iostream>

#include "tools/cli/bench_client.hpp"

namespace tether::cli {

namespace {

struct fanout_load {
  size_t subs = 0;
  double rate = 0;
  size_t pubs = 0;
  /// Names the step's room and devices (a sweep's steps share a server).
  std::string tag;
};

// One publishers-to-one-room run on `s`: a row of figures, or false.
bool run_fanout(const server_target& s, const fanout_load& load,
                std::chrono::milliseconds warmup,
                std::chrono::milliseconds duration, size_t payload,
                protocol::codec codec, bool durable,
                std::vector<result_row>& rows) {
  auto subs = load.subs;
  auto pubs = load.pubs;
  fleet_run run{s};
  auto plan = std::make_shared<actors::fleet_plan>();
  auto members = std::make_shared<std::vector<std::string>>();
  for (size_t i = 0; i < subs; ++i)
    plan->devices.push_back(
      bench_device(s, "sub-" + load.tag + std::to_string(i), codec));
  for (size_t i = 0; i < pubs; ++i)
    plan->devices.push_back(
      bench_device(s, "pub-" + load.tag + std::to_string(i), codec));
  for (auto& d : plan->devices) {
    d.room = "fanout" + load.tag;
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
    static_cast<int64_t>(1e6 * static_cast<double>(pubs) / load.rate)};
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
    .num("deliveries_per_s", static_cast<double>(received) / w.seconds(), 0);
  add_outcome(r, c.latency, missing, w, "delivery", received, 3);
  rows.push_back(std::move(r));
  return true;
}

} // namespace

int bench_fanout(const arg_map& a, server_target& t) {
  std::string problem;
  auto subs = static_cast<size_t>(number_flag(a, "subscribers", 1000, problem));
  auto rate = number_flag(a, "rate", 100, problem);
  // One publisher per 100 msg/s by default: a connection may send
  // limits.rate_per_second (200) messages per second, the baseline has no
  // limit, and the comparison must not measure refusals.
  auto publishers = [](double r) {
    return static_cast<size_t>(std::max(1.0, std::ceil(r / 100.0)));
  };
  auto pubs = static_cast<size_t>(number_flag(
    a, "publishers", static_cast<double>(publishers(rate)), problem));
  auto warmup = seconds_flag(a, "warmup", 2, problem);
  auto duration = seconds_flag(a, "duration", 10, problem);
  auto payload = static_cast<size_t>(number_flag(a, "payload", 64, problem));
  auto codec = codec_flag(a, problem);
  auto durable = a.has("durable");
  // --sweep: rooms of 100, 1,000, 3,000 and 10,000 members at the same
  // deliveries per second (--deliveries), so that what grows with the room
  // shows in the cost of a delivery.
  auto deliveries = number_flag(a, "deliveries", 30000, problem);
  if (!problem.empty() || subs == 0 || pubs == 0 || rate <= 0
      || deliveries <= 0) {
    std::cerr << "tether bench fanout: "
              << (problem.empty() ? "counts and rates must be > 0" : problem)
              << "\n";
    return 2;
  }
  std::vector<fanout_load> loads;
  if (a.has("sweep")) {
    for (size_t n : {100, 1000, 3000, 10000}) {
      auto r = deliveries / static_cast<double>(n);
      loads.push_back({n, r, publishers(r), std::to_string(n) + "-"});
    }
  } else {
    loads.push_back({subs, rate, pubs, ""});
  }
  return run_compared(
    a, t,
    "fanout: publishers to one room, end-to-end latency at every "
    "subscriber (CO-corrected)",
    [&](const server_target& s, std::vector<result_row>& rows) {
      for (auto& load : loads)
        if (!run_fanout(s, load, warmup, duration, payload, codec, durable,
                        rows))
          return false;
      return true;
    });
}

} // namespace tether::cli

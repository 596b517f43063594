// `tether bench connect`: rounds of TCP connect + upgrade (token checked)
// until the welcome frame arrives, a window of handshakes at a time. Round
// 1 meets devices the server never saw, later rounds known ones.

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "runtime/ws_client_pool.hpp"
#include "tools/cli/bench_client.hpp"

namespace tether::cli {

namespace {

using steady = std::chrono::steady_clock;

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
  void on_frame(std::string_view, bool) override { finish(true); }
  void on_closed(uint16_t, uint32_t) override { finish(false); }

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
void connect_round(const server_target& t,
                   const std::vector<std::string>& tokens, size_t window,
                   protocol::codec codec, result_row& r) {
  auto n = tokens.size();
  runtime::client_pool pool{1};
  auto o = target_link(t);
  o.subprotocols = {std::string{protocol::subprotocol(codec)}};
  auto s = std::make_shared<connect_probe::shared>();
  std::vector<std::shared_ptr<actors::link_port>> links;
  links.reserve(n);
  usage_window w;
  w.begin(t.pids());
  auto deadline = steady::now() + std::chrono::seconds{120};
  for (size_t i = 0; i < n && steady::now() < deadline; ++i) {
    {
      std::unique_lock<std::mutex> guard{s->mx};
      s->cv.wait_until(guard, deadline, [&] { return s->in_flight < window; });
      ++s->in_flight;
    }
    o.token = tokens[i];
    o.source = source_address(t, i, n);
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
    .num("handshakes_per_s", static_cast<double>(done - failed) / w.seconds(),
         0)
    .num("failed", static_cast<double>(failed + (n - done)), 0);
  add_latency(r, s->latency);
  w.add_server_costs(r, "handshake", done - failed, 1);
}

} // namespace

int bench_connect(const arg_map& a, server_target& t) {
  std::string problem;
  auto n = static_cast<size_t>(number_flag(a, "connections", 10000, problem));
  auto window
    = static_cast<size_t>(number_flag(a, "concurrency", 128, problem));
  auto rounds = static_cast<int>(number_flag(a, "rounds", 2, problem));
  auto codec = codec_flag(a, problem);
  if (!problem.empty() || n == 0 || window == 0 || rounds < 1) {
    std::cerr << "tether bench connect: "
              << (problem.empty() ? "counts must be > 0" : problem) << "\n";
    return 2;
  }
  return run_compared(
    a, t,
    "connect: TCP connect + upgrade (token checked) until the welcome "
    "frame arrives",
    [&](const server_target& s, std::vector<result_row>& rows) {
      std::vector<std::string> tokens;
      for (size_t i = 0; i < n; ++i)
        tokens.push_back(
          bench_device(s, "conn-" + std::to_string(i), codec).token);
      // Round 1 meets devices the server never saw (each is recorded
      // durably); later rounds reconnect known devices, the everyday case.
      for (int i = 0; i < rounds; ++i) {
        if (i > 0)
          std::this_thread::sleep_for(
            std::chrono::seconds{2}); // old links gone
        result_row r;
        r.str("devices", i == 0 ? "new" : "known");
        connect_round(s, tokens, window, codec, r);
        rows.push_back(std::move(r));
      }
      return true;
    });
}

} // namespace tether::cli

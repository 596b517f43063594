#define CAF_SUITE actors.device_script
#include <caf/test/unit_test.hpp>

#include "actors/device/device_params.hpp"
#include "actors/device/device_script.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;
using tether::protocol::presence_status;
using tether::protocol::priority;
using timer = device_script::timer;

namespace {

using tp = device_script::time_point;
const tp t0 = tp{} + 1h;

device_params sender(std::chrono::microseconds interval) {
  device_params p;
  p.send_interval = interval;
  return p;
}

bool has(const std::vector<device_script::arm>& arms, timer t) {
  for (auto& a : arms)
    if (a.which == t)
      return true;
  return false;
}

device_script::duration after(const std::vector<device_script::arm>& arms,
                              timer t) {
  for (auto& a : arms)
    if (a.which == t)
      return a.after;
  return device_script::duration::max();
}

} // namespace

CAF_TEST(a silent device arms no timer) {
  device_params p;
  device_script s{p, false, false, 1};
  CAF_CHECK(s.start(t0).empty()); // acks are armed on demand
}

CAF_TEST(a sender starts at a random phase within one interval) {
  auto p = sender(100ms);
  device_script a{p, false, false, 1};
  device_script b{p, false, false, 2};
  auto pa = after(a.start(t0), timer::send);
  auto pb = after(b.start(t0), timer::send);
  CAF_CHECK(pa >= 0ms && pa < 100ms);
  CAF_CHECK(pb >= 0ms && pb < 100ms);
  CAF_CHECK(pa != pb); // not in lockstep
  // The same seed replays the same scenario.
  device_script again{p, false, false, 1};
  CAF_CHECK(after(again.start(t0), timer::send) == pa);
}

CAF_TEST(send ticks keep the schedule and carry intended times) {
  auto p = sender(10ms);
  device_script s{p, false, false, 7};
  auto phase = after(s.start(t0), timer::send);
  auto first = t0 + phase;
  auto step = s.on_send(first, true);
  CAF_REQUIRE_EQUAL(step.intended.size(), 1u);
  CAF_CHECK(step.intended[0] == first);
  CAF_CHECK(step.next == 10ms);
  // A tick 35 ms late sends the four it owes, each with its own time.
  step = s.on_send(first + 10ms + 35ms, true);
  CAF_REQUIRE_EQUAL(step.intended.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    CAF_CHECK(step.intended[i] == first + 10ms * (i + 1));
  CAF_CHECK(step.next == 5ms);
}

CAF_TEST(a late sender catches up with at most max_catch_up per tick) {
  auto p = sender(1ms);
  device_script s{p, false, false, 3};
  auto phase = after(s.start(t0), timer::send);
  auto step = s.on_send(t0 + phase + 1s, true);
  CAF_CHECK_EQUAL(step.intended.size(),
                  static_cast<size_t>(device_script::max_catch_up));
  CAF_CHECK(step.next == 0ms); // more owed: again at once
}

CAF_TEST(a paused sender sends nothing and starts afresh) {
  auto p = sender(10ms);
  device_script s{p, false, false, 3};
  auto phase = after(s.start(t0), timer::send);
  auto step = s.on_send(t0 + phase + 500ms, false);
  CAF_CHECK(step.intended.empty());
  CAF_CHECK(step.next == 10ms);
  // Resumed: nothing owed for the pause.
  step = s.on_send(t0 + phase + 510ms, true);
  CAF_CHECK_EQUAL(step.intended.size(), 1u);
}

CAF_TEST(scenario timers are armed by what the params ask) {
  device_params p;
  p.drops_per_minute = 60;
  p.background_every = 10s;
  p.status_every = 2s;
  p.slow_every = 4s;
  device_script s{p, true, true, 11};
  auto arms = s.start(t0);
  CAF_CHECK(has(arms, timer::drop));
  CAF_CHECK(has(arms, timer::background));
  CAF_CHECK(has(arms, timer::status));
  CAF_CHECK(has(arms, timer::slow));
  CAF_CHECK(!has(arms, timer::send));
  // Jittered into [0.5, 1.5) of their period.
  CAF_CHECK(after(arms, timer::background) >= 5s);
  CAF_CHECK(after(arms, timer::background) < 15s);
  CAF_CHECK(after(arms, timer::status) >= 1s);
  CAF_CHECK(after(arms, timer::status) < 3s);
  CAF_CHECK(after(arms, timer::slow) >= 2s);
  CAF_CHECK(after(arms, timer::slow) < 6s);
  CAF_CHECK(s.slow_for() == p.slow_for);
  device_script fast{p, true, false, 11};
  CAF_CHECK(!has(fast.start(t0), timer::slow));
}

CAF_TEST(drops are a Poisson process with the asked mean) {
  device_params p;
  p.drops_per_minute = 6; // one per 10 s on average
  device_script s{p, false, false, 5};
  double total_ms = 0;
  for (int i = 0; i < 2000; ++i)
    total_ms
      += std::chrono::duration<double, std::milli>(s.next_drop()).count();
  auto mean = total_ms / 2000;
  CAF_CHECK(mean > 9000 && mean < 11000);
}

CAF_TEST(presence churn cycles statuses and leaves and rejoins) {
  device_params p;
  p.status_every = 1s;
  device_script s{p, true, false, 9};
  std::vector<presence_status> seen;
  for (int i = 0; i < 3; ++i) {
    auto step = s.on_status(true);
    CAF_REQUIRE(step.action == device_script::status_action::set);
    seen.push_back(step.status);
    CAF_CHECK(step.next >= 500ms && step.next < 1500ms);
  }
  CAF_CHECK(seen
            == (std::vector<presence_status>{presence_status::away,
                                             presence_status::busy,
                                             presence_status::online}));
  CAF_CHECK(s.on_status(false).action == device_script::status_action::join);
  p.leave_share = 1.0;
  device_script leaver{p, true, false, 9};
  CAF_CHECK(leaver.on_status(true).action
            == device_script::status_action::leave);
}

CAF_TEST(priorities mix in the stated shares or stay normal) {
  device_params p;
  device_script s{p, false, false, 13};
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 10000; ++i)
    ++counts[static_cast<int>(s.next_priority())];
  CAF_CHECK(counts[static_cast<int>(priority::low)] > 800);
  CAF_CHECK(counts[static_cast<int>(priority::low)] < 1200);
  CAF_CHECK(counts[static_cast<int>(priority::normal)] > 5700);
  CAF_CHECK(counts[static_cast<int>(priority::high)] > 2200);
  CAF_CHECK(counts[static_cast<int>(priority::critical)] > 350);
  CAF_CHECK(counts[static_cast<int>(priority::critical)] < 650);
  p.mixed_priorities = false;
  device_script plain{p, false, false, 13};
  for (int i = 0; i < 100; ++i)
    CAF_CHECK(plain.next_priority() == priority::normal);
}

CAF_TEST(room share applies only with a room and not for echo) {
  device_params p;
  p.room_share = 0.5;
  device_script s{p, true, false, 17};
  int to_room = 0;
  for (int i = 0; i < 1000; ++i)
    to_room += s.next_to_room() ? 1 : 0;
  CAF_CHECK(to_room > 400 && to_room < 600);
  device_script roomless{p, false, false, 17};
  CAF_CHECK(!roomless.next_to_room());
  p.echo = true;
  device_script echo{p, true, false, 17};
  CAF_CHECK(!echo.next_to_room());
}

#pragma once

// The scenario of a simulated device (tether devices, tether bench) as a
// pure model: which timers run after the welcome, when each fires next,
// how many messages a send tick sends and with which intended times, what
// a presence-churn tick does, which priority and target a message gets.
// The device actor does what it says. Time and randomness are passed in
// (the actor clock, a seeded generator), so a scenario replays exactly.

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "protocol/model.hpp"
#include "protocol/presence.hpp"

namespace tether::actors {

struct device_params;

class device_script {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  /// The device's timers.
  enum class timer : uint8_t {
    send = 1,
    ack,
    drop,
    background,
    status,
    slow,
    unslow,
    welcome,
    give_up,
    foreground,
  };

  struct arm {
    timer which;
    duration after;
  };

  /// Bursts a late sender may catch up with per send tick.
  static constexpr int max_catch_up = 64;

  /// `in_room`: the device has a room; `slow`: it is a slow reader.
  device_script(const device_params& params, bool has_room, bool slow,
                uint32_t seed);

  /// The timers to arm once the device is welcomed (in this order). The
  /// ack timer is not among them: the device arms it when a delivery asks
  /// for an ack (an idle or fire-and-forget device has no timer per
  /// interval).
  std::vector<arm> start(time_point now);

  struct send_step {
    /// The intended send time of each message to send now, oldest first;
    /// a late tick catches up (at most max_catch_up), so lateness shows in
    /// the latency figures instead of hiding (coordinated omission).
    std::vector<time_point> intended;
    /// When to tick again.
    duration next{};
  };

  /// A send tick at `now`; `sending` false (not started, paused, quiet)
  /// sends nothing and starts the schedule afresh.
  send_step on_send(time_point now, bool sending);

  enum class status_action : uint8_t { leave, join, set };

  struct status_step {
    status_action action = status_action::set;
    /// For `set`: away, busy, online in turn.
    protocol::presence_status status = protocol::presence_status::online;
    duration next{};
  };

  /// A presence-churn tick while the device is (`in_room`) or is not in
  /// its room.
  status_step on_status(bool in_room);

  /// The gap before the next background cycle, link drop, or slow phase.
  duration next_background();
  duration next_drop();
  duration next_slow();
  /// How long a slow phase lasts.
  duration slow_for() const;

  /// The priority of the next message: all normal, or a mix (10 % low,
  /// 60 % normal, 25 % high, 5 % critical).
  protocol::priority next_priority();

  /// Whether the next message goes to the room (room_share) instead of a
  /// peer.
  bool next_to_room();

private:
  double uniform();
  duration jittered(std::chrono::milliseconds d);

  const device_params& params_;
  bool has_room_;
  bool slow_;
  std::minstd_rand rng_;
  time_point next_send_{};
  uint32_t status_ticks_ = 0;
};

} // namespace tether::actors

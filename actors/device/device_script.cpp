#include "actors/device/device_script.hpp"

#include <algorithm>

#include "actors/device/device_params.hpp"

namespace tether::actors {

using std::chrono::milliseconds;

device_script::device_script(const device_params& params, bool has_room,
                             bool slow, uint32_t seed)
  : params_(params), has_room_(has_room), slow_(slow), rng_(seed) {
  // nop
}

double device_script::uniform() {
  return std::uniform_real_distribution<double>{0.0, 1.0}(rng_);
}

// `d` scaled by a random factor in [0.5, 1.5).
device_script::duration device_script::jittered(milliseconds d) {
  return std::chrono::duration_cast<duration>(d * (0.5 + uniform()));
}

std::vector<device_script::arm> device_script::start(time_point now) {
  auto& p = params_;
  std::vector<arm> out;
  if (p.send_interval.count() > 0) {
    // A random phase, so that devices do not send in lockstep.
    auto phase
      = std::chrono::duration_cast<duration>(p.send_interval * uniform());
    next_send_ = now + phase;
    out.push_back({timer::send, phase});
  }
  if (p.drops_per_minute > 0)
    out.push_back({timer::drop, next_drop()});
  if (p.background_every.count() > 0)
    out.push_back({timer::background, next_background()});
  if (p.status_every.count() > 0)
    out.push_back({timer::status, jittered(p.status_every)});
  if (slow_)
    out.push_back({timer::slow, next_slow()});
  return out;
}

device_script::send_step device_script::on_send(time_point now, bool sending) {
  send_step out;
  auto interval = std::chrono::duration_cast<duration>(params_.send_interval);
  if (!sending) {
    next_send_ = now + interval;
  } else {
    for (int n = 0; next_send_ <= now && n < max_catch_up; ++n) {
      out.intended.push_back(next_send_);
      next_send_ += interval;
    }
  }
  out.next = std::max(next_send_ - now, duration::zero());
  return out;
}

device_script::status_step device_script::on_status(bool in_room) {
  status_step out;
  auto n = status_ticks_++;
  if (in_room && uniform() < params_.leave_share) {
    out.action = status_action::leave;
  } else if (!in_room) {
    out.action = status_action::join;
  } else {
    static constexpr protocol::presence_status cycle[]
      = {protocol::presence_status::away, protocol::presence_status::busy,
         protocol::presence_status::online};
    out.action = status_action::set;
    out.status = cycle[n % 3];
  }
  out.next = jittered(params_.status_every);
  return out;
}

device_script::duration device_script::next_background() {
  return jittered(params_.background_every);
}

device_script::duration device_script::next_drop() {
  // Drops are a Poisson process: exponential gaps.
  auto mean_ms = 60000.0 / params_.drops_per_minute;
  auto gap = std::exponential_distribution<double>{1.0 / mean_ms}(rng_);
  return milliseconds{static_cast<int64_t>(gap)};
}

device_script::duration device_script::next_slow() {
  return jittered(params_.slow_every);
}

device_script::duration device_script::slow_for() const {
  return params_.slow_for;
}

protocol::priority device_script::next_priority() {
  if (!params_.mixed_priorities)
    return protocol::priority::normal;
  auto u = uniform();
  if (u < 0.10)
    return protocol::priority::low;
  if (u < 0.70)
    return protocol::priority::normal;
  if (u < 0.95)
    return protocol::priority::high;
  return protocol::priority::critical;
}

bool device_script::next_to_room() {
  return has_room_ && !params_.echo && uniform() < params_.room_share;
}

} // namespace tether::actors

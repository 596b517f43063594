#include "runtime/admission.hpp"

#include <algorithm>
#include <cmath>

namespace tether::runtime {

admission::admission(uint32_t rate, uint32_t burst, time_point now)
  : rate_(rate), burst_(std::max<double>(1, burst)), tokens_(burst_),
    last_(now), promised_(now) {
  // nop
}

admission::verdict admission::admit(time_point now, double jitter) {
  if (rate_ == 0)
    return {};
  if (now > last_) {
    std::chrono::duration<double> dt = now - last_;
    tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
    last_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return {};
  }
  // The slot after the last one given (none in the past, none beyond
  // max_wait).
  using namespace std::chrono;
  auto step
    = duration_cast<steady_clock::duration>(duration<double>{1.0 / rate_});
  promised_ = std::min(std::max(promised_, now) + step, now + max_wait);
  auto wait
    = duration_cast<duration<double, std::milli>>(promised_ - now)
      + duration<double, std::milli>{1000 * std::clamp(jitter, 0.0, 1.0)};
  verdict v;
  v.admitted = false;
  v.retry_after = milliseconds{static_cast<int64_t>(std::ceil(wait.count()))};
  return v;
}

} // namespace tether::runtime

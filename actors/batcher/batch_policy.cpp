#include "actors/batcher/batch_policy.hpp"

#include <algorithm>

namespace tether::actors {

void batch_policy::add(time_point, uint64_t bytes, protocol::priority prio) {
  if (pending_ == 0)
    max_prio_ = prio;
  else
    max_prio_ = std::max(max_prio_, prio);
  ++pending_;
  pending_bytes_ += bytes;
}

batch_policy::decision batch_policy::decide_flush(time_point now) const {
  decision d;
  if (pending_ == 0 || in_flight_ >= params_.max_frames_in_flight)
    return d; // wait for input or credit
  auto take = params_.enabled ? std::min(pending_, params_.max_items) : 1u;
  auto flush_now = [&] {
    d.flush = true;
    d.take = take;
    return d;
  };
  if (!params_.enabled || max_prio_ >= params_.flush_priority
      || pending_ >= params_.max_items || pending_bytes_ >= params_.max_bytes)
    return flush_now();
  // The socket is idle: waiting would only add latency. Messages coalesce
  // while a frame is being written, for at most max_delay.
  if (in_flight_ == 0 || !last_flush_
      || now - *last_flush_ >= params_.max_delay)
    return flush_now();
  d.wake_at = *last_flush_ + params_.max_delay;
  return d;
}

void batch_policy::flushed(time_point now, uint32_t items, uint64_t bytes) {
  items = std::min(items, pending_);
  pending_ -= items;
  pending_bytes_
    = pending_ == 0 || bytes > pending_bytes_ ? 0 : pending_bytes_ - bytes;
  if (pending_ == 0)
    max_prio_ = protocol::priority::low;
  ++in_flight_;
  last_flush_ = now;
}

void batch_policy::written() noexcept {
  if (in_flight_ > 0)
    --in_flight_;
}

} // namespace tether::actors

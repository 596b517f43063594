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
  sizes_.push_back(bytes);
}

batch_policy::decision batch_policy::decide(time_point now) const {
  decision d;
  if (pending_ == 0 || in_flight_ >= params_.max_frames_in_flight)
    return d; // wait for input or credit
  uint32_t take = 1;
  if (params_.enabled) {
    auto most = std::min(pending_, params_.max_items);
    uint64_t bytes = sizes_[0];
    while (take < most && bytes + sizes_[take] <= params_.max_bytes)
      bytes += sizes_[take++];
  }
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

void batch_policy::flushed(time_point now, uint32_t items) {
  items = std::min(items, pending_);
  pending_ -= items;
  for (uint32_t i = 0; i < items; ++i) {
    pending_bytes_ -= sizes_.front();
    sizes_.pop_front();
  }
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

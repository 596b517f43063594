#include "actors/connection/route_gate.hpp"

namespace tether::actors {

void route_gate::done() {
  if (in_flight_ > 0)
    --in_flight_;
  if (draining_)
    return; // a work item completed at once: the loop below goes on
  draining_ = true;
  while (!waiting_.empty()
         && (in_flight_ == 0 || waiting_.front().first == lane_)) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    lane_ = next.first;
    ++in_flight_;
    next.second();
  }
  draining_ = false;
}

} // namespace tether::actors

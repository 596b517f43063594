#include "actors/orchestrator/restart_budget.hpp"

namespace tether::actors {

bool restart_budget::charge(time_point now) {
  while (!restarts_.empty() && now - restarts_.front() >= params_.period)
    restarts_.pop_front();
  if (restarts_.size() >= params_.max_restarts)
    return false;
  restarts_.push_back(now);
  return true;
}

} // namespace tether::actors

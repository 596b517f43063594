#include "actors/directory/dedup_window.hpp"

namespace tether::actors {

std::optional<uint32_t> dedup_window::seen(const std::string& id,
                                           int64_t now_ms) const {
  auto i = ids_.find(id);
  if (i == ids_.end() || now_ms - i->second.at_ms >= window_)
    return std::nullopt;
  return i->second.recipients;
}

void dedup_window::remember(std::string id, uint32_t recipients,
                            int64_t now_ms) {
  if (capacity_ == 0)
    return;
  // The oldest go first: expired ones, and as many as the capacity needs.
  // An entry of `order_` whose id was remembered again later is stale.
  while (
    !order_.empty()
    && (now_ms - order_.front().first >= window_ || ids_.size() >= capacity_)) {
    auto& [at, key] = order_.front();
    if (auto i = ids_.find(key); i != ids_.end() && i->second.at_ms == at)
      ids_.erase(i);
    order_.pop_front();
  }
  auto [i, added] = ids_.try_emplace(id, entry{now_ms, recipients});
  if (!added) {
    if (now_ms - i->second.at_ms < window_)
      return; // the first acceptance stands
    i->second = entry{now_ms, recipients};
  }
  order_.emplace_back(now_ms, std::move(id));
}

} // namespace tether::actors

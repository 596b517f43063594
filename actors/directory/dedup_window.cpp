#include "actors/directory/dedup_window.hpp"

#include <functional>

namespace tether::actors {

namespace {

uint64_t hash_of(const std::string& id) {
  return std::hash<std::string>{}(id);
}

} // namespace

size_t dedup_window::find(const std::string& id, uint64_t hash) const {
  if (index_.empty())
    return npos;
  auto mask = index_.size() - 1;
  for (auto cell = hash & mask; index_[cell] != 0; cell = (cell + 1) & mask) {
    auto& s = ring_[index_[cell] - 1];
    if (s.hash == hash && s.id == id)
      return cell;
  }
  return npos;
}

size_t dedup_window::cell_of(size_t pos) const {
  auto mask = index_.size() - 1;
  auto cell = ring_[pos].hash & mask;
  while (index_[cell] != pos + 1)
    cell = (cell + 1) & mask;
  return cell;
}

void dedup_window::unindex(size_t cell) {
  auto mask = index_.size() - 1;
  index_[cell] = 0;
  // Backward shift: a later entry of the probe run moves into the hole
  // unless its home lies (cyclically) after the hole.
  for (auto next = (cell + 1) & mask; index_[next] != 0;
       next = (next + 1) & mask) {
    auto home = ring_[index_[next] - 1].hash & mask;
    auto stays = cell <= next ? (cell < home && home <= next)
                              : (cell < home || home <= next);
    if (stays)
      continue;
    index_[cell] = index_[next];
    index_[next] = 0;
    cell = next;
  }
}

void dedup_window::index(size_t pos) {
  auto mask = index_.size() - 1;
  auto cell = ring_[pos].hash & mask;
  while (index_[cell] != 0)
    cell = (cell + 1) & mask;
  index_[cell] = static_cast<uint32_t>(pos + 1);
}

void dedup_window::pop_front() {
  auto& s = ring_[head_];
  if (s.live) {
    unindex(cell_of(head_));
    --live_;
  }
  s = slot{};
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

void dedup_window::grow() {
  if (count_ < ring_.size())
    return;
  auto size = std::min(capacity_, std::max<size_t>(8, ring_.size() * 2));
  std::vector<slot> ring;
  ring.reserve(size);
  for (size_t k = 0; k < count_; ++k)
    ring.push_back(std::move(ring_[ring_pos(k)]));
  ring.resize(size);
  ring_ = std::move(ring);
  head_ = 0;
  size_t cells = 1;
  while (cells < 2 * size)
    cells *= 2;
  index_.assign(cells, 0);
  for (size_t pos = 0; pos < count_; ++pos)
    if (ring_[pos].live)
      index(pos);
}

std::optional<uint32_t> dedup_window::seen(const std::string& id,
                                           int64_t now_ms) const {
  auto cell = find(id, hash_of(id));
  if (cell == npos)
    return std::nullopt;
  auto& s = ring_[index_[cell] - 1];
  if (now_ms - s.at_ms >= window_)
    return std::nullopt;
  return s.recipients;
}

void dedup_window::remember(std::string id, uint32_t recipients,
                            int64_t now_ms) {
  if (capacity_ == 0)
    return;
  // The oldest go first: expired or forgotten ones, and as many as the
  // capacity needs.
  while (count_ > 0) {
    auto& front = ring_[head_];
    if (count_ < capacity_ && front.live && now_ms - front.at_ms < window_)
      break;
    pop_front();
  }
  auto hash = hash_of(id);
  if (auto cell = find(id, hash); cell != npos) {
    auto& s = ring_[index_[cell] - 1];
    if (now_ms - s.at_ms < window_)
      return; // the first acceptance stands
    // Accepted afresh past its window: the old slot only waits to leave.
    s.live = false;
    s.id = {};
    unindex(cell);
    --live_;
  }
  grow();
  auto pos = ring_pos(count_);
  ring_[pos] = slot{std::move(id), hash, now_ms, recipients, true};
  ++count_;
  ++live_;
  index(pos);
}

void dedup_window::forget(const std::string& id) {
  auto cell = find(id, hash_of(id));
  if (cell == npos)
    return;
  auto& s = ring_[index_[cell] - 1];
  s.live = false;
  s.id = {};
  unindex(cell);
  --live_;
}

} // namespace tether::actors

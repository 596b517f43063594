#include "actors/cluster/replication.hpp"

#include <algorithm>

#include "actors/directory/placement.hpp"

namespace tether::actors {

std::vector<std::string>
followers_of(std::string_view key, std::string_view leader,
             const std::vector<std::string>& live, size_t factor) {
  std::vector<std::pair<uint64_t, const std::string*>> ranked;
  for (auto& m : live)
    if (m != leader)
      ranked.emplace_back(rendezvous_weight(m, key), &m);
  // Highest weight first; the smaller id on a tie (as home_of).
  std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  for (auto& [w, m] : ranked) {
    if (out.size() + 1 >= factor)
      break;
    out.push_back(*m);
  }
  return out;
}

quorum_count::quorum_count(size_t factor, size_t followers) noexcept
  : need_(replica_quorum(factor)), open_(followers + 1) {}

bool quorum_count::stored() noexcept {
  if (open_ == 0)
    return false;
  --open_;
  ++copies_;
  return copies_ == need_;
}

bool quorum_count::failed() noexcept {
  if (open_ == 0 || done())
    return false;
  auto before = hopeless();
  --open_;
  return !before && hopeless();
}

std::optional<std::string>
successor(const std::vector<std::string>& followers,
          const std::function<bool(const std::string&)>& alive) {
  for (auto& f : followers)
    if (alive(f))
      return f;
  return std::nullopt;
}

std::vector<uint64_t> missing_rows(std::vector<uint64_t> mine,
                                   std::vector<uint64_t> theirs) {
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  theirs.erase(std::unique(theirs.begin(), theirs.end()), theirs.end());
  std::vector<uint64_t> out;
  std::set_difference(theirs.begin(), theirs.end(), mine.begin(), mine.end(),
                      std::back_inserter(out));
  return out;
}

} // namespace tether::actors

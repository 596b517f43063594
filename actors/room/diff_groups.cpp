#include "actors/room/diff_groups.hpp"

#include <algorithm>
#include <map>

namespace tether::actors {

std::vector<diff_group>
group_diffs(const std::vector<protocol::presence_entry>& changes,
            const std::vector<const member_state*>& subscribers) {
  std::vector<diff_group> out;
  std::map<std::vector<bool>, size_t> index; // selection -> group
  for (auto* s : subscribers) {
    std::vector<bool> selected(changes.size(), false);
    for (size_t i = 0; i < changes.size(); ++i) {
      auto& e = changes[i];
      selected[i] = (e.user_id != s->user_id || e.device_id != s->device_id)
                    && presence_set::wants(*s, e);
    }
    if (std::none_of(selected.begin(), selected.end(),
                     [](bool b) { return b; }))
      continue;
    auto [at, added] = index.try_emplace(std::move(selected), out.size());
    if (added) {
      diff_group g;
      for (size_t i = 0; i < changes.size(); ++i)
        if (at->first[i])
          g.changes.push_back(changes[i]);
      out.push_back(std::move(g));
    }
    out[at->second].subscribers.push_back(s);
  }
  return out;
}

} // namespace tether::actors

#pragma once

// Which presence diff goes to whom: a room's pending changes, split by its
// subscribers' filters into as few messages as there are distinct
// selections. Pure.

#include <vector>

#include "actors/room/presence_set.hpp"

namespace tether::actors {

/// One diff message: the changes it carries, in the order they came, and
/// the subscribers it goes to.
struct diff_group {
  std::vector<protocol::presence_entry> changes;
  std::vector<const member_state*> subscribers;
};

/// Each subscriber gets the changes its filters let through
/// (presence_set::wants), never one about itself; subscribers that get the
/// same changes share one group (encoded once); a subscriber with nothing
/// to get is in no group. Groups come in the order of their first
/// subscriber.
std::vector<diff_group>
group_diffs(const std::vector<protocol::presence_entry>& changes,
            const std::vector<const member_state*>& subscribers);

} // namespace tether::actors

#pragma once

// A node's overview for the dashboard (SPEC §15, GET /api/v1/overview): its
// counters (node_metrics), its queues and rooms. The orchestrator gathers
// the summaries from its children; this picks what is shown and writes the
// JSON. Counters are totals since the node started: a reader takes rates
// from two overviews.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/records.hpp"

namespace tether::actors {

struct node_overview {
  std::string node_id;
  /// When the node started (epoch ms).
  int64_t started_ms = 0;
  /// Every queue and room that answered.
  std::vector<queue_summary> queues;
  std::vector<room_summary> rooms;
  /// Children that did not answer in time (counted, not shown).
  uint32_t unanswered = 0;
};

struct overview_limits {
  /// Queues listed: slow ones first, then the deepest.
  size_t queues = 20;
  /// Rooms listed: the most members first.
  size_t rooms = 50;
};

/// The node object of SPEC §15 (`"state":"alive"`), in one JSON object.
std::string render_overview(node_overview o, const node_metrics& m,
                            overview_limits limits = {});

/// The node object of a member that could not be asked: its id and state.
std::string render_absent_node(const std::string& node_id,
                               const std::string& state);

} // namespace tether::actors

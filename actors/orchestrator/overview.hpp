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

namespace tether::actors {

/// One device queue as the dashboard shows it (node-local: rendered to
/// JSON on its node).
struct queue_summary {
  std::string user_id;
  std::string device_id;
  /// Queued, never delivered.
  uint32_t waiting = 0;
  /// Delivered, not yet retired.
  uint32_t unacked = 0;
  uint64_t bytes = 0;
  /// Age of the oldest waiting message (0: none waits).
  int64_t oldest_age_ms = 0;
  bool connected = false;
  /// Connected, and its oldest waiting message is older than
  /// queue.slow_after (a slow consumer).
  bool slow = false;
};

/// One room as the dashboard shows it (node-local).
struct room_summary {
  std::string name;
  /// Members in the room's cluster-wide view.
  uint32_t members = 0;
  /// Of them, connected to this node.
  uint32_t local = 0;
};

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

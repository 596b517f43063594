#pragma once

// The QUEUE actor: one per known device, spawned by the orchestrator on
// demand and outliving the device's connections. It applies the decisions
// of its device_queue: admission and eviction, TTL, delivery order, seq
// numbers, retirement on acks and writes, redelivery with backoff, dead
// letters, gap notices and slow-consumer detection. Durable messages
// (requiresAck or offlineCapable) are written through the STORE before the
// enqueue is answered, so that a sender's `received` means "on disk".

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/lazy_deque.hpp"
#include "actors/metrics.hpp"
#include "actors/queue/delivered_ids.hpp"
#include "actors/queue/device_queue.hpp"
#include "actors/queue/gap_ledger.hpp"
#include "actors/queue/push_policy.hpp"
#include "actors/wall_clock.hpp"
#include "config/settings.hpp"

namespace tether::actors {

/// The delivered_window of a replicated cluster's queues: what one copy of
/// a queue may hold that another delivered (a takeover's, at least).
constexpr size_t replicated_delivered_window = 4096;

struct queue_actor_params {
  queue_params queue;
  /// A detached queue without memory-only messages quits after this (its
  /// durable messages wait in the store).
  std::chrono::milliseconds resume_window
    = config::queue_settings{}.resume_window;
  /// An attached queue that held nothing this long offers its release to
  /// its home (0: never): an idle device then costs no queue actor, and
  /// the next message starts one again from the record the home keeps.
  std::chrono::milliseconds release_after
    = config::queue_settings{}.release_after;
  /// Sequence numbers reserved on disk per write; bounds the write rate.
  uint64_t seq_block = 4096;
  /// Bounds a handover to another node (node.request_timeout); a failed
  /// one is retried with backoff while the device stays there.
  std::chrono::milliseconds handover_timeout
    = config::node_settings{}.request_timeout;
  /// When waiting messages call for a push (push_policy.hpp), and who sends
  /// it (none: this node pushes nothing).
  push_params push = config::push_settings{}.push;
  pusher_actor pusher;
  /// How many ids of delivered messages a queue remembers, to drop them
  /// when a copy of the device's queue hands them over again (SPEC §14.3;
  /// 0 without replication, where no copy can).
  size_t delivered_window = 0;
  /// TEST SEAM (wall_clock.hpp): zero or null in production.
  test_clock_skew_ptr test_clock_skew;
};

/// Where a queue starts from: the store (a device's first queue, a node
/// restart), or the record of its released predecessor, attached to the
/// device's connection if there is one.
struct queue_restore {
  std::optional<queue_record> record;
  connection_actor conn;
};

struct queue_state {
  device_identity owner;
  /// The device's directory shard, which keeps a released queue's record.
  queue_home home;
  queue_actor_params params;
  store_actor store;
  std::shared_ptr<node_metrics> metrics;
  device_queue q;
  std::string epoch;
  /// The queue's generation (SPEC §14.3): carried by its handovers.
  uint64_t gen = 0;
  /// Messages delivered here (delivered_window of them).
  delivered_ids delivered;
  /// Highest seq reserved on disk; deliveries never pass it.
  uint64_t seq_reserved = 0;
  bool reserving = false;
  uint64_t next_qid = 1;
  // -- the attached connection and its batcher (spawned on first use) --
  connection_actor conn;
  batcher_actor batcher;
  /// The connection was asked for its batcher.
  bool batcher_asked = false;
  /// When the queue last held or took something (wall ms), and whether it
  /// offered its release since.
  int64_t active_ms = 0;
  bool release_offered = false;
  /// Messages the batcher can take now.
  uint32_t demand = 0;
  /// The batcher's write credit: the messages handed to it since its
  /// count stood at `absorbed` (their seqs, in order) are written as far
  /// as progress->written() says.
  write_progress_ptr progress;
  uint64_t absorbed = 0;
  lazy_deque<uint64_t> handed;
  /// absorb()'s buffers: the seqs written since the last look, the no-ack
  /// messages among them that retire.
  std::vector<uint64_t> written_seqs;
  std::vector<queue_entry> written_done;
  std::optional<int64_t> detached_since_ms;
  // -- drops the device is told about (tether.gap) --
  gap_ledger gaps;
  /// A write of the counters is on its way (atom::gaps to itself).
  bool gaps_pending = false;
  // -- handover (cluster): the device is connected to another node --
  peer_link_actor handover_to;
  /// Messages on their way there (put back if that fails).
  std::vector<queue_entry> handing;
  bool in_handover = false;
  std::chrono::milliseconds handover_retry{0};
  // -- pushes (SPEC §5.10) --
  push_state push;
  /// When the next push is due at the earliest (checked exactly then).
  std::optional<int64_t> push_at_ms;
  // -- timers --
  uint64_t tick_generation = 0;
  std::optional<int64_t> tick_at_ms;
  wall_clock clock;

  static inline const char* name = "queue";
};

queue_actor::behavior_type
queue(queue_actor::stateful_pointer<queue_state> self, device_identity owner,
      store_actor store, const queue_actor_params& params,
      std::shared_ptr<node_metrics> metrics, queue_home home,
      queue_restore restore);

} // namespace tether::actors

#pragma once

// The queue of one device: messages waiting for delivery (by priority, FIFO
// within a priority) and messages delivered but not yet retired. Bounded by
// items and bytes with a named overflow policy; per-message TTL; a
// per-device delivery sequence number; acks (cumulative by seq or by message
// id), write completions, ack timeouts with backoff and dead-lettering.
// Pure: time (epoch milliseconds) is passed in.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/lazy_deque.hpp"
#include "protocol/codec.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

/// What to do when a message does not fit.
enum class overflow_policy : uint8_t {
  /// Evict the oldest messages of the lowest priority present, never a
  /// critical one and never one of higher priority than the newcomer;
  /// refuse the newcomer if that does not make room.
  evict_lowest,
  /// Never evict; refuse the newcomer.
  refuse_new,
};

std::string_view to_string(overflow_policy x) noexcept;
bool from_string(std::string_view s, overflow_policy& x) noexcept;

struct queue_params {
  /// Queued + unretired messages per device (the original's maxSize).
  uint32_t max_items = 1000;
  /// Their encoded bytes; bounds the memory an offline device can pin.
  uint64_t max_bytes = 8 * 1024 * 1024;
  overflow_policy overflow = overflow_policy::evict_lowest;
  /// TTL when a message has none, by priority (low, normal, high, critical):
  /// stale low-priority chatter goes first, commands last a day.
  std::array<std::chrono::milliseconds, 4> default_ttl{std::chrono::hours{1},
                                                       std::chrono::hours{12},
                                                       std::chrono::hours{24},
                                                       std::chrono::hours{24}};
  /// First wait for a device ack before redelivering.
  std::chrono::milliseconds ack_timeout{10000};
  /// Growth of that wait per attempt.
  double ack_backoff = 2.0;
  /// Deliveries before a message that is never acked is dead-lettered.
  uint32_t max_attempts = 5;
  /// Delivered but unretired messages per device; bounds redelivery work.
  uint32_t max_inflight = 256;
  /// An attached device whose oldest waiting message is older than this is
  /// a slow consumer (closed with 4002; its queue stays).
  std::chrono::milliseconds slow_after{30000};
};

/// One message in a device queue.
struct queue_entry {
  /// Key in the durable store; 0 for memory-only messages.
  uint64_t key = 0;
  protocol::message_ptr msg;
  protocol::priority prio = protocol::priority::normal;
  uint64_t bytes = 0;
  int64_t enqueued_ms = 0;
  int64_t expires_ms = 0;
  /// requiresAck: retired by a device ack only.
  bool needs_ack = false;
  /// Stored durably (requiresAck or offlineCapable).
  bool durable = false;
  /// Pre-encoded forms shared by a broadcast's recipients (may be null).
  std::shared_ptr<const protocol::encoded_forms> encoded;
  // -- delivery state --
  /// Per-device delivery sequence number; 0 until first delivered.
  uint64_t seq = 0;
  uint32_t attempts = 0;
  /// When to redeliver if still unacked (needs_ack only).
  int64_t retry_ms = 0;
};

class device_queue {
public:
  explicit device_queue(queue_params params = {}, uint64_t next_seq = 1);

  struct offer_result {
    bool accepted = false;
    std::vector<queue_entry> evicted;
  };

  /// Admits `e` (its ttl applied by the caller) or refuses it; on admission
  /// may evict per the overflow policy.
  offer_result offer(queue_entry e);

  /// Admits a server notice (tether.gap) regardless of the caps, ahead of
  /// the messages of its priority: the device must learn about drops even
  /// when its queue is full. The caller keeps at most one notice queued.
  void offer_notice(queue_entry e);

  /// Checks admission without changing anything.
  bool fits(protocol::priority prio, uint64_t bytes) const;

  /// The next message to deliver: redeliveries first (in seq order), then
  /// waiting messages by priority. Assigns the seq on first delivery and
  /// counts the attempt. Expired messages are never returned (see
  /// take_expired). Returns nullptr if nothing is due or the inflight window
  /// is full.
  const queue_entry* next(int64_t now_ms);

  /// Messages next() found expired and removed instead of delivering.
  std::vector<queue_entry> take_expired();

  /// Retires every delivered message with seq <= `seq` (cumulative ack);
  /// nothing for a seq this queue never gave (another incarnation's).
  std::vector<queue_entry> ack_upto(uint64_t seq);

  /// Retires the delivered message with this id, if any.
  std::optional<queue_entry> ack_id(const std::string& message_id);

  /// Retires the no-ack messages whose frames were written to the socket.
  std::vector<queue_entry> written(const std::vector<uint64_t>& seqs);
  /// The same, appended to `out` (a caller's buffer, kept between calls).
  void written(const std::vector<uint64_t>& seqs,
               std::vector<queue_entry>& out);

  /// Removes every message whose TTL passed.
  std::vector<queue_entry> expire(int64_t now_ms);

  struct withdraw_result {
    /// Never delivered: the device did not have them.
    std::vector<queue_entry> unsent;
    /// Delivered, not retired yet: the device has a copy.
    std::vector<queue_entry> delivered;
    /// Ids found here whose sender said `withdrawable: false` (they stay).
    std::vector<std::string> kept;
  };

  /// Removes the messages with these ids (another device of the user
  /// handled them), unless their sender said `withdrawable: false`. The
  /// server's own notices (`tether.*`) are never withdrawn.
  withdraw_result withdraw(const std::vector<std::string>& ids);

  /// Removes the waiting (never delivered) messages of type `type`: a
  /// notice that a merged one replaces.
  std::vector<queue_entry> take_waiting(std::string_view type);

  struct timeout_result {
    /// Unacked past their retry time: queued for redelivery.
    size_t redeliver = 0;
    /// Out of attempts: removed (dead letters).
    std::vector<queue_entry> dead;
  };

  /// Applies ack timeouts at `now_ms`.
  timeout_result check_timeouts(int64_t now_ms);

  /// The device disconnected or resumed: every delivered, unretired message
  /// is delivered again (same seq) before anything else.
  void redeliver_all();

  /// Whether an attached device is too far behind (oldest waiting message
  /// older than slow_after).
  bool slow(int64_t now_ms) const;

  /// The earliest expiry or retry time, if any. Every enqueue and delivery
  /// asks: amortized O(log n) (a full count per ask was 13 % of a fan-out
  /// profile with long queues; a recount whenever the earliest one went made
  /// each retirement of a long queue O(n), its FIFO order retiring the
  /// earliest deadline every time).
  std::optional<int64_t> next_deadline() const;

  /// Whether a redelivery is waiting (it reuses its seq).
  bool redelivery_due() const noexcept { return !redeliver_.empty(); }

  /// Enqueue time of the oldest waiting (never delivered) message.
  std::optional<int64_t> oldest_waiting_ms() const;

  /// Messages that exist in memory only (not durable).
  size_t memory_only() const noexcept { return memory_only_; }

  size_t size() const noexcept { return count_; }
  uint64_t bytes() const noexcept { return bytes_; }
  size_t waiting() const noexcept;
  size_t inflight() const noexcept { return inflight_.size(); }
  uint64_t next_seq() const noexcept { return next_seq_; }

  /// Removes every message, delivered ones first (by seq), then waiting
  /// ones by priority, FIFO within one: a queue handed to another node.
  std::vector<queue_entry> take_all();

  /// Puts back what take_all() took (a handover that failed), ahead of
  /// what came meanwhile and regardless of the caps, in the same order;
  /// they are delivered as new (seq and attempts reset).
  void restore(std::vector<queue_entry> entries);

  /// Every message, delivered ones first (for snapshots and tests).
  std::vector<const queue_entry*> entries() const;

private:
  static size_t index(protocol::priority p) noexcept {
    return static_cast<size_t>(p);
  }

  void account_remove(const queue_entry& e) noexcept;
  /// Keep next_deadline's heaps: a deadline `t` was added / went away.
  void deadline_added(int64_t t);
  void deadline_removed(int64_t t);
  /// The deadlines of the entries, counted again (when gone ones pile up).
  void recount_deadlines() const;
  queue_entry take_inflight(std::map<uint64_t, queue_entry>::iterator i);
  /// Moves the waiting messages `pred` selects to `out`, lane by lane in
  /// their order (defined and used in the .cpp only).
  template <class Pred>
  void take_waiting_if(Pred pred, std::vector<queue_entry>& out);
  /// The same for the delivered, unretired ones, by seq.
  template <class Pred>
  void take_inflight_if(Pred pred, std::vector<queue_entry>& out);

  queue_params params_;
  uint64_t next_seq_;
  /// Waiting messages, one FIFO per priority.
  std::array<lazy_deque<queue_entry>, 4> waiting_;
  /// Delivered, not retired; by seq.
  std::map<uint64_t, queue_entry> inflight_;
  /// message id -> seq of delivered messages that need an ack (acks by
  /// id; a fan-out without acks paid a string hash per delivery here).
  std::unordered_map<std::string, uint64_t> by_id_;
  /// Seqs to deliver again, in order.
  lazy_deque<uint64_t> redeliver_;
  /// Found expired by next().
  std::vector<queue_entry> expired_;
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  size_t memory_only_ = 0;
  /// Every entry's deadlines as a min-heap with lazy deletion: `gone_` is
  /// a min-heap of deadlines removed from `deadlines_` but still in it; the
  /// two drop their common minimum when asked.
  mutable std::vector<int64_t> deadlines_;
  mutable std::vector<int64_t> gone_;
};

} // namespace tether::actors

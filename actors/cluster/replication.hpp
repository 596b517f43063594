#pragma once

// Replicated device queues (SPEC §14.3): the decisions, pure.
//
// With cluster.replication_factor R above 1, a device queue has a replica
// set: its leader (the node holding the queue: where the device is
// connected, or was last) and R - 1 followers, the live members after it by
// rendezvous weight of the device's key. A durable message is acked
// `received` once a majority of the set has it on disk. When the leader is
// gone, the first live follower of the leader's list gathers what the other
// live followers hold that it lacks (catch-up) and takes the queue over
// under the next generation. A returning old leader hands what it holds on
// to the device's queue, which drops what it delivered already.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::actors {

/// The largest replication factor a node accepts.
inline constexpr size_t max_replication_factor = 5;

/// Copies on disk before an ack `received`: a majority of the factor.
constexpr size_t replica_quorum(size_t factor) noexcept {
  return factor / 2 + 1;
}

/// The followers of the queue with placement key `key` led by `leader`:
/// the first factor - 1 live members other than the leader, by rendezvous
/// weight for the key (highest first; fewer if fewer are live).
std::vector<std::string>
followers_of(std::string_view key, std::string_view leader,
             const std::vector<std::string>& live, size_t factor);

/// A durable write's way to its quorum: the leader's own commit and the
/// answers of the followers it was sent to.
class quorum_count {
public:
  quorum_count(size_t factor, size_t followers) noexcept;

  /// One more copy is on disk. True once, when the quorum is reached.
  bool stored() noexcept;

  /// A follower could not store it (refused, unreachable, timed out). True
  /// once, when the quorum can no longer be reached.
  bool failed() noexcept;

  bool done() const noexcept { return copies_ >= need_; }
  bool hopeless() const noexcept { return copies_ + open_ < need_; }

private:
  size_t need_;
  size_t copies_ = 0;
  /// Copies that may still come.
  size_t open_;
};

/// The copies (of followers: the leader is gone) a takeover must gather,
/// its own among them: enough to meet every majority the leader could have
/// acked with (factor - quorum + 1). With fewer reachable (a minority side
/// of a partition), no takeover: what it lacks may have been acked.
constexpr size_t takeover_copies(size_t factor) noexcept {
  return factor - replica_quorum(factor) + 1;
}

/// Failover: the follower that takes over a queue whose leader is gone,
/// the first live one of the leader's follower list (none: no copy is
/// left on a live member).
std::optional<std::string>
successor(const std::vector<std::string>& followers,
          const std::function<bool(const std::string&)>& alive);

/// Catch-up: of the rows another copy holds (queue keys, any order), those
/// this copy lacks, in order. A row retired on one copy and not yet on the
/// other is kept: a duplicate with the same id, never a loss.
std::vector<uint64_t> missing_rows(std::vector<uint64_t> mine,
                                   std::vector<uint64_t> theirs);

/// The generation of a queue (at `mine`) that messages were handed to from
/// a queue of the device at generation `sender`: the next one after the
/// sender's, never lower than its own. A queue told that the device's queue
/// is elsewhere always hands its messages over, whatever its generation: an
/// older one may be a lineage that started while the newer one's node was
/// away (the device connected elsewhere then), whose acked messages exist
/// nowhere else; the receiving queue merges them and keeps its generation.
constexpr uint64_t generation_after_handover(uint64_t mine,
                                             uint64_t sender) noexcept {
  return mine > sender ? mine : sender + 1;
}

/// The generation a follower takes a queue over with (a leader's copies
/// carry its generation).
constexpr uint64_t takeover_generation(uint64_t copy) noexcept {
  return copy + 1;
}

} // namespace tether::actors

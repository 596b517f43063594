#pragma once

// How far a connection's frames have been written: write credit as a
// counter instead of a message per frame. The session's write completion
// advances it (on the session's thread); the batcher and the device's
// queue read it whenever they run. A message goes only to a side that
// waits for it: the batcher holding messages until a frame in flight is
// written, or the queue out of demand with messages to hand out. So a
// device that keeps up costs no actor message per written frame.
//
// Counts are messages, in the order the batcher took them from its queue
// (it writes them in that order, one frame at a time): a frame's write tag
// is the count of messages sent up to and including that frame.

#include <atomic>
#include <cstdint>
#include <memory>

namespace tether::actors {

/// The write tag a batcher uses for "the end of this scheduling round"
/// (session_port::after_round), never a message count.
inline constexpr uint64_t round_end_tag = ~uint64_t{0};

class write_progress {
public:
  enum side : uint8_t { batcher, queue };

  /// Messages of the frames written so far.
  uint64_t written() const noexcept { return written_.load(); }

  /// The session wrote the frames up to the message count `n` (tags come
  /// in order). Whether the batcher must be told: it waits itself, or it
  /// passes the news on to the waiting queue (take_queue_wait).
  bool advance(uint64_t n) noexcept {
    written_.store(n);
    auto b = waits_[batcher].exchange(false);
    return b || waits_[queue].load();
  }

  /// `s` is about to wait for the count to pass `seen`. False: it did
  /// already, read it again instead of waiting.
  bool wait(side s, uint64_t seen) noexcept {
    waits_[s].store(true);
    if (written_.load() <= seen)
      return true;
    waits_[s].store(false);
    return false;
  }

  /// The batcher, told of a write: whether the queue waits for it.
  bool take_queue_wait() noexcept { return waits_[queue].exchange(false); }

private:
  // Sequentially consistent throughout: a waiter's flag store and the
  // session's count store are each followed by a load of the other's, so
  // one of the two sees the other and no wake-up is lost.
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> waits_[2] = {false, false};
};

using write_progress_ptr = std::shared_ptr<write_progress>;

} // namespace tether::actors

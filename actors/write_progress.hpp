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
//
// It is also what the batcher and the queue share to write: the session,
// the app-level compression the connection chose, and the count of
// messages sent. The queue writes a message itself when the batcher holds
// nothing (everything the queue handed it is written): the frame the
// batcher would have written at once, without the hop through it. The batcher
// then counts that frame as in flight before its own, so coalescing behind a
// write is kept (take_direct_frame).

#include <atomic>
#include <cstdint>
#include <memory>

#include "actors/ports.hpp"

namespace tether::actors {

/// The write tag a batcher uses for "the end of this scheduling round"
/// (session_port::after_round), never a message count.
inline constexpr uint64_t round_end_tag = ~uint64_t{0};

class write_progress {
public:
  enum side : uint8_t { batcher, queue };

  write_progress() = default;

  /// For a connection's `port`, with app-level compression `compress`
  /// (session_info::compress).
  write_progress(std::weak_ptr<session_port> port, uint8_t compress)
    : port_(std::move(port)), compress_(known(compress)) {}

  /// The session the frames go to (empty in tests of one side).
  std::shared_ptr<session_port> port() const { return port_.lock(); }

  /// App-level compression of frames above the threshold (0: off, 1:
  /// deflate, 2: gzip; anything else is off); the connection sets it when
  /// the device asks.
  uint8_t compress() const noexcept { return compress_.load(); }
  void set_compress(uint8_t algo) noexcept { compress_.store(known(algo)); }

  /// Messages sent so far (by the batcher or the queue).
  uint64_t sent() const noexcept { return sent_.load(); }

  /// `n` more messages go out in one frame: its tag.
  uint64_t claim(uint64_t n) noexcept { return sent_.fetch_add(n) + n; }

  /// The queue sent a frame itself, with this tag.
  uint64_t claim_direct() noexcept {
    auto tag = claim(1);
    direct_.store(tag);
    return tag;
  }

  /// For the batcher: the tag of a frame the queue sent itself since the
  /// last call (0: none). Taken once.
  uint64_t take_direct_frame() noexcept { return direct_.exchange(0); }

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
  static uint8_t known(uint8_t algo) noexcept { return algo <= 2 ? algo : 0; }

  // Sequentially consistent throughout: a waiter's flag store and the
  // session's count store are each followed by a load of the other's, so
  // one of the two sees the other and no wake-up is lost.
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> waits_[2] = {false, false};
  std::weak_ptr<session_port> port_;
  std::atomic<uint8_t> compress_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> direct_{0};
};

using write_progress_ptr = std::shared_ptr<write_progress>;

} // namespace tether::actors

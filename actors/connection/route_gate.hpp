#pragma once

// The ordering rule behind SPEC §5.5 for one connection. A device's
// messages take different paths through the node: straight into queues,
// through the directory shard where a queue does not run, room publishes
// straight to the room actor, and room requests (through the shard).
// Requests on one path
// (lane) are pipelined; a request on another lane waits until those in
// flight completed, and so does everything after it. So a sender's messages
// reach each recipient's queue in the order sent, and a publish right after
// a join finds the device a member. Pure: the work is a callable.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "actors/lazy_deque.hpp"

namespace tether::actors {

class route_gate {
public:
  enum class lane : uint8_t { queues, directory, room, control };

  /// Runs `work` now if nothing waits and no request of another lane is in
  /// flight; else once they completed. `work` sends one request, and its
  /// completion must call done() (also from inside `work`). Work that runs
  /// at once, the usual case, is called as it is, never wrapped in a
  /// std::function (whose captures, a message route's, took an allocation).
  template <class F>
  void run(lane l, F&& work) {
    if (waiting_.empty() && (in_flight_ == 0 || lane_ == l)) {
      lane_ = l;
      ++in_flight_;
      work();
      return;
    }
    waiting_.emplace_back(l, std::function<void()>{std::forward<F>(work)});
  }

  /// A request completed: runs what may go now, in order.
  void done();

  size_t in_flight() const noexcept { return in_flight_; }
  size_t waiting() const noexcept { return waiting_.size(); }
  lane current() const noexcept { return lane_; }

private:
  lane lane_ = lane::queues;
  size_t in_flight_ = 0;
  bool draining_ = false;
  /// Bounded by the inbound guard's rate and burst.
  lazy_deque<std::pair<lane, std::function<void()>>> waiting_;
};

} // namespace tether::actors

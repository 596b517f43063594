#pragma once

// The node's I/O loop (an Asio io_context and its threads) as the rest of
// the runtime sees it, without Asio headers, and the CAF scheduler that runs
// the node's actors on that loop's threads (caf.scheduler_policy = io).
//
// Why: with actors on CAF's worker threads and sockets on Asio's, every
// message crosses threads at least three times (frame in, frame out, write
// done), each a futex wake and a context switch on a busy core; the echo
// profile spent half its CPU there. On the loop's threads, a session and the
// actors serving it hand work to each other by posting to the same thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include <caf/fwd.hpp>

namespace tether::runtime {

namespace detail {
class io_pool;
} // namespace detail

/// An io_context run by `threads` threads between start() and stop().
class io_loop {
public:
  explicit io_loop(uint32_t threads);
  ~io_loop();

  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  void start();

  /// Stops and joins the threads; nothing is posted from then on. Objects
  /// bound to the loop (sockets, timers) may still be destroyed.
  void stop();

  /// stop(), then destroys the work that never ran: the handlers that own
  /// sessions, the actors' pending runs (which release their references).
  /// Before the actor system goes, after every object bound to the loop.
  void close();

  detail::io_pool& pool() noexcept { return *pool_; }

  /// Actor runs posted and not started yet: the loop's load.
  const std::atomic<int64_t>& backlog() const noexcept { return backlog_; }

private:
  friend struct io_loop_access;

  std::unique_ptr<detail::io_pool> pool_;
  /// Guards pool_ against posts from other threads (CAF's clock, the
  /// store) while stop() destroys it.
  std::mutex mx_;
  bool stopped_ = false;
  std::atomic<int64_t> backlog_{0};
};

/// Loads into `cfg` a CAF scheduler that runs actors on `loop`'s threads.
/// The loop must run from before the actor system spawns its first actor
/// until all actors are done.
void run_actors_on(caf::actor_system_config& cfg,
                   const std::shared_ptr<io_loop>& loop);

} // namespace tether::runtime

#pragma once

// The node's event loops (one Asio io_context and one thread each) as the
// rest of the runtime sees them, without Asio headers, and the CAF
// scheduler that runs the node's actors on them (runtime/ws_scheduler.cpp).
//
// Why: with actors on CAF's worker threads and sockets on Asio's, every
// message crosses threads (a futex wake and a context switch each time a
// sleeping worker is woken); with every actor run posted to Asio on its
// own, Asio polls the sockets before each link of a chain of messages. Here
// a connection's session and the actors serving it share one loop: the
// actors ready on a loop run in one batch per round (one post per round,
// not one per message), a message between actors of one loop never
// crosses a thread, and messages to another loop are handed over in bulk.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>

namespace tether::runtime {

namespace detail {
class io_pool;
} // namespace detail

/// A call for the end of a round that allocates nothing: run(owner), the
/// owner (a session) kept alive until then. A std::function holding a
/// shared_ptr is allocated (it is not trivially copyable), once per session
/// and round, which a fan-out makes per member.
struct round_end_call {
  void (*run)(void* owner) = nullptr;
  std::shared_ptr<void> owner;

  void operator()() const { run(owner.get()); }
};

/// What a session asks of the loops it runs on; virtual, so that code using
/// it (the session's fuzz target) links no scheduler.
class loop_view {
public:
  virtual ~loop_view() = default;

  /// The loop whose thread calls this, or -1.
  virtual int32_t current() const noexcept = 0;

  /// Actor runs waiting on loop `i`: its load.
  virtual const std::atomic<int64_t>& backlog(uint32_t i) const noexcept = 0;

  /// Runs `f` on loop `i` at the end of a busy stretch: once the actors
  /// ready there have all run (or after a few milliseconds, if they keep
  /// coming). What they readied meanwhile for one connection then leaves
  /// in one frame. From loop `i`'s thread only (else `f` is posted there).
  virtual void at_round_end(uint32_t i, round_end_call f) = 0;

  /// An Asio handler of the calling thread's loop begins / ends: the actors
  /// it makes ready run when it ends (handler_scope), not in a round posted
  /// behind it, for which Asio would first poll the sockets again.
  virtual void handler_begin() noexcept {}
  virtual void handler_end() {}
};

/// Marks an Asio handler on a loop (RAII; first in the handler, so that it
/// ends after the handler's last use of its own state): what the handler
/// hands to actors of this loop is run as soon as it returns. A session's
/// read and its write completion then cost one handler each, like bare
/// Beast's, instead of a handler plus a posted round and a poll.
class handler_scope {
public:
  explicit handler_scope(loop_view* loops) noexcept : loops_(loops) {
    if (loops_)
      loops_->handler_begin();
  }
  ~handler_scope() {
    if (loops_)
      loops_->handler_end();
  }
  handler_scope(const handler_scope&) = delete;
  handler_scope& operator=(const handler_scope&) = delete;

private:
  loop_view* loops_;
};

/// `loops` event loops, each run by its own thread between start() and
/// stop(). New connections are spread over them (next()).
class io_loop final : public loop_view {
public:
  explicit io_loop(uint32_t loops);
  ~io_loop() override;

  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  void start();

  /// Stops and joins the threads; nothing is posted from then on. Objects
  /// bound to the loops (sockets, timers) may still be destroyed.
  void stop();

  /// stop(), then destroys the work that never ran: the handlers that own
  /// sessions, the actors' pending runs (which release their references).
  /// Before the actor system goes, after every object bound to the loops.
  void close();

  uint32_t size() const noexcept;

  /// Loop `i`'s io_context (i < size()).
  detail::io_pool& pool(uint32_t i) noexcept;

  /// The loop of the next new connection (round robin).
  uint32_t next() noexcept;

  const std::atomic<int64_t>& backlog(uint32_t i) const noexcept override;

  int32_t current() const noexcept override;

  void at_round_end(uint32_t i, round_end_call f) override;

  void handler_begin() noexcept override;
  void handler_end() override;

  /// Shared with the scheduler (ws_scheduler.cpp).
  struct lane;

private:
  friend struct io_loop_access;

  std::vector<std::unique_ptr<lane>> lanes_;
  std::atomic<uint32_t> next_{0};
};

/// Loads into `cfg` a CAF scheduler that runs actors on `loop`'s event
/// loops (it implements actors::loop_scheduler). The loops must run from
/// before the actor system spawns its first actor until all actors are
/// done.
void run_actors_on(caf::actor_system_config& cfg,
                   const std::shared_ptr<io_loop>& loop);

} // namespace tether::runtime

// The CAF scheduler of a node that runs its actors on the I/O loop's
// threads (runtime/io_scheduler.hpp). An actor that has messages is posted
// to the io_context like any handler; Asio runs it on one of the loop's
// threads, beside the sessions. Timers keep CAF's own clock thread.

#include "runtime/io_scheduler.hpp"

#include <mutex>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "runtime/ws_detail.hpp"

namespace tether::runtime {

/// Posts to a loop unless it stopped (then `f` is destroyed unrun).
struct io_loop_access {
  template <class F>
  static void post(io_loop& loop, F&& f) {
    std::lock_guard<std::mutex> guard{loop.mx_};
    if (loop.stopped_)
      return;
    loop.backlog_.fetch_add(1, std::memory_order_relaxed);
    detail::net::post(loop.pool_->ioc, std::forward<F>(f));
  }

  static void started(io_loop& loop) noexcept {
    loop.backlog_.fetch_sub(1, std::memory_order_relaxed);
  }
};

namespace {

/// Owns the reference a scheduled resumable carries until it has run; a
/// run that never happens (the loop stopped) releases it.
class job {
public:
  explicit job(caf::resumable* p) noexcept : p_(p) {}
  job(job&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  job& operator=(job&&) = delete;
  job(const job&) = delete;
  ~job() {
    if (p_)
      intrusive_ptr_release(p_);
  }
  caf::resumable* take() noexcept {
    auto p = p_;
    p_ = nullptr;
    return p;
  }

private:
  caf::resumable* p_;
};

class io_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  io_coordinator(caf::actor_system& sys, std::shared_ptr<io_loop> loop)
    : abstract_coordinator(sys), loop_(std::move(loop)), unit_(*this, sys) {
    // nop
  }

  void enqueue(caf::resumable* what) override { post(what); }

  caf::actor_clock& clock() noexcept override { return clock_; }

  void start() override {
    clock_thread_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      clock_.run_dispatch_loop();
    }};
    abstract_coordinator::start();
  }

  void stop() override {
    stop_actors();
    clock_.cancel_dispatch_loop();
    if (clock_thread_.joinable())
      clock_thread_.join();
  }

private:
  /// The execution unit of every actor run on the loop: what an actor
  /// schedules while it runs goes back to the loop.
  class unit final : public caf::execution_unit {
  public:
    unit(io_coordinator& parent, caf::actor_system& sys)
      : caf::execution_unit(&sys), parent_(parent) {}
    void exec_later(caf::resumable* ptr) override { parent_.post(ptr); }

  private:
    io_coordinator& parent_;
  };

  void post(caf::resumable* ptr) {
    // A loop that stopped runs nothing more: the job releases its reference.
    io_loop_access::post(*loop_,
                         [this, j = job{ptr}]() mutable { run(j.take()); });
  }

  void run(caf::resumable* ptr) {
    io_loop_access::started(*loop_);
    switch (ptr->resume(&unit_, max_throughput())) {
      case caf::resumable::resume_later:
        post(ptr); // keeps its reference
        return;
      case caf::resumable::done:
      case caf::resumable::awaiting_message:
      case caf::resumable::shutdown_execution_unit:
        intrusive_ptr_release(ptr);
        return;
    }
  }

  std::shared_ptr<io_loop> loop_;
  unit unit_;
  caf::detail::thread_safe_actor_clock clock_;
  std::thread clock_thread_;
};

} // namespace

io_loop::io_loop(uint32_t threads)
  : pool_(std::make_unique<detail::io_pool>(threads)) {
  // nop
}

io_loop::~io_loop() {
  close();
}

void io_loop::start() {
  pool_->run();
}

void io_loop::stop() {
  {
    std::lock_guard<std::mutex> guard{mx_};
    stopped_ = true;
  }
  if (pool_)
    pool_->stop();
}

void io_loop::close() {
  stop();
  pool_.reset();
}

void run_actors_on(caf::actor_system_config& cfg,
                   const std::shared_ptr<io_loop>& loop) {
  cfg.module_factories.push_back(
    [loop](caf::actor_system& sys) -> caf::actor_system::module* {
      return new io_coordinator(sys, loop);
    });
}

} // namespace tether::runtime

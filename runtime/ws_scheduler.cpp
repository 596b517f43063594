// The node's event loops and the CAF scheduler that runs its actors on them
// (runtime/io_scheduler.hpp).
//
// An actor runs on its home loop: the loop it ran on last (CAF keeps the
// execution unit of an actor's last run as its context), at first its
// spawner's, or the loop of the thread that made it ready if it has none.
// actors/loop_affinity.hpp moves an actor to another loop.
//
// Each loop has a ready list. An actor made ready on its own loop's thread
// joins the list without a lock; from another thread, it joins the loop's
// inbox under a mutex, and only the first one of a round posts to Asio. A
// round (one Asio handler) runs the ready actors, and those they make ready,
// until none is left or the round's budget is spent; then Asio polls the
// sockets before the next round. What an Asio handler marked with a
// handler_scope (a session's read or write completion) makes ready runs in
// a round right when that handler ends: no post, and no poll in between.
//
// CAF's timeouts and delayed messages are kept by a clock that the first
// loop drives with one Asio timer (no clock thread to wake: a delayed
// message costs a lock and a map insert, and an Asio timer re-armed only
// when the earliest deadline moves).

#include "runtime/io_scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/simple_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "actors/loop_affinity.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime {

struct io_loop::lane {
  lane(io_loop& o, uint32_t i)
    : pool(std::make_unique<detail::io_pool>(1)), timer(pool->ioc), owner(o),
      index(i) {}

  /// Until close().
  std::unique_ptr<detail::io_pool> pool;
  /// The actor clock's (on the first loop only), destroyed before the pool.
  std::optional<detail::net::steady_timer> timer;
  io_loop& owner;
  uint32_t index;
  /// Actors ready here and not run yet (ready list and inbox).
  std::atomic<int64_t> backlog{0};

  // -- from any thread, under mx
  std::mutex mx;
  /// Actors made ready by other threads.
  std::vector<caf::resumable*> inbox;
  /// A round is posted or running, and takes the inbox before it ends.
  bool posted = false;
  bool stopped = false;

  // -- this loop's thread only
  std::deque<caf::resumable*> ready;
  bool in_round = false;
  /// Asio handlers of this loop open (handler_scope), and whether one made
  /// an actor ready: the round runs when the outermost ends.
  int handler_depth = 0;
  bool round_due = false;
  /// Runs a due round at the end of a handler (the scheduler's).
  void (*run_due)(void* runner, lane& l) = nullptr;
  void* runner = nullptr;
  /// What waits for the end of the busy stretch (at_round_end), and since
  /// when the first of it waits.
  std::vector<round_end_call> at_round_end;
  /// The callbacks being run (at_round_end's buffer, kept between rounds).
  std::vector<round_end_call> running_round_end;
  std::chrono::steady_clock::time_point waiting_since;
};

namespace {

/// The lane whose thread this is.
thread_local io_loop::lane* this_lane = nullptr;

/// Actor runs per round before Asio polls the sockets again. A socket is
/// read one frame per poll, so long rounds starve the readers: with 1024, a
/// room publish to 1000 members took ~2 rounds and the publisher's next
/// frames waited in its kernel buffer, each publish then going out alone
/// (1.08 messages per frame, 53-64k deliveries/s saturated at 1000 x 100/s).
/// With 64 the backlog moves into the queues, where frames coalesce (2-2.6
/// per frame, 100k/s kept up); the extra epoll_wait(0) per 64 runs is noise.
constexpr int round_budget = 64;

/// Messages an actor handles per run before the others get their turn.
constexpr size_t run_budget = 256;

/// How long what waits for the end of a busy stretch may wait if actors
/// keep coming (under sustained load: frames then carry what accumulated
/// meanwhile, at most this much later; a batch's max_delay is 10 ms).
constexpr auto max_stretch = std::chrono::milliseconds{5};

/// Posts `f` to lane `l` unless it stopped (then `f` is dropped unrun).
template <class F>
bool post_to(io_loop::lane& l, F&& f) {
  std::lock_guard<std::mutex> guard{l.mx};
  if (l.stopped)
    return false;
  detail::net::post(l.pool->ioc, std::forward<F>(f));
  return true;
}

/// The time the actor run now running on this thread began (zero outside
/// rounds). Actors read it as their clock's now(): one clock read per
/// actor run instead of several per message (CAF on each resume, rate
/// limits, activity, queue times: about 16 per echoed message). Time
/// stands still within one actor's run, as libuv's loop time does within
/// an iteration; read again for the next run, so that a timeout an actor
/// sets is early by at most its own run, not by a whole round's.
thread_local caf::actor_clock::time_point run_time{};

class run_clock {
public:
  run_clock() noexcept : saved_(run_time) { tick(); }
  ~run_clock() { run_time = saved_; }

  /// Before each actor run.
  static void tick() noexcept { run_time = std::chrono::steady_clock::now(); }
  run_clock(const run_clock&) = delete;
  run_clock& operator=(const run_clock&) = delete;

private:
  caf::actor_clock::time_point saved_;
};

/// CAF's timeouts and delayed messages, driven by an Asio timer of one
/// loop. Any thread may set or cancel a timeout (under the mutex); the
/// timer is armed on its loop's thread, from elsewhere by a post.
class loop_clock final : public caf::detail::simple_actor_clock {
public:
  using super = caf::detail::simple_actor_clock;

  explicit loop_clock(io_loop::lane& l) : lane_(l) {}

  /// The time of the actor run in a round of a loop (run_time), else the
  /// clock.
  time_point now() const noexcept override {
    if (run_time != time_point{})
      return run_time;
    return super::now();
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, uint64_t id) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::set_ordinary_timeout(t, self, type, id);
    added(t);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, uint64_t id) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::set_multi_timeout(t, self, type, id);
    added(t);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::set_request_timeout(t, self, id);
    added(t);
  }

  void cancel_ordinary_timeout(caf::abstract_actor* self,
                               caf::atom_value type) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self,
                              caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::schedule_message(t, std::move(receiver), std::move(content));
    added(t);
  }

  void schedule_message(time_point t, caf::group target,
                        caf::strong_actor_ptr sender,
                        caf::message content) override {
    std::lock_guard<std::mutex> guard{mx_};
    super::schedule_message(t, std::move(target), std::move(sender),
                            std::move(content));
    added(t);
  }

  void cancel_all() override {
    schedule_map dropped;
    {
      std::lock_guard<std::mutex> guard{mx_};
      actor_lookup_.clear();
      dropped.swap(schedule_);
    }
    // Destroyed unlocked: a last reference to an actor may call back.
  }

private:
  /// A deadline at `t` was added (under mx_): the timer must wake by then.
  void added(time_point t) {
    if (t >= armed_)
      return;
    armed_ = t;
    if (lane_.owner.current() == static_cast<int32_t>(lane_.index)) {
      arm();
      return;
    }
    if (arm_posted_)
      return;
    arm_posted_ = post_to(lane_, [this] {
      std::lock_guard<std::mutex> guard{mx_};
      arm_posted_ = false;
      arm();
    });
  }

  /// On the lane's thread, under mx_: the timer wakes at armed_.
  void arm() {
    if (armed_ == time_point::max())
      return;
    lane_.timer->expires_at(armed_);
    lane_.timer->async_wait([this](boost::system::error_code ec) {
      if (!ec)
        fire();
    });
  }

  /// The timer rang: ships what is due, unlocked (a message's receiver, or
  /// the last reference to an actor that an event held, may call back into
  /// the clock), then arms for the next deadline.
  void fire() {
    std::vector<unique_delayed_event_ptr> due;
    {
      std::lock_guard<std::mutex> guard{mx_};
      auto now = this->now();
      auto i = schedule_.begin();
      while (i != schedule_.end() && i->first <= now) {
        if (i->second->backlink != actor_lookup_.end())
          actor_lookup_.erase(i->second->backlink);
        due.push_back(std::move(i->second));
        i = schedule_.erase(i);
      }
      armed_ = schedule_.empty() ? time_point::max() : schedule_.begin()->first;
      arm();
    }
    for (auto& ev : due)
      ship(*ev);
  }

  io_loop::lane& lane_;
  std::mutex mx_;
  /// The deadline the timer is armed for (max: none).
  time_point armed_ = time_point::max();
  bool arm_posted_ = false;
};

class io_coordinator final : public caf::scheduler::abstract_coordinator,
                             public actors::loop_scheduler {
public:
  io_coordinator(caf::actor_system& sys, std::shared_ptr<io_loop> loop)
    : abstract_coordinator(sys), loop_(std::move(loop)), clock_(lane_at(0)) {
    for (uint32_t i = 0; i < loop_->size(); ++i) {
      units_.push_back(std::make_unique<unit>(*this, sys));
      auto& l = lane_at(i);
      l.runner = this;
      l.run_due = [](void* self, io_loop::lane& due) {
        static_cast<io_coordinator*>(self)->run_due(due);
      };
    }
  }

  ~io_coordinator() override {
    // The loops' threads are gone by now (io_loop::close comes first).
    for (uint32_t i = 0; i < loop_->size(); ++i) {
      lane_at(i).run_due = nullptr;
      lane_at(i).runner = nullptr;
    }
  }

  void enqueue(caf::resumable* what) override { schedule(what); }

  caf::actor_clock& clock() noexcept override { return clock_; }

  void stop() override {
    stop_actors();
    clock_.cancel_all();
  }

  // -- actors::loop_scheduler

  caf::execution_unit* loop_unit(int32_t loop) noexcept override {
    return loop >= 0 && static_cast<size_t>(loop) < units_.size()
             ? units_[static_cast<size_t>(loop)].get()
             : nullptr;
  }

  int32_t loop_of(const caf::execution_unit* u) const noexcept override {
    for (size_t i = 0; i < units_.size(); ++i)
      if (units_[i].get() == u)
        return static_cast<int32_t>(i);
    return -1;
  }

  int32_t loops() const noexcept override {
    return static_cast<int32_t>(units_.size());
  }

private:
  /// The execution unit of one loop: what an actor running there makes
  /// ready is scheduled at its own home.
  class unit final : public caf::execution_unit {
  public:
    unit(io_coordinator& parent, caf::actor_system& sys)
      : caf::execution_unit(&sys), parent_(parent) {}
    void exec_later(caf::resumable* ptr) override { parent_.schedule(ptr); }

  private:
    io_coordinator& parent_;
  };

  io_loop::lane& lane_at(uint32_t i) noexcept;

  /// The loop `ptr` runs on: its home, else this thread's, else the next.
  uint32_t home_of(caf::resumable* ptr) noexcept {
    if (ptr->subtype() == caf::resumable::scheduled_actor) {
      auto loop = loop_of(static_cast<caf::scheduled_actor*>(ptr)->context());
      if (loop >= 0)
        return static_cast<uint32_t>(loop);
    }
    if (this_lane && &this_lane->owner == loop_.get())
      return this_lane->index;
    return loop_->next();
  }

  void schedule(caf::resumable* ptr) {
    auto& l = lane_at(home_of(ptr));
    if (this_lane == &l) {
      // This loop's own thread: no lock; a running round takes it along.
      l.ready.push_back(ptr);
      l.backlog.fetch_add(1, std::memory_order_relaxed);
      if (l.in_round)
        return;
      if (l.handler_depth > 0)
        l.round_due = true; // run when the handler ends (handler_end)
      else
        wake(l);
      return;
    }
    bool post = false;
    {
      std::lock_guard<std::mutex> guard{l.mx};
      if (l.stopped) {
        // A loop that stopped runs nothing more.
        intrusive_ptr_release(ptr);
        return;
      }
      l.inbox.push_back(ptr);
      l.backlog.fetch_add(1, std::memory_order_relaxed);
      post = !l.posted;
      l.posted = true;
    }
    if (post)
      post_round(l);
  }

  /// Makes sure a round is posted (from the loop's own thread).
  void wake(io_loop::lane& l) {
    {
      std::lock_guard<std::mutex> guard{l.mx};
      if (l.posted || l.stopped)
        return;
      l.posted = true;
    }
    post_round(l);
  }

  void post_round(io_loop::lane& l) {
    detail::net::post(l.pool->ioc, [this, &l] { round(l); });
  }

  /// Moves what other threads made ready to the ready list.
  static void take_inbox(io_loop::lane& l) {
    std::lock_guard<std::mutex> guard{l.mx};
    l.ready.insert(l.ready.end(), l.inbox.begin(), l.inbox.end());
    l.inbox.clear();
  }

  /// A posted round.
  void round(io_loop::lane& l) {
    run_ready(l);
    {
      std::lock_guard<std::mutex> guard{l.mx};
      if (l.ready.empty() && l.inbox.empty()) {
        l.posted = false;
        return;
      }
      if (l.stopped)
        return;
    }
    post_round(l); // more is ready: after Asio polled the sockets
  }

  /// A round at the end of the handler that made actors ready; what its
  /// budget leaves goes to a posted round (unless one is posted already).
  void run_due(io_loop::lane& l) {
    run_ready(l);
    {
      std::lock_guard<std::mutex> guard{l.mx};
      if ((l.ready.empty() && l.inbox.empty()) || l.stopped || l.posted)
        return;
      l.posted = true;
    }
    post_round(l);
  }

  /// Runs the ready actors (and those they make ready) within the budget.
  void run_ready(io_loop::lane& l) {
    run_clock time;
    l.in_round = true;
    take_inbox(l);
    auto& u = *units_[l.index];
    auto throughput = std::min(max_throughput(), run_budget);
    for (int budget = round_budget; budget > 0; --budget) {
      if (l.ready.empty()) {
        take_inbox(l);
        if (l.ready.empty())
          break;
      }
      auto* ptr = l.ready.front();
      l.ready.pop_front();
      l.backlog.fetch_sub(1, std::memory_order_relaxed);
      run_clock::tick();
      switch (ptr->resume(&u, throughput)) {
        case caf::resumable::resume_later:
          schedule(ptr); // keeps its reference; its home may have moved
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
        case caf::resumable::shutdown_execution_unit:
          intrusive_ptr_release(ptr);
          break;
      }
    }
    end_of_round(l);
    l.in_round = false;
  }

  /// Runs what waits for the end of the busy stretch once nothing is ready
  /// any more, or every few rounds under sustained load. What it makes
  /// ready runs in the next round.
  static void end_of_round(io_loop::lane& l) {
    if (l.at_round_end.empty())
      return;
    bool idle = l.ready.empty();
    if (idle) {
      std::lock_guard<std::mutex> guard{l.mx};
      idle = l.inbox.empty();
    }
    if (!idle
        && std::chrono::steady_clock::now() - l.waiting_since < max_stretch)
      return;
    // Swapped, not moved: both buffers keep their capacity (a fan-out
    // registers a callback per member every round).
    l.running_round_end.swap(l.at_round_end);
    for (auto& f : l.running_round_end)
      f();
    l.running_round_end.clear();
  }

  std::shared_ptr<io_loop> loop_;
  std::vector<std::unique_ptr<unit>> units_;
  loop_clock clock_;
};

} // namespace

/// What the scheduler needs of io_loop's internals.
struct io_loop_access {
  static io_loop::lane& lane(io_loop& l, uint32_t i) noexcept {
    return *l.lanes_[i];
  }
};

io_loop::lane& io_coordinator::lane_at(uint32_t i) noexcept {
  return io_loop_access::lane(*loop_, i);
}

io_loop::io_loop(uint32_t loops) {
  for (uint32_t i = 0; i < std::max(loops, 1u); ++i)
    lanes_.push_back(std::make_unique<lane>(*this, i));
}

io_loop::~io_loop() {
  close();
}

void io_loop::start() {
  for (auto& l : lanes_)
    l->pool->run([p = l.get()] {
      this_lane = p;
      caf::detail::set_thread_name("tether.loop");
    });
}

void io_loop::stop() {
  for (auto& l : lanes_) {
    std::lock_guard<std::mutex> guard{l->mx};
    l->stopped = true;
  }
  for (auto& l : lanes_)
    if (l->pool)
      l->pool->stop();
}

void io_loop::close() {
  stop();
  for (auto& l : lanes_) {
    // The threads are gone: release the runs that never happened.
    for (auto* ptr : l->ready)
      intrusive_ptr_release(ptr);
    for (auto* ptr : l->inbox)
      intrusive_ptr_release(ptr);
    l->ready.clear();
    l->inbox.clear();
    l->at_round_end.clear();
    l->running_round_end.clear();
    // The lanes stay (a late post finds them stopped); their contexts go.
    l->timer.reset();
    l->pool.reset();
  }
}

uint32_t io_loop::size() const noexcept {
  return static_cast<uint32_t>(lanes_.size());
}

detail::io_pool& io_loop::pool(uint32_t i) noexcept {
  return *lanes_[i]->pool;
}

uint32_t io_loop::next() noexcept {
  return next_.fetch_add(1, std::memory_order_relaxed) % size();
}

const std::atomic<int64_t>& io_loop::backlog(uint32_t i) const noexcept {
  return lanes_[i]->backlog;
}

void io_loop::at_round_end(uint32_t i, round_end_call f) {
  auto& l = *lanes_[i];
  if (this_lane == &l) {
    if (l.at_round_end.empty())
      l.waiting_since = std::chrono::steady_clock::now();
    l.at_round_end.push_back(std::move(f));
    return;
  }
  post_to(l, std::move(f));
}

void io_loop::handler_begin() noexcept {
  if (this_lane && &this_lane->owner == this)
    ++this_lane->handler_depth;
}

void io_loop::handler_end() {
  auto* l = this_lane;
  if (!l || &l->owner != this || l->handler_depth == 0)
    return;
  if (--l->handler_depth > 0 || !l->round_due)
    return;
  l->round_due = false;
  if (l->run_due)
    l->run_due(l->runner, *l);
}

int32_t io_loop::current() const noexcept {
  return this_lane && &this_lane->owner == this
           ? static_cast<int32_t>(this_lane->index)
           : -1;
}

void run_actors_on(caf::actor_system_config& cfg,
                   const std::shared_ptr<io_loop>& loop) {
  cfg.module_factories.push_back(
    [loop](caf::actor_system& sys) -> caf::actor_system::module* {
      return new io_coordinator(sys, loop);
    });
}

} // namespace tether::runtime

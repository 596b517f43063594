#include "actors/device/fleet_actor.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/messages.hpp"
#include "actors/wall_clock.hpp"

namespace tether::actors {

namespace {

using self_ptr = fleet_actor::stateful_pointer<fleet_state>;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Pacing granularity of the start.
constexpr milliseconds start_tick{10};

// How long devices get to close their links when the fleet stops.
constexpr milliseconds stop_grace{5000};

void spawn_device(self_ptr self, uint32_t i) {
  auto& st = self->state;
  auto& p = *st.plan;
  auto& s = st.slots[i];
  s.handle = self->spawn<caf::monitored>(device, p.devices[i], p.params,
                                         p.memories[i], p.counters, p.connect);
  s.started = self->clock().now();
  s.live = true;
  ++st.live;
  st.by_addr[s.handle.address()] = i;
}

link_outcome outcome_of(const caf::error& reason, milliseconds uptime,
                        bool welcomed, milliseconds since_welcome) {
  link_outcome o;
  o.uptime = uptime;
  o.welcomed = welcomed;
  o.since_welcome = since_welcome;
  if (reason.category() != link_category) {
    o.kind = link_outcome::crashed;
    return o;
  }
  auto& ctx = reason.context();
  if (ctx.match_elements<uint16_t, int64_t, int32_t>()) {
    o.close_code = ctx.get_as<uint16_t>(0);
    o.retry_after = milliseconds{ctx.get_as<int64_t>(1)};
    o.http_status = ctx.get_as<int32_t>(2);
  }
  switch (static_cast<link_exit>(reason.code())) {
    case link_exit::refused:
      o.kind = link_outcome::refused;
      break;
    case link_exit::background:
      o.kind = link_outcome::background;
      break;
    default:
      o.kind = link_outcome::closed;
  }
  return o;
}

// How long from `now` to `t` (0 if it passed).
milliseconds until(steady::time_point t, steady::time_point now) {
  return t > now ? std::chrono::ceil<milliseconds>(t - now) : milliseconds{0};
}

void finish_stop(self_ptr self) {
  auto& st = self->state;
  if (!st.stopping || st.live > 0)
    return;
  for (auto& rp : st.stop_promises)
    rp.deliver(atom::ok_v);
  st.stop_promises.clear();
}

void on_device_down(self_ptr self, uint32_t i, const caf::error& reason) {
  auto& st = self->state;
  auto& p = *st.plan;
  auto& s = st.slots[i];
  s.live = false;
  s.handle = nullptr;
  --st.live;
  if (st.stopping) {
    finish_stop(self);
    return;
  }
  if (!reason || reason == caf::exit_reason::user_shutdown)
    return; // stopped on purpose
  auto now = self->clock().now();
  auto& mem = *p.memories[i];
  auto since = [&](auto t) {
    return std::chrono::duration_cast<milliseconds>(now - t);
  };
  // Established in this incarnation: its welcome came after its spawn.
  auto welcomed = mem.welcomed_at >= s.started;
  auto outcome = outcome_of(reason, since(s.started), welcomed,
                            welcomed ? since(mem.welcomed_at)
                                     : milliseconds{0});
  auto u = std::uniform_real_distribution<double>{0.0, 1.0}(st.rng);
  auto d = s.policy.next(outcome, u);
  if (d.retry && !s.budget.charge(now)) {
    d.retry = false;
    d.why = "restart budget exhausted";
  }
  if (!d.retry) {
    mem.gave_up = d.why;
    if (reason.category() == link_category
        && protocol::is_terminal(mem.last_close))
      p.counters->terminal.fetch_add(1, std::memory_order_relaxed);
    if (reason.category() == link_category
        && static_cast<link_exit>(reason.code()) == link_exit::refused)
      p.counters->refused.fetch_add(1, std::memory_order_relaxed);
    // Last, with release order: whoever sees the count sees the verdict.
    // The slot is never respawned after this.
    p.counters->gave_up.fetch_add(1, std::memory_order_release);
    return;
  }
  // The server's own time holds, even when the run drains.
  s.waiting = true;
  s.not_before = now
                 + (outcome.kind == link_outcome::refused
                        || outcome.kind == link_outcome::closed
                      ? outcome.retry_after
                      : milliseconds{0});
  if (st.draining)
    d.delay = until(s.not_before, now);
  mem.restart_delays_ms.push_back(d.delay.count());
  self->delayed_send(self, d.delay, atom::restart_v, i, s.generation);
}

} // namespace

void fleet_plan::make_memories() {
  memories.clear();
  for (auto& d : devices) {
    auto m = std::make_shared<device_memory>();
    m->ledger.key = d.key();
    memories.push_back(std::move(m));
  }
}

fleet_actor::behavior_type
fleet(fleet_actor::stateful_pointer<fleet_state> self,
      std::shared_ptr<fleet_plan> plan) {
  auto& st = self->state;
  st.plan = std::move(plan);
  st.rng.seed(st.plan->seed);
  if (st.plan->params.run.empty()) {
    // Distinct per fleet, also for fleets started in the same millisecond.
    static std::atomic<uint32_t> fleets{0};
    auto now = wall_clock::system_ms();
    st.plan->params.run
      = std::to_string(static_cast<uint64_t>(now) % 1000000007u) + "."
        + std::to_string(fleets++);
  }
  if (st.plan->memories.size() != st.plan->devices.size())
    st.plan->make_memories();
  st.slots.resize(st.plan->devices.size());
  for (auto& s : st.slots) {
    s.policy = reconnect_policy{st.plan->reconnect};
    s.budget = restart_budget{st.plan->budget};
  }
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.by_addr.find(dm.source);
    if (i == st.by_addr.end())
      return;
    auto idx = i->second;
    st.by_addr.erase(i);
    on_device_down(self, idx, dm.reason);
  });
  self->send(self, atom::start_v);
  return {
    [=](atom::start) {
      auto& st = self->state;
      auto n = st.slots.size();
      size_t batch = n;
      if (st.plan->start_rate > 0)
        batch = std::max<size_t>(
          1, static_cast<size_t>(st.plan->start_rate * 0.001
                                 * static_cast<double>(start_tick.count())));
      for (size_t k = 0; k < batch && st.next_start < n && !st.stopping; ++k)
        spawn_device(self, static_cast<uint32_t>(st.next_start++));
      if (st.next_start < n && !st.stopping)
        self->delayed_send(self, start_tick, atom::start_v);
    },
    [=](atom::drop) {
      for (auto& s : self->state.slots)
        if (s.live)
          self->send(s.handle, atom::drop_v);
    },
    [=](atom::drain) {
      auto& st = self->state;
      st.draining = true;
      auto now = self->clock().now();
      for (uint32_t i = 0; i < st.slots.size(); ++i) {
        auto& s = st.slots[i];
        if (!s.waiting)
          continue;
        // Sooner than its backoff: the scheduled restart is superseded.
        self->delayed_send(self, until(s.not_before, now), atom::restart_v, i,
                           ++s.generation);
      }
    },
    [=](atom::restart, uint32_t i, uint64_t generation) {
      auto& st = self->state;
      if (st.stopping || i >= st.slots.size()
          || st.slots[i].generation != generation || st.slots[i].live)
        return;
      st.slots[i].waiting = false;
      st.plan->counters->reconnects.fetch_add(1, std::memory_order_relaxed);
      spawn_device(self, i);
    },
    [=](atom::stop) -> caf::typed_response_promise<atom::ok> {
      auto& st = self->state;
      auto rp = self->make_response_promise<atom::ok>();
      st.stop_promises.push_back(rp);
      if (!st.stopping) {
        st.stopping = true;
        for (auto& s : st.slots) {
          ++s.generation;
          if (s.live)
            self->send(s.handle, atom::stop_v);
        }
        self->delayed_send(self, stop_grace, atom::deadline_v);
      }
      finish_stop(self);
      return rp;
    },
    [=](atom::flush) -> caf::result<atom::ok> {
      auto rp = self->make_response_promise<atom::ok>();
      auto left = std::make_shared<size_t>(0);
      for (auto& s : self->state.slots)
        *left += s.live ? 1 : 0;
      if (*left == 0)
        return atom::ok_v;
      // A device that goes down meanwhile answers with an error: it sends
      // nothing more either.
      auto one_done = [rp, left]() mutable {
        if (--*left == 0)
          rp.deliver(atom::ok_v);
      };
      for (auto& s : self->state.slots)
        if (s.live)
          self->request(s.handle, std::chrono::seconds{10}, atom::flush_v)
            .then([one_done](atom::ok) mutable { one_done(); },
                  [one_done](caf::error&) mutable { one_done(); });
      return rp;
    },
    [=](atom::deadline) {
      for (auto& s : self->state.slots)
        if (s.live)
          self->send_exit(s.handle, caf::exit_reason::kill);
    },
  };
}

} // namespace tether::actors

// The node's scheduler (runtime/io_scheduler.hpp) on real event loops and
// threads: actors run on their home loop, spawn_on_loop and move_to_loop
// place them, messages between loops and from foreign threads all arrive,
// in order per sender, and the loop-driven clock delivers delayed messages
// and request timeouts, never early.
#define CAF_SUITE runtime.io_scheduler

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/loop_affinity.hpp"
#include "runtime/io_scheduler.hpp"

using namespace tether;
using namespace std::chrono_literals;

namespace {

/// Two loops and an actor system whose actors run on them. The loops start
/// before the system and stop after its actors are done (as a node does).
struct fixture {
  std::shared_ptr<runtime::io_loop> loops;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() : loops(std::make_shared<runtime::io_loop>(2)) {
    loops->start();
    runtime::run_actors_on(cfg, loops);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~fixture() {
    sys->await_all_actors_done();
    loops->stop();
    loops->close();
    sys.reset();
  }

  actors::loop_scheduler& sched() { return *actors::loops_of(*sys); }
};

/// Replies with the loop it runs on (and moves to `move` if >= 0).
caf::behavior where(caf::event_based_actor* self) {
  return {
    [=](atom::get) { return actors::current_loop(self); },
    [=](atom::join, int32_t loop) {
      actors::move_to_loop(self, loop);
      return actors::current_loop(self);
    },
  };
}

int32_t ask_loop(caf::scoped_actor& me, const caf::actor& a) {
  int32_t loop = -2;
  me->request(a, 5s, atom::get_v)
    .receive([&](int32_t l) { loop = l; },
             [&](caf::error& err) { CAF_FAIL("no answer: " << err); });
  return loop;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(io_scheduler_tests, fixture)

CAF_TEST(the scheduler has a unit per loop) {
  CAF_CHECK_EQUAL(sched().loops(), 2);
  CAF_CHECK(sched().loop_unit(0) != nullptr);
  CAF_CHECK(sched().loop_unit(1) != nullptr);
  CAF_CHECK(sched().loop_unit(2) == nullptr);
  CAF_CHECK_EQUAL(sched().loop_of(sched().loop_unit(1)), 1);
  CAF_CHECK_EQUAL(sched().loop_of(nullptr), -1);
}

CAF_TEST(spawned actors start on the loop asked for and move when told) {
  caf::scoped_actor me{*sys};
  // A parent on loop 1 spawns children on loop 0 and on its own loop.
  auto parent = sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](atom::get, int32_t loop) {
        actors::move_to_loop(self, 1);
        return actors::spawn_on_loop(self, loop,
                                     [&] { return self->spawn(where); });
      },
    };
  });
  caf::actor on0;
  caf::actor on_own;
  me->request(parent, 5s, atom::get_v, int32_t{0})
    .receive([&](caf::actor& a) { on0 = a; },
             [&](caf::error& err) { CAF_FAIL(err); });
  me->request(parent, 5s, atom::get_v, int32_t{-1})
    .receive([&](caf::actor& a) { on_own = a; },
             [&](caf::error& err) { CAF_FAIL(err); });
  CAF_CHECK_EQUAL(ask_loop(me, on0), 0);
  CAF_CHECK_EQUAL(ask_loop(me, on_own), 1);
  // Moved: the rest of that run still reports its old loop, the next one
  // runs on the new loop.
  me->request(on0, 5s, atom::join_v, int32_t{1})
    .receive([&](int32_t l) { CAF_CHECK_EQUAL(l, 1); },
             [&](caf::error& err) { CAF_FAIL(err); });
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(ask_loop(me, on0), 1);
  // An unknown loop changes nothing.
  me->request(on0, 5s, atom::join_v, int32_t{7})
    .receive([&](int32_t l) { CAF_CHECK_EQUAL(l, 1); },
             [&](caf::error& err) { CAF_FAIL(err); });
  CAF_CHECK_EQUAL(ask_loop(me, on0), 1);
  for (auto& a : {parent, on0, on_own})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST(messages between loops arrive all and in order per sender) {
  caf::scoped_actor me{*sys};
  constexpr int n = 20000;
  // A counter on loop 0 checks that each sender's numbers come in order.
  auto counter = sys->spawn(
    [](caf::event_based_actor* self, caf::actor report) -> caf::behavior {
      actors::move_to_loop(self, 0);
      auto next = std::make_shared<std::vector<int>>(2, 0);
      auto bad = std::make_shared<int>(0);
      return {
        [=](int sender, int i) {
          if ((*next)[static_cast<size_t>(sender)] != i)
            ++*bad;
          (*next)[static_cast<size_t>(sender)] = i + 1;
          if ((*next)[0] == n && (*next)[1] == n)
            self->send(report, *bad);
        },
      };
    },
    caf::actor{me});
  // Two senders, one per loop, each sends n numbers in one burst.
  auto sender = [](caf::event_based_actor* self, int id,
                   caf::actor to) -> caf::behavior {
    actors::move_to_loop(self, id);
    return {
      [=](atom::ok) {
        for (int i = 0; i < n; ++i)
          self->send(to, id, i);
      },
    };
  };
  auto s0 = sys->spawn(sender, 0, counter);
  auto s1 = sys->spawn(sender, 1, counter);
  caf::anon_send(s0, atom::ok_v);
  caf::anon_send(s1, atom::ok_v);
  me->receive([](int bad) { CAF_CHECK_EQUAL(bad, 0); },
              caf::after(30s) >> [] { CAF_FAIL("not all messages arrived"); });
  for (auto& a : {counter, s0, s1})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST(messages from foreign threads reach actors on every loop) {
  caf::scoped_actor me{*sys};
  constexpr int actors_n = 200;
  constexpr int per_thread = 50;
  constexpr int want = 4 * per_thread * actors_n;
  // The actor that counts the last one tells the test.
  auto seen = std::make_shared<std::atomic<int>>(0);
  std::vector<caf::actor> targets;
  for (int i = 0; i < actors_n; ++i)
    targets.push_back(sys->spawn(
      [seen](caf::event_based_actor* self, int32_t loop,
             caf::actor report) -> caf::behavior {
        actors::move_to_loop(self, loop);
        return {[=](atom::ok) {
          if (seen->fetch_add(1) + 1 == want)
            self->send(report, atom::ok_v);
        }};
      },
      int32_t{i % 2}, caf::actor{me}));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int k = 0; k < per_thread; ++k)
        for (auto& a : targets)
          caf::anon_send(a, atom::ok_v);
    });
  for (auto& t : threads)
    t.join();
  me->receive([](atom::ok) {},
              caf::after(10s) >> [] { CAF_FAIL("not every message arrived"); });
  CAF_CHECK_EQUAL(seen->load(), want);
  for (auto& a : targets)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST(delayed messages and request timeouts come from the loop clock) {
  caf::scoped_actor me{*sys};
  auto start = std::chrono::steady_clock::now();
  // Delays set on both loops, out of order; none may arrive early.
  std::vector<caf::actor> senders;
  for (int32_t loop = 0; loop < 2; ++loop)
    senders.push_back(sys->spawn(
      [](caf::event_based_actor* self, int32_t l,
         caf::actor to) -> caf::behavior {
        actors::move_to_loop(self, l);
        return {
          [=](atom::ok) {
            for (int ms : {120, 40, 80})
              self->delayed_send(to, std::chrono::milliseconds{ms}, ms);
          },
        };
      },
      loop, caf::actor{me}));
  for (auto& s : senders)
    caf::anon_send(s, atom::ok_v);
  int got = 0;
  for (int i = 0; i < 6; ++i)
    me->receive(
      [&](int ms) {
        auto waited = std::chrono::steady_clock::now() - start;
        CAF_CHECK(waited >= std::chrono::milliseconds{ms});
        ++got;
      },
      caf::after(10s) >> [] { CAF_FAIL("a delayed message did not come"); });
  CAF_CHECK_EQUAL(got, 6);
  // A request to an actor that never answers times out, from a loop.
  auto silent = sys->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {
      [](atom::get) -> caf::result<int> { return caf::delegated<int>(); }};
  });
  auto asker = sys->spawn(
    [](caf::event_based_actor* self, caf::actor target) -> caf::behavior {
      return {
        [=](atom::ok) -> caf::result<bool> {
          auto rp = self->make_response_promise<bool>();
          self->request(target, 50ms, atom::get_v)
            .then([rp](int) mutable { rp.deliver(false); },
                  [rp](caf::error& err) mutable {
                    rp.deliver(err == caf::sec::request_timeout);
                  });
          return rp;
        },
      };
    },
    silent);
  me->request(asker, 10s, atom::ok_v)
    .receive([](bool timed_out) { CAF_CHECK(timed_out); },
             [](caf::error& err) { CAF_FAIL(err); });
  for (auto& a : senders)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(asker, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

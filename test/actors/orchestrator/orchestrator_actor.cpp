#define CAF_SUITE actors.orchestrator_actor
#include "test/support/actor_fixture.hpp"

#include <algorithm>

#include "protocol/errc.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

struct fixture : test::node_fixture {
  fixture() { start(); }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(orchestrator_tests, fixture)

CAF_TEST(open spawns a supervised connection with its batcher) {
  auto p = open("alice", "phone");
  CAF_CHECK(p->events != nullptr);
  CAF_CHECK_EQUAL(p->sent.size(), 1u); // the welcome
}

CAF_TEST(stop closes every connection with 1001 and answers once they end) {
  auto a = open("alice", "phone");
  auto b = open("alice", "laptop");
  auto running = sys.registry().running();
  self->send(orch, atom::stop_v);
  run_messages();
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1001});
  CAF_CHECK_EQUAL(b->closes, std::vector<uint16_t>{1001});
  a->events->on_closed(1001);
  run_messages();
  CAF_CHECK(!self->mailbox().size());
  b->events->on_closed(1001);
  run_messages();
  self->receive([](atom::ok) {});
  // Both connections are gone (idle: no batchers; queues end with the
  // orchestrator).
  CAF_CHECK_EQUAL(sys.registry().running(), running - 2);
  // New sessions during a stop are turned away.
  auto late = open("alice", "tablet");
  CAF_CHECK_EQUAL(late->closes, std::vector<uint16_t>{1001});
}

CAF_TEST(a drain closes connections with 1012 a slot at a time) {
  // 20 connections within 1 s and no rate: 2 every 100 ms slot.
  std::vector<std::shared_ptr<test::recording_port>> ports;
  for (int i = 0; i < 20; ++i)
    ports.push_back(open("u" + std::to_string(i), "phone"));
  auto closed = [&] {
    size_t n = 0;
    for (auto& p : ports) {
      if (p->closes.empty())
        continue;
      ++n;
      CAF_CHECK_EQUAL(p->closes, std::vector<uint16_t>{1012});
      // Each is told when to come back (within a second), resuming.
      auto back = protocol::drain_retry_after(p->close_reasons.front());
      CAF_CHECK(back && *back < 1000);
      CAF_CHECK(p->close_reasons.front().find(R"("resume":true)")
                != std::string::npos);
    }
    return n;
  };
  self->send(orch, atom::drain_v, uint32_t{1000}, uint32_t{0});
  run_messages();
  CAF_CHECK_EQUAL(closed(), 2u);
  advance_time(100ms);
  run_messages();
  CAF_CHECK_EQUAL(closed(), 4u);
  for (int slot = 0; slot < 8; ++slot) {
    advance_time(100ms);
    run_messages();
  }
  CAF_CHECK_EQUAL(closed(), 20u);
  // Sessions that open meanwhile are closed at once, told to come back.
  auto late = open("late", "phone");
  CAF_CHECK_EQUAL(late->closes, std::vector<uint16_t>{1012});
  // The answer comes once every connection is gone.
  for (size_t i = 0; i + 1 < ports.size(); ++i)
    ports[i]->events->on_closed(1012);
  run_messages();
  CAF_CHECK(!self->mailbox().size());
  ports.back()->events->on_closed(1012);
  run_messages();
  self->receive([](atom::ok) {});
}

CAF_TEST(a drain goes at the handshake rate when that is sooner) {
  std::vector<std::shared_ptr<test::recording_port>> ports;
  for (int i = 0; i < 30; ++i)
    ports.push_back(open("u" + std::to_string(i), "phone"));
  auto closed = [&] {
    return std::count_if(ports.begin(), ports.end(),
                         [](auto& p) { return !p->closes.empty(); });
  };
  // 30 s allowed, but 100 per second: 10 a slot.
  self->send(orch, atom::drain_v, uint32_t{30000}, uint32_t{100});
  run_messages();
  CAF_CHECK_EQUAL(closed(), 10);
  advance_time(100ms);
  run_messages();
  CAF_CHECK_EQUAL(closed(), 20);
  advance_time(100ms);
  run_messages();
  CAF_CHECK_EQUAL(closed(), 30);
  for (auto& p : ports)
    p->events->on_closed(1012);
  run_messages();
  self->receive([](atom::ok) {});
}

CAF_TEST(stop kills connections that do not confirm within the deadline) {
  auto a = open("alice", "phone");
  auto running = sys.registry().running();
  self->send(orch, atom::stop_v);
  run_messages();
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1001});
  advance_time(5s);
  run_messages();
  self->receive([](atom::ok) {});
  // Killed: the connection is gone.
  CAF_CHECK_EQUAL(sys.registry().running(), running - 1);
}

CAF_TEST(a failed directory closes connections and restarts after backoff) {
  auto a = open("alice", "phone");
  auto first = directory_handle();
  anon_send_exit(first, caf::exit_reason::kill);
  run_messages();
  // Registrations died with the directory: the device must reconnect.
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1011});
  // No directory until the backoff passed.
  CAF_CHECK(directory_handle() == nullptr);
  // Full jitter within [0, 100ms].
  advance_time(100ms);
  run_messages();
  auto second = directory_handle();
  CAF_CHECK_NOT_EQUAL(second, first);
  // The new directory serves new sessions.
  auto b = open("alice", "phone");
  CAF_CHECK_EQUAL(b->sent.size(), 1u);
}

CAF_TEST(past the restart budget the orchestrator fails) {
  self->monitor(orch);
  for (int i = 0; i < 3; ++i) {
    auto d = directory_handle();
    anon_send_exit(d, caf::exit_reason::kill);
    run_messages();
    advance_time(2s);
    run_messages();
  }
  self->receive([&](const caf::down_msg& dm) {
    CAF_CHECK_EQUAL(dm.source, orch.address());
    CAF_CHECK(dm.reason);
  });
}

CAF_TEST(a killed orchestrator ends its children and sessions close with 1011) {
  // Monitors do not propagate exits and a kill skips the exit handler: the
  // orchestrator's state ends what it still holds when it is destroyed.
  auto a = open("alice", "phone");
  auto shard = directory_handle();
  self->monitor(shard);
  anon_send_exit(orch, caf::exit_reason::kill);
  run_messages();
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1011});
  self->receive([&](const caf::down_msg& dm) {
    CAF_CHECK_EQUAL(dm.source, shard.address());
  });
  orch = nullptr;
}

CAF_TEST_FIXTURE_SCOPE_END()

#define CAF_SUITE actors.orchestrator_actor
#include "test/support/actor_fixture.hpp"

#include "actors/orchestrator/orchestrator_actor.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

struct fixture : test::fixture_base {
  orchestrator_params params;
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  orchestrator_actor orch;

  fixture() {
    params.backoff.base = 100ms;
    params.backoff.cap = 1000ms;
    params.budget.max_restarts = 2;
    params.budget.period = 60s;
    params.stop_timeout = 5s;
  }

  ~fixture() override {
    anon_send_exit(orch, caf::exit_reason::user_shutdown);
  }

  void start() {
    orch = sys.spawn(orchestrator, params, metrics);
    sched.run();
  }

  std::shared_ptr<test::recording_port> open(const std::string& device) {
    auto p = std::make_shared<test::recording_port>();
    p->session.user_id = "alice";
    p->session.device_id = device;
    p->session.session_id = device;
    p->session.token_expires_at = 4102444800; // 2100-01-01
    self->send(orch, atom::open_v, std::shared_ptr<session_port>{p});
    sched.run();
    return p;
  }

  directory_actor directory_handle() {
    self->send(orch, atom::get_v, atom::directory_v);
    sched.run();
    directory_actor result;
    self->receive([&](directory_actor d) { result = d; });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(orchestrator_tests, fixture)

CAF_TEST(open spawns a supervised connection) {
  start();
  auto p = open("phone");
  CAF_CHECK(p->events != nullptr);
  CAF_CHECK_EQUAL(p->sent.size(), 1u); // the welcome
}

CAF_TEST(stop closes every connection with 1001 and answers once they end) {
  start();
  auto a = open("phone");
  auto b = open("laptop");
  self->send(orch, atom::stop_v);
  sched.run();
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1001});
  CAF_CHECK_EQUAL(b->closes, std::vector<uint16_t>{1001});
  a->events->on_closed(1001);
  sched.run();
  CAF_CHECK(!self->mailbox().size());
  b->events->on_closed(1001);
  sched.run();
  self->receive([](atom::ok) {});
  // New sessions during a stop are turned away.
  auto late = open("tablet");
  CAF_CHECK_EQUAL(late->closes, std::vector<uint16_t>{1001});
}

CAF_TEST(stop kills connections that do not confirm within the deadline) {
  start();
  auto a = open("phone");
  self->send(orch, atom::stop_v);
  sched.run();
  advance_time(5s);
  sched.run();
  self->receive([](atom::ok) {});
}

CAF_TEST(a failed directory closes connections and restarts after backoff) {
  start();
  auto a = open("phone");
  auto first = directory_handle();
  anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  // Registrations died with the directory: the device must reconnect.
  CAF_CHECK_EQUAL(a->closes, std::vector<uint16_t>{1011});
  // Before the backoff elapses the old handle is still reported.
  CAF_CHECK_EQUAL(directory_handle(), first);
  // Full jitter within [0, 100ms].
  advance_time(100ms);
  sched.run();
  auto second = directory_handle();
  CAF_CHECK_NOT_EQUAL(second, first);
}

CAF_TEST(past the restart budget the orchestrator fails) {
  start();
  self->monitor(orch);
  for (int i = 0; i < 3; ++i) {
    auto d = directory_handle();
    anon_send_exit(d, caf::exit_reason::kill);
    sched.run();
    advance_time(2s);
    sched.run();
  }
  self->receive([&](const caf::down_msg& dm) {
    CAF_CHECK_EQUAL(dm.source, orch.address());
    CAF_CHECK(dm.reason);
  });
}

CAF_TEST_FIXTURE_SCOPE_END()

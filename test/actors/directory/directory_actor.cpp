#define CAF_SUITE actors.directory_actor
#include "test/support/actor_fixture.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

device_identity id(std::string device, std::string role = {}) {
  return {"alice",
          std::move(device),
          protocol::device_type::mobile,
          std::move(role),
          "s-" + std::to_string(std::rand()),
          protocol::codec::json};
}

protocol::message_ptr to_device(std::string id, std::string from,
                                std::string device, bool durable = true) {
  auto m = std::make_shared<protocol::mobile_message>();
  m->id = std::move(id);
  m->source.user_id = "alice";
  m->source.device_id = std::move(from);
  m->destination.to = protocol::target::device;
  m->destination.device_id = std::move(device);
  m->type = "t";
  m->optimization.requires_ack = durable;
  return m;
}

struct fixture : test::node_fixture {
  directory_actor dir;

  fixture() {
    start();
    dir = directory_handle();
  }

  connection_actor join(const device_identity& who,
                        std::shared_ptr<test::probe_log> log) {
    auto p = sys.spawn(test::probe, log);
    self->send(dir, atom::join_v, who, p);
    run_messages();
    self->receive([](joined_info&) {});
    return p;
  }

  caf::expected<uint32_t> route(const device_identity& from,
                                protocol::message_ptr msg) {
    self->send(dir, atom::route_v, from, std::move(msg));
    run_messages();
    caf::expected<uint32_t> result = caf::sec::none;
    self->receive([&](uint32_t n) { result = n; },
                  [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(directory_tests, fixture)

CAF_TEST(a message to an offline known device is queued durably) {
  auto a = std::make_shared<test::probe_log>();
  auto pa = join(id("phone"), a);
  auto pb = join(id("laptop"), std::make_shared<test::probe_log>());
  anon_send_exit(pb, caf::exit_reason::user_shutdown);
  run_messages();
  auto r = route(id("phone"), to_device("m1", "phone", "laptop"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(*r, 1u);
  // On disk before the reply.
  auto rows = log->load("alice", "laptop");
  CAF_REQUIRE_EQUAL(rows.size(), 1u);
  CAF_CHECK_EQUAL(rows[0].msg_id, "m1");
  anon_send_exit(pa, caf::exit_reason::user_shutdown);
}

CAF_TEST(unknown devices and other users are refused) {
  auto pa = join(id("phone"), std::make_shared<test::probe_log>());
  auto u = route(id("phone"), to_device("m1", "phone", "fridge"));
  CAF_REQUIRE(!u);
  CAF_CHECK(to_errc(u.error()) == protocol::errc::unknown_device);
  auto m = to_device("m2", "phone", "phone");
  const_cast<protocol::mobile_message&>(*m).destination.user_id = "bob";
  auto f = route(id("phone"), m);
  CAF_CHECK(to_errc(f.error()) == protocol::errc::forbidden);
  anon_send_exit(pa, caf::exit_reason::user_shutdown);
}

CAF_TEST(a second connection of a device replaces the first) {
  auto first = std::make_shared<test::probe_log>();
  auto second = std::make_shared<test::probe_log>();
  auto p1 = join(id("phone"), first);
  auto p2 = join(id("phone"), second);
  run_messages();
  CAF_CHECK_EQUAL(first->closes, std::vector<uint16_t>{4500});
  CAF_CHECK(second->closes.empty());
  // The replaced connection's exit must not take the new one offline.
  anon_send_exit(p1, caf::exit_reason::user_shutdown);
  run_messages();
  self->send(dir, atom::get_v, std::string{"alice"});
  run_messages();
  self->receive([](const std::vector<device_identity>& devs) {
    CAF_CHECK_EQUAL(devs.size(), 1u);
  });
  anon_send_exit(p2, caf::exit_reason::user_shutdown);
}

CAF_TEST(known devices are loaded from the store) {
  log->begin();
  log->insert_device("alice", "tablet", 3, "", 1);
  log->commit();
  auto pa = join(id("phone"), std::make_shared<test::probe_log>());
  auto r = route(id("phone"), to_device("m", "phone", "tablet"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(log->load("alice", "tablet").size(), 1u);
  anon_send_exit(pa, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

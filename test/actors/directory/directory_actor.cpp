#define CAF_SUITE actors.directory_actor
#include "test/support/actor_fixture.hpp"

#include "actors/directory/directory_actor.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

device_identity id(std::string device, std::string role = {},
                   protocol::codec c = protocol::codec::json) {
  return {"alice", std::move(device), protocol::device_type::mobile,
          std::move(role), "s-" + std::to_string(std::rand()), c};
}

protocol::message_ptr to_device(std::string from, std::string device) {
  auto m = std::make_shared<protocol::mobile_message>();
  m->id = "m";
  m->source.user_id = "alice";
  m->source.device_id = std::move(from);
  m->destination.to = protocol::target::device;
  m->destination.device_id = std::move(device);
  m->type = "t";
  return m;
}

struct fixture : test::fixture_base {
  directory_actor dir = sys.spawn(directory);

  ~fixture() override { anon_send_exit(dir, caf::exit_reason::user_shutdown); }

  connection_actor join(const device_identity& who,
                        std::shared_ptr<test::probe_log> log) {
    auto p = sys.spawn(test::probe, log);
    self->send(dir, atom::join_v, who, p);
    sched.run();
    self->receive([](uint32_t) {});
    return p;
  }

  caf::expected<uint32_t> route(const device_identity& from,
                                protocol::message_ptr msg) {
    self->send(dir, atom::route_v, from, std::move(msg));
    sched.run();
    caf::expected<uint32_t> result = caf::sec::none;
    self->receive([&](uint32_t n) { result = n; },
                  [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(directory_tests, fixture)

CAF_TEST(routes encode once per codec and deliver) {
  auto a = std::make_shared<test::probe_log>();
  auto b = std::make_shared<test::probe_log>();
  auto pa = join(id("phone"), a);
  auto pb = join(id("laptop", "", protocol::codec::msgpack), b);
  auto r = route(id("phone"), to_device("phone", "laptop"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(*r, 1u);
  sched.run();
  CAF_REQUIRE_EQUAL(b->delivered.size(), 1u);
  CAF_CHECK_EQUAL(static_cast<uint8_t>(b->delivered[0][0]) & 0xF0, 0x80);
  CAF_CHECK(a->delivered.empty());
  anon_send_exit(pa, caf::exit_reason::user_shutdown);
  anon_send_exit(pb, caf::exit_reason::user_shutdown);
}

CAF_TEST(a device whose connection died is offline) {
  auto a = std::make_shared<test::probe_log>();
  auto pa = join(id("phone"), a);
  auto pb = join(id("laptop"), std::make_shared<test::probe_log>());
  anon_send_exit(pb, caf::exit_reason::user_shutdown);
  sched.run();
  auto r = route(id("phone"), to_device("phone", "laptop"));
  CAF_REQUIRE(!r);
  CAF_CHECK(to_errc(r.error()) == protocol::errc::device_offline);
  auto u = route(id("phone"), to_device("phone", "fridge"));
  CAF_CHECK(to_errc(u.error()) == protocol::errc::unknown_device);
  anon_send_exit(pa, caf::exit_reason::user_shutdown);
}

CAF_TEST(a second connection of a device replaces the first) {
  auto first = std::make_shared<test::probe_log>();
  auto second = std::make_shared<test::probe_log>();
  auto p1 = join(id("phone"), first);
  auto p2 = join(id("phone"), second);
  sched.run();
  CAF_CHECK_EQUAL(first->closes, std::vector<uint16_t>{4500});
  CAF_CHECK(second->closes.empty());
  auto r = route(id("phone"), to_device("phone", "phone"));
  CAF_REQUIRE(r);
  sched.run();
  CAF_CHECK_EQUAL(second->delivered.size(), 1u);
  CAF_CHECK(first->delivered.empty());
  // The replaced connection's exit must not take the new one offline.
  anon_send_exit(p1, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(route(id("phone"), to_device("phone", "phone")));
  anon_send_exit(p2, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

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

// A store that counts what a directory asks of it: the user's devices, the
// same with a registration, or a registration alone. It knows nobody.
struct store_calls {
  int devices = 0;
  int devices_and_open = 0;
  int open = 0;
};

device_record record_of(const device_identity& id) {
  device_record r;
  r.user_id = id.user_id;
  r.device_id = id.device_id;
  r.epoch = "epoch-" + id.device_id;
  return r;
}

store_actor::behavior_type counting_store(store_actor::pointer,
                                          std::shared_ptr<store_calls> calls) {
  return {
    [](atom::append, const stored_message&) { return atom::ok_v; },
    [](atom::remove, const message_keys&) {},
    [](atom::bury, const message_keys&) {},
    [](atom::remove, atom::dead) {},
    [calls](atom::open, const device_identity& id, uint64_t) {
      ++calls->open;
      return std::make_tuple(record_of(id), std::vector<stored_message>{},
                             true);
    },
    [](atom::reserve, const reservation&) { return atom::ok_v; },
    [](atom::gaps, const gap_counts&) {},
    [calls](atom::get, atom::devices, const std::string&) {
      ++calls->devices;
      return std::vector<device_record>{};
    },
    [calls](atom::get, atom::devices, const std::string&,
            const device_identity& id, uint64_t) {
      ++calls->devices_and_open;
      return std::make_tuple(std::vector<device_record>{}, record_of(id),
                             std::vector<stored_message>{}, true);
    },
    [](atom::get, atom::backlog) { return std::vector<device_record>{}; },
    [](atom::get, atom::dead, const std::string&) {
      return std::vector<stored_message>{};
    },
    [](atom::push, atom::append, const std::string&, const std::string&,
       const protocol::push_address&) { return atom::ok_v; },
    [](atom::push, atom::remove, const std::string&, const std::string&,
       int32_t) { return atom::ok_v; },
    [](atom::push, atom::dead, const std::string&, const std::string&,
       const protocol::push_address&) {},
    [](atom::push, atom::written, const std::string&, const std::string&,
       int64_t) {},
    [](atom::push, atom::get, const std::string&, const std::string&) {
      return std::vector<protocol::push_address>{};
    },
    [](atom::push, atom::backlog, uint8_t) {
      return std::vector<device_record>{};
    },
    // Replicated queues: never asked of a directory.
    [](atom::replicate, const replica_batch&) -> caf::result<uint8_t> {
      return caf::sec::unexpected_message;
    },
    [](atom::remove, atom::replicate, const std::string&, const message_keys&) {
    },
    [](atom::get, atom::replicate,
       const std::string&) -> caf::result<std::vector<replica_header>> {
      return caf::sec::unexpected_message;
    },
    [](atom::get, atom::replicate, const std::string&, const std::string&,
       const std::string&, uint64_t,
       const std::string&) -> caf::result<std::vector<stored_message>> {
      return caf::sec::unexpected_message;
    },
    [](atom::generation, const std::string&, const std::string&, uint64_t)
      -> caf::result<atom::ok> { return caf::sec::unexpected_message; },
    [](atom::flush) {},
  };
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

  /// Joins `who` through `shard` (this node's shard if none) with a
  /// connection that leaves at once; the shard's answer.
  joined_info join_answer(const device_identity& who,
                          directory_actor shard = {}) {
    auto p = sys.spawn(test::probe, std::make_shared<test::probe_log>());
    self->send(shard ? shard : dir, atom::join_v, who, p);
    run_messages();
    joined_info result;
    self->receive([&](joined_info& j) { result = std::move(j); });
    anon_send_exit(p, caf::exit_reason::user_shutdown);
    return result;
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

// The join that loads its user has the store list the user's devices and
// register the joining one in one request (a new device: once durable).
CAF_TEST(a join that loads its user registers its device) {
  device_identity who{"bob", "phone", protocol::device_type::mobile,
                      "",    "s-b",   protocol::codec::json};
  auto joined = join_answer(who);
  auto rec = log->find_device("bob", "phone");
  CAF_REQUIRE(rec);
  // Nothing stored for it: no queue yet, the record's token to resume by.
  CAF_CHECK(!joined.queue);
  CAF_CHECK(!joined.epoch.empty());
  CAF_CHECK_EQUAL(joined.epoch, rec->epoch);
}

// Counted on a stand-in store: the join that loads its user asks once for
// both; a second device of the loaded user only registers.
CAF_TEST(a join that loads its user asks the store once) {
  auto calls = std::make_shared<store_calls>();
  auto store = sys.spawn(counting_store, calls);
  auto shard = sys.spawn(directory, orchestrator_actor{}, store,
                         directory_params{}, metrics,
                         std::shared_ptr<const std::vector<directory_actor>>{});
  run_messages();
  auto join_on = [&](const std::string& device) {
    return join_answer({"dave", device, protocol::device_type::mobile, "",
                        "s-" + device, protocol::codec::json},
                       shard);
  };
  auto first = join_on("phone");
  CAF_CHECK_EQUAL(calls->devices_and_open, 1);
  CAF_CHECK_EQUAL(calls->devices, 0);
  CAF_CHECK_EQUAL(calls->open, 0);
  CAF_CHECK_EQUAL(first.epoch, "epoch-phone");
  auto second = join_on("tablet");
  CAF_CHECK_EQUAL(calls->devices_and_open, 1);
  CAF_CHECK_EQUAL(calls->open, 1);
  CAF_CHECK_EQUAL(second.epoch, "epoch-tablet");
  anon_send_exit(shard, caf::exit_reason::user_shutdown);
  anon_send_exit(store, caf::exit_reason::user_shutdown);
  run_messages();
}

// A known device with stored messages, of a user not loaded yet (a node
// that restarted): its queue starts, with them.
CAF_TEST(a join that loads its user starts a queue with stored messages) {
  log->begin();
  log->insert_device("carol", "tablet", 1, "", 1);
  stored_message m;
  m.user_id = "carol";
  m.device_id = "tablet";
  m.qid = 1;
  m.priority = 2;
  m.enqueued_ms = 1;
  m.expires_ms = 4102444800000;
  m.needs_ack = true;
  m.msg_id = "waiting";
  auto msg = *to_device("waiting", "phone", "tablet");
  msg.source.user_id = "carol";
  m.body = protocol::encode(protocol::codec::msgpack, msg);
  log->append(m);
  log->commit();
  auto joined = join_answer({"carol", "tablet", protocol::device_type::tablet,
                             "", "s-c", protocol::codec::json});
  CAF_CHECK(joined.queue);
  CAF_CHECK_EQUAL(log->load("carol", "tablet").size(), 1u);
}

CAF_TEST(a broadcast handled on one device leaves nothing for the others) {
  auto phone = join(id("phone"), std::make_shared<test::probe_log>());
  auto laptop = join(id("laptop"), std::make_shared<test::probe_log>());
  for (auto gone : {"tablet", "watch"})
    anon_send_exit(join(id(gone), std::make_shared<test::probe_log>()),
                   caf::exit_reason::user_shutdown);
  run_messages();
  // Durable and not, from the phone to the user's three other devices.
  for (auto [mid, durable] : {std::pair{"b1", true}, std::pair{"b2", false}}) {
    auto m = to_device(mid, "phone", "", durable);
    auto& w = const_cast<protocol::mobile_message&>(*m);
    w.destination.to = protocol::target::broadcast;
    w.destination.device_id.reset();
    w.destination.broadcast = protocol::broadcast_info{};
    auto r = route(id("phone"), m);
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(*r, 3u);
  }
  CAF_CHECK_EQUAL(log->load("alice", "tablet").size(), 1u);
  // The laptop handled both: the tablet's and the watch's copies go (the
  // laptop's own stays); each offline queue is started from the store.
  self->send(dir, atom::handled_v, id("laptop"),
             std::vector<std::string>{"b1", "b2"});
  run_messages();
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::withdrawn), 4u);
  for (auto device : {"tablet", "watch"})
    CAF_CHECK(log->load("alice", device).empty());
  CAF_CHECK_EQUAL(log->load("alice", "laptop").size(), 1u);
  for (auto a : {phone, laptop})
    anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

#define CAF_SUITE actors.store_actor
#include "test/support/actor_fixture.hpp"

#include "actors/store/store_actor.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

stored_message row(uint64_t qid) {
  stored_message m;
  m.user_id = "alice";
  m.device_id = "phone";
  m.qid = qid;
  m.msg_id = "m" + std::to_string(qid);
  m.body = "x";
  return m;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(store_tests, test::fixture_base)

CAF_TEST(appends waiting together share one commit) {
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  auto st = sys.spawn(store, log, metrics, store_params{});
  for (uint64_t i = 1; i <= 50; ++i)
    self->send(st, atom::append_v, row(i));
  sched.run();
  int acked = 0;
  for (int i = 0; i < 50; ++i)
    self->receive([&](atom::ok) { ++acked; });
  CAF_CHECK_EQUAL(acked, 50);
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 50u);
  auto text = metrics->render_prometheus();
  CAF_CHECK(text.find("tether_store_commits_total 1\n") != std::string::npos);
  CAF_CHECK(text.find("tether_store_operations_total 50\n")
            != std::string::npos);
  // Removes are group committed too, and reads see pending writes.
  self->send(st, atom::remove_v, message_keys{"alice", "phone", {1, 2, 3}});
  self->send(st, atom::open_v,
             device_identity{"alice", "phone", {}, {}, {}, {}}, uint64_t{64});
  sched.run();
  self->receive([](device_record&, std::vector<stored_message>& backlog, bool) {
    CAF_CHECK_EQUAL(backlog.size(), 47u);
  });
  anon_send_exit(st, caf::exit_reason::user_shutdown);
}

CAF_TEST(a new device is registered with its first seqs reserved) {
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  auto st = sys.spawn(store, log, metrics, store_params{});
  auto open = [&](bool expect_fresh) {
    self->send(st, atom::open_v,
               device_identity{"bob", "watch", {}, {}, {}, {}}, uint64_t{4096});
    sched.run();
    self->receive(
      [&](device_record& rec, std::vector<stored_message>&, bool fresh) {
        CAF_CHECK_EQUAL(fresh, expect_fresh);
        CAF_CHECK_EQUAL(rec.seq_reserved, 4096u);
      });
  };
  open(true);
  // One commit holds the record and its reservation, on disk.
  auto text = metrics->render_prometheus();
  CAF_CHECK(text.find("tether_store_commits_total 1\n") != std::string::npos);
  auto rec = log->find_device("bob", "watch");
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL(rec->seq_reserved, 4096u);
  // Known now: the reservation stands and the device is not new.
  open(false);
  anon_send_exit(st, caf::exit_reason::user_shutdown);
}

CAF_TEST(dead letters are purged after their retention and counted) {
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  store_params params;
  params.dead_letter_retention = std::chrono::seconds{10};
  params.test_clock_skew = std::make_shared<std::atomic<int64_t>>(0);
  auto st = sys.spawn(store, log, metrics, params);
  self->send(st, atom::append_v, row(1));
  self->send(st, atom::append_v, row(2));
  sched.run();
  self->receive([](atom::ok) {});
  self->receive([](atom::ok) {});
  self->send(st, atom::bury_v, message_keys{"alice", "phone", {1}});
  sched.run();
  CAF_CHECK_EQUAL(log->dead_letters("alice", 10).size(), 1u);
  // A purge within the retention keeps it.
  CAF_CHECK_EQUAL(purge_interval(params.dead_letter_retention),
                  std::chrono::milliseconds{1000});
  advance_time(std::chrono::seconds{1});
  sched.run();
  CAF_CHECK_EQUAL(log->dead_letters("alice", 10).size(), 1u);
  // Past it (the wall clock moved on by 11 s), the next purge deletes it.
  params.test_clock_skew->store(11000);
  advance_time(std::chrono::seconds{1});
  sched.run();
  CAF_CHECK(log->dead_letters("alice", 10).empty());
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 1u);
  CAF_CHECK(metrics->render_prometheus().find(
              "tether_store_dead_letters_purged_total 1\n")
            != std::string::npos);
  anon_send_exit(st, caf::exit_reason::user_shutdown);
}

CAF_TEST(a copy is kept committed answered and adopted) {
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  auto st = sys.spawn(store, log, metrics, store_params{});
  replica_batch b;
  b.header = replica_header{"c", "alice", "phone", 0, "", 3, {"b", "a"}, ""};
  b.rows = {row(1), row(2)};
  self->send(st, atom::replicate_v, b);
  // A batch of an older generation of that leader: answered false.
  auto stale = b;
  stale.header.gen = 2;
  stale.rows = {row(9)};
  self->send(st, atom::replicate_v, stale);
  sched.run();
  self->receive([](uint8_t outcome) {
    CAF_CHECK(static_cast<replica_outcome>(outcome) == replica_outcome::stored);
  });
  self->receive([](uint8_t outcome) {
    CAF_CHECK(static_cast<replica_outcome>(outcome) == replica_outcome::stale);
  });
  // Committed, as one transaction.
  CAF_CHECK(metrics->render_prometheus().find("tether_store_commits_total 1\n")
            != std::string::npos);
  self->send(st, atom::get_v, atom::replicate_v, std::string{"c"});
  // (A takeover's read by b: the copy is fenced at generation 4.)
  self->send(st, atom::get_v, atom::replicate_v, std::string{"c"},
             std::string{"alice"}, std::string{"phone"}, uint64_t{4},
             std::string{"b"});
  sched.run();
  self->receive([](std::vector<replica_header>& hs) {
    CAF_REQUIRE_EQUAL(hs.size(), 1u);
    CAF_CHECK_EQUAL(hs[0].followers, (std::vector<std::string>{"b", "a"}));
  });
  self->receive([](std::vector<stored_message>& rows) {
    CAF_CHECK_EQUAL(rows.size(), 2u);
  });
  // Adopted by this node's queue: the rows it took leave the copy, which
  // goes with its last.
  self->send(st, atom::remove_v, atom::replicate_v, std::string{"c"},
             message_keys{"alice", "phone", {1}});
  sched.run();
  CAF_CHECK_EQUAL(log->replica_rows("c", "alice", "phone").size(), 1u);
  self->send(st, atom::remove_v, atom::replicate_v, std::string{"c"},
             message_keys{"alice", "phone", {2}});
  sched.run();
  CAF_CHECK(log->replicas_of("c").empty());
  // A queue's generation (its device known here) only rises.
  device_identity id;
  id.user_id = "alice";
  id.device_id = "phone";
  self->send(st, atom::open_v, id, uint64_t{16});
  sched.run();
  self->receive([](device_record&, std::vector<stored_message>&, bool) {});
  self->send(st, atom::generation_v, std::string{"alice"}, std::string{"phone"},
             uint64_t{7});
  sched.run();
  self->receive([](atom::ok) {});
  auto rec = log->find_device("alice", "phone");
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL(rec->gen, 7u);
  anon_send_exit(st, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

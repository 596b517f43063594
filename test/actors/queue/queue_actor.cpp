#define CAF_SUITE actors.queue_actor
#include "test/support/actor_fixture.hpp"

#include "actors/queue/queue_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "protocol/control.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

protocol::message_ptr
msg(const std::string& id, protocol::priority p = protocol::priority::normal,
    bool requires_ack = true, std::optional<int64_t> ttl = std::nullopt) {
  auto m = std::make_shared<protocol::mobile_message>();
  m->id = id;
  m->source.user_id = "alice";
  m->source.device_id = "laptop";
  m->destination.to = protocol::target::device;
  m->destination.device_id = "phone";
  m->type = "t";
  m->optimization.prio = p;
  m->optimization.requires_ack = requires_ack;
  m->optimization.ttl_ms = ttl;
  return m;
}

struct fixture : test::fixture_base {
  test::temp_dir dir;
  std::shared_ptr<durable_log> log;
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  store_actor st;
  queue_actor_params params;
  queue_actor q;
  std::shared_ptr<test::probe_log> seen = std::make_shared<test::probe_log>();
  batcher_actor b;
  write_progress_ptr progress;
  std::shared_ptr<test::probe_log> conn_log
    = std::make_shared<test::probe_log>();
  connection_actor conn;

  fixture() {
    log = std::make_shared<durable_log>(dir.path() + "/tether.db");
    st = sys.spawn(store, log, metrics, store_params{});
    params.queue.ack_timeout = 1s;
    params.queue.max_attempts = 2;
    params.seq_block = 16;
  }

  ~fixture() override {
    for (auto a :
         {caf::actor_cast<caf::actor>(q), caf::actor_cast<caf::actor>(b),
          caf::actor_cast<caf::actor>(conn), caf::actor_cast<caf::actor>(st)})
      if (a)
        anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (home)
      anon_send_exit(home, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Release offers the queue's home received.
  std::shared_ptr<size_t> offers = std::make_shared<size_t>(0);
  queue_home home;

  void spawn_queue(queue_restore restore = {}) {
    if (!home)
      home = sys.spawn([n = offers]() -> queue_home::behavior_type {
        return {[n](atom::release) { ++*n; }};
      });
    q = sys.spawn(queue, device_identity{"alice", "phone", {}, {}, {}, {}}, st,
                  params, metrics, home, std::move(restore));
    sched.run();
  }

  /// What the queue answers its home's request for its record.
  caf::expected<queue_record> release() {
    self->send(q, atom::release_v);
    sched.run();
    caf::expected<queue_record> r = caf::sec::none;
    self->receive([&](queue_record& x) { r = std::move(x); },
                  [&](caf::error& e) { r = std::move(e); });
    return r;
  }

  caf::expected<uint32_t> enqueue(protocol::message_ptr m) {
    self->send(q, atom::enqueue_v, std::move(m));
    sched.run();
    caf::expected<uint32_t> r = caf::sec::none;
    self->receive([&](uint32_t n) { r = n; },
                  [&](caf::error& e) { r = std::move(e); });
    return r;
  }

  // A connection attaches without a batcher (an idle device has none).
  resume_info attach_idle(const resume_request& req = {}) {
    conn = sys.spawn(test::probe, conn_log);
    self->send(q, atom::attach_v, conn, req);
    sched.run();
    resume_info info;
    self->receive([&](resume_info& i) { info = std::move(i); });
    return info;
  }

  // The connection's batcher: the connection tells the queue, the batcher
  // pulls.
  void start_batcher(std::shared_ptr<test::recording_port> port = nullptr) {
    seen = std::make_shared<test::probe_log>();
    b = sys.spawn(test::probe_batcher, seen);
    // With a session the queue may write to itself (write_progress.hpp).
    progress = port ? std::make_shared<write_progress>(port, uint8_t{0})
                    : std::make_shared<write_progress>();
    caf::send_as(conn, q, atom::start_v, b, int32_t{-1}, progress);
    self->send(b, atom::start_v, caf::actor_cast<delivery_source>(q));
    sched.run();
  }

  // Attached with a batcher at once (what a connection does after its
  // welcome when the queue holds a backlog).
  resume_info attach(const resume_request& req = {}) {
    auto info = attach_idle(req);
    start_batcher();
    return info;
  }

  // The batcher's window (it sent nothing before).
  void demand(uint32_t n) {
    self->send(q, atom::demand_v, n, uint64_t{0});
    sched.run();
  }

  // The session wrote the first `n` messages the batcher took; `wake`: the
  // queue waits for it and is told (through the batcher).
  void written(uint64_t n, bool wake) {
    progress->advance(n);
    if (wake)
      self->send(q, atom::written_v);
    sched.run();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(queue_actor_tests, fixture)

CAF_TEST(durable messages are on disk when enqueue answers) {
  spawn_queue();
  CAF_CHECK(enqueue(msg("a")));
  CAF_CHECK(enqueue(msg("fire", protocol::priority::normal, false)));
  auto rows = log->load("alice", "phone");
  CAF_REQUIRE_EQUAL(rows.size(), 1u);
  CAF_CHECK_EQUAL(rows[0].msg_id, "a");
}

CAF_TEST(an attached device gets its backlog by priority) {
  spawn_queue();
  enqueue(msg("low", protocol::priority::low));
  enqueue(msg("n1"));
  enqueue(msg("crit", protocol::priority::critical));
  enqueue(msg("n2"));
  enqueue(msg("high", protocol::priority::high));
  auto info = attach();
  CAF_CHECK_EQUAL(info.token.size(), 16u);
  CAF_CHECK(!info.resumed);
  CAF_CHECK_EQUAL(info.backlog, 5u);
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{
                                     "crit", "high", "n1", "n2", "low"}));
  // Seqs follow delivery order.
  for (size_t i = 1; i < seen->deliveries.size(); ++i)
    CAF_CHECK_EQUAL(seen->deliveries[i].seq, seen->deliveries[i - 1].seq + 1);
}

CAF_TEST(acks retire durably and a restart recovers the rest) {
  spawn_queue();
  for (auto id : {"a", "b", "c"})
    enqueue(msg(id));
  attach();
  demand(10);
  auto seq_a = seen->deliveries[0].seq;
  self->send(q, atom::ack_v, seq_a);            // cumulative: a
  self->send(q, atom::ack_v, std::string{"c"}); // by id: c
  sched.run();
  self->send(st, atom::flush_v);
  sched.run();
  auto rows = log->load("alice", "phone");
  CAF_REQUIRE_EQUAL(rows.size(), 1u);
  CAF_CHECK_EQUAL(rows[0].msg_id, "b");
  // A new queue actor (a node restart) delivers what is left.
  anon_send_exit(q, caf::exit_reason::kill);
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  spawn_queue();
  attach();
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, std::vector<std::string>{"b"});
  // Seqs never repeat across incarnations.
  CAF_CHECK(seen->deliveries[0].seq > seq_a + 2);
}

CAF_TEST(a delivered message handed over again is not delivered twice) {
  // With replication another copy of the device's queue may hand messages
  // over that were delivered here (an old leader back after a takeover,
  // SPEC §14.3): the queue remembers the ids of the last it delivered.
  params.delivered_window = 2;
  spawn_queue();
  for (auto id : {"a", "b", "c"})
    enqueue(msg(id));
  attach();
  demand(10);
  auto seq_c = seen->deliveries.at(2).seq;
  self->send(q, atom::ack_v, seq_c); // a, b and c
  sched.run();
  // Handed over again, with a new one: taken (answered), b and c dropped;
  // a, the oldest of three with room for two, was forgotten.
  for (auto id : {"a", "b", "c", "d"})
    CAF_CHECK(enqueue(msg(id)));
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered,
                  (std::vector<std::string>{"a", "b", "c", "a", "d"}));
}

CAF_TEST(a resume with the token retires what the device acknowledged) {
  spawn_queue();
  for (auto id : {"a", "b", "c"})
    enqueue(msg(id));
  auto info = attach();
  demand(10);
  auto last = seen->deliveries[1].seq; // the device got a and b
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  auto again = attach(resume_request{info.token, last});
  CAF_CHECK(again.resumed);
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, std::vector<std::string>{"c"});
  // Without the token everything unacked comes again (at least once).
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  auto fresh = attach(resume_request{"wrong", last});
  CAF_CHECK(!fresh.resumed);
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, std::vector<std::string>{"c"});
}

CAF_TEST(expired messages are not delivered and a gap is reported) {
  spawn_queue();
  enqueue(msg("short", protocol::priority::high, true, 5000));
  enqueue(msg("long", protocol::priority::normal, true, 60000));
  advance_time(6s);
  sched.run();
  attach();
  demand(10);
  CAF_REQUIRE_EQUAL(seen->delivered.size(), 2u);
  CAF_CHECK_EQUAL(seen->delivered[1], "long");
  auto& gap = *seen->deliveries[0].msg;
  CAF_CHECK_EQUAL(gap.type, "tether.gap");
  CAF_CHECK(gap.payload.raw.find(R"("reason":"expired","count":1)")
            != std::string::npos);
  CAF_CHECK(gap.payload.raw.find("short") != std::string::npos);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::expired), 1u);
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 1u);
}

CAF_TEST(unacked messages are redelivered with backoff then dead lettered) {
  spawn_queue();
  enqueue(msg("a"));
  attach();
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered.size(), 1u);
  advance_time(1s); // ack timeout: redeliver (attempt 2)
  sched.run();
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"a", "a"}));
  CAF_CHECK_EQUAL(seen->deliveries[1].seq, seen->deliveries[0].seq);
  advance_time(2s); // second timeout: out of attempts
  sched.run();
  demand(10);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::dead_lettered), 1u);
  self->send(st, atom::get_v, atom::dead_v, std::string{"alice"});
  sched.run();
  self->receive([](const std::vector<stored_message>& dead) {
    CAF_REQUIRE_EQUAL(dead.size(), 1u);
    CAF_CHECK_EQUAL(dead[0].msg_id, "a");
  });
  // The device hears about it.
  CAF_CHECK_EQUAL(seen->deliveries.back().msg->type, "tether.gap");
  CAF_CHECK(seen->deliveries.back().msg->payload.raw.find("dead_letter")
            != std::string::npos);
}

CAF_TEST(a full queue refuses with QUEUE_OVERFLOW) {
  params.queue.max_items = 2;
  spawn_queue();
  CAF_CHECK(enqueue(msg("c1", protocol::priority::critical)));
  CAF_CHECK(enqueue(msg("c2", protocol::priority::critical)));
  auto r = enqueue(msg("c3", protocol::priority::critical));
  CAF_REQUIRE(!r);
  CAF_CHECK(to_errc(r.error()) == protocol::errc::queue_overflow);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::overflow), 1u);
}

CAF_TEST(an idle connection is asked for its batcher once there is mail) {
  spawn_queue();
  attach_idle();
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 0u);
  enqueue(msg("a"));
  enqueue(msg("b"));
  // Asked once, however much arrives before the batcher runs.
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 1u);
  // A batcher of another connection (the one this device replaced) is not
  // taken: only the attached connection names its batcher.
  auto stranger = sys.spawn(test::probe_batcher, seen);
  self->send(q, atom::start_v, stranger, int32_t{-1},
             std::make_shared<write_progress>());
  self->send(stranger, atom::start_v, caf::actor_cast<delivery_source>(q));
  sched.run();
  demand(10);
  CAF_CHECK(seen->delivered.empty());
  start_batcher();
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"a", "b"}));
  anon_send_exit(stranger, caf::exit_reason::user_shutdown);
  // The connection ends: the queue is detached. The next one starts its
  // batcher itself for the backlog (unacked: a and b again), or is asked
  // once mail comes.
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(attach_idle().backlog, 2u);
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 1u);
  enqueue(msg("c"));
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 2u);
}

CAF_TEST(an idle queue offers its release and continues from its record) {
  params.release_after = 10s;
  spawn_queue();
  auto info = attach();
  demand(10);
  enqueue(msg("a", protocol::priority::normal, false));
  CAF_REQUIRE_EQUAL(seen->deliveries.size(), 1u);
  auto first_seq = seen->deliveries[0].seq;
  // Written: the queue holds nothing from now on.
  written(1, true);
  advance_time(9s);
  sched.run();
  CAF_CHECK_EQUAL(*offers, 0u);
  advance_time(2s);
  sched.run();
  CAF_CHECK_EQUAL(*offers, 1u);
  // Mail that reaches it before its home asks keeps it: it refuses.
  enqueue(msg("b", protocol::priority::normal, false));
  CAF_CHECK(!release());
  // Written, and the queue not told: it takes that in within a second.
  written(2, false);
  advance_time(11s);
  sched.run();
  CAF_CHECK_EQUAL(*offers, 2u);
  auto running = sys.registry().running();
  auto record = release();
  CAF_REQUIRE(record);
  CAF_CHECK_EQUAL(record->epoch, info.token);
  CAF_CHECK_EQUAL(record->next_seq, first_seq + 2);
  CAF_CHECK_EQUAL(sys.registry().running(), running - 1);
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::released), 1u);
  // Its next incarnation starts attached to the connection, without the
  // store, and asks the connection for its batcher once mail comes.
  spawn_queue(queue_restore{*record, conn});
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 0u);
  enqueue(msg("c", protocol::priority::normal, false));
  CAF_CHECK_EQUAL(conn_log->batcher_asks, 1u);
  start_batcher();
  demand(10);
  CAF_REQUIRE_EQUAL(seen->deliveries.size(), 1u);
  CAF_CHECK_EQUAL(seen->deliveries[0].seq, first_seq + 2);
  // The resume token is the same epoch.
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(attach_idle(resume_request{info.token, first_seq + 2}).resumed);
}

CAF_TEST(a slow consumer is closed with 4002 and keeps its queue) {
  params.queue.slow_after = 5s;
  spawn_queue();
  attach(); // no demand: the device does not read
  enqueue(msg("a"));
  advance_time(6s);
  sched.run();
  CAF_CHECK_EQUAL(conn_log->closes, std::vector<uint16_t>{4002});
  CAF_CHECK_EQUAL(log->load("alice", "phone").size(), 1u);
}

CAF_TEST(copies handled elsewhere are withdrawn and the device told) {
  spawn_queue();
  enqueue(msg("had", protocol::priority::high));
  attach();
  demand(10);
  CAF_CHECK_EQUAL(seen->delivered, std::vector<std::string>{"had"});
  // Waiting (durable and not), one its sender kept, one the device had.
  anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched.run();
  enqueue(msg("queued"));
  enqueue(msg("plain", protocol::priority::normal, false));
  auto kept = std::make_shared<protocol::mobile_message>(*msg("kept"));
  kept->optimization.withdrawable = false;
  enqueue(kept);
  // ("mine": the device sent it itself, so it is not told of it.)
  self->send(q, atom::withdraw_v,
             std::vector<std::string>{"queued", "plain", "kept", "had", "gone",
                                      "mine"},
             std::vector<std::string>{"mine"});
  sched.run();
  CAF_CHECK_EQUAL(metrics->queue_events(queue_counter::withdrawn), 3u);
  self->send(st, atom::flush_v);
  sched.run();
  // On disk: the kept one, and the notice for the device (durable).
  std::vector<std::string> stored;
  for (auto& r : log->load("alice", "phone"))
    stored.push_back(r.msg_id);
  CAF_REQUIRE_EQUAL(stored.size(), 2u);
  CAF_CHECK_EQUAL(stored[0], "kept");
  CAF_CHECK_EQUAL(stored[1].rfind("withdrawn-", 0), 0u);
  // A second withdrawal while the notice waits merges into it.
  self->send(q, atom::withdraw_v, std::vector<std::string>{"older", "had"},
             std::vector<std::string>{});
  sched.run();
  // A restart recovers them; the device gets the kept message and one
  // notice naming what it may have had.
  anon_send_exit(q, caf::exit_reason::kill);
  sched.run();
  spawn_queue();
  attach();
  demand(10);
  CAF_REQUIRE_EQUAL(seen->deliveries.size(), 2u);
  auto& notice = *seen->deliveries[0].msg;
  CAF_CHECK_EQUAL(notice.type, "tether.withdrawn");
  std::vector<std::string> told;
  std::vector<protocol::field_error> errors;
  CAF_CHECK(protocol::read_message_ids(
    notice.payload, protocol::max_withdrawn_ids, told, errors));
  CAF_CHECK_EQUAL(told, (std::vector<std::string>{"had", "gone", "older"}));
  CAF_CHECK_EQUAL(seen->deliveries[1].msg->id, "kept");
}

CAF_TEST(a message goes straight to the session while the batcher holds
           nothing and behind what it holds otherwise) {
  auto port = std::make_shared<test::recording_port>();
  spawn_queue();
  attach_idle();
  start_batcher(port);
  demand(8);
  auto frame_of = [&](size_t i) {
    auto f = port->decoded(i);
    CAF_REQUIRE(!f.empty() && f.front().messages.size() == 1);
    return f.front().messages.front().msg;
  };
  // Nothing held: the queue writes it (the frame's tag counts it).
  CAF_CHECK(enqueue(msg("a")));
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  CAF_CHECK_EQUAL(port->sent[0].tag, 1u);
  auto a = frame_of(0);
  CAF_CHECK_EQUAL(a.id, "a");
  CAF_CHECK(seen->delivered.empty());
  // Its frame is not written yet: what follows goes through the batcher,
  // whatever its priority, so it cannot pass it.
  CAF_CHECK(enqueue(msg("b")));
  CAF_CHECK(enqueue(msg("c", protocol::priority::critical)));
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"b", "c"}));
  // Written; the batcher still holds b and c: d joins them.
  written(1, false);
  CAF_CHECK(enqueue(msg("d")));
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"b", "c", "d"}));
  CAF_CHECK_EQUAL(port->sent.size(), 1u);
  // The batcher wrote them (tags 2..4, as it claims them) and the session
  // too: the next goes straight again, with the next tag and seq.
  CAF_CHECK_EQUAL(progress->claim(3), 4u);
  written(4, false);
  CAF_CHECK(enqueue(msg("e")));
  CAF_REQUIRE_EQUAL(port->sent.size(), 2u);
  CAF_CHECK_EQUAL(port->sent[1].tag, 5u);
  auto e = frame_of(1);
  CAF_CHECK_EQUAL(e.id, "e");
  // Seqs follow the order of the wire: a, then the batcher's, then e.
  CAF_REQUIRE(a.seq && e.seq);
  CAF_CHECK_EQUAL(seen->deliveries[0].seq, *a.seq + 1);
  CAF_CHECK_EQUAL(*e.seq, seen->deliveries[2].seq + 1);
  // Written frames retire their no-ack messages as the batcher's do.
  written(5, false);
  CAF_CHECK(enqueue(msg("f", protocol::priority::normal, false)));
  CAF_CHECK_EQUAL(port->sent.size(), 3u);
}

CAF_TEST(a backlog starts with its first message straight and the rest through
           the batcher by priority) {
  auto port = std::make_shared<test::recording_port>();
  spawn_queue();
  enqueue(msg("low", protocol::priority::low));
  enqueue(msg("n1"));
  enqueue(msg("crit", protocol::priority::critical));
  enqueue(msg("high", protocol::priority::high));
  attach_idle();
  start_batcher(port);
  demand(10);
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  auto f = port->decoded();
  CAF_REQUIRE_EQUAL(f.front().messages.size(), 1u);
  CAF_CHECK_EQUAL(f.front().messages.front().msg.id, "crit");
  CAF_CHECK_EQUAL(seen->delivered,
                  (std::vector<std::string>{"high", "n1", "low"}));
}

CAF_TEST(another thread
         or app level compression leaves every message to the batcher) {
  auto port = std::make_shared<test::recording_port>();
  spawn_queue();
  attach_idle();
  start_batcher(port);
  demand(8);
  // Compression is the batcher's part.
  progress->set_compress(1);
  CAF_CHECK(enqueue(msg("a")));
  // A queue not (yet) on the session's thread: its send would be posted,
  // and a frame the batcher sends meanwhile could pass it.
  progress->set_compress(0);
  port->here = false;
  CAF_CHECK(enqueue(msg("b")));
  CAF_CHECK(port->sent.empty());
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"a", "b"}));
  // On it, with nothing held: straight, on a loaded loop too (what comes
  // while that frame is in flight waits in the batcher, which holds it
  // for the round there).
  port->here = true;
  port->busy = true;
  CAF_CHECK_EQUAL(progress->claim(2), 2u); // the batcher wrote a and b
  written(2, false);
  CAF_CHECK(enqueue(msg("c")));
  CAF_CHECK_EQUAL(port->sent.size(), 1u);
  CAF_CHECK(enqueue(msg("d")));
  CAF_CHECK_EQUAL(port->sent.size(), 1u);
  CAF_CHECK_EQUAL(seen->delivered, (std::vector<std::string>{"a", "b", "d"}));
}

// A pusher that records what queues ask of it.
pusher_actor recording_pusher(caf::actor_system& sys,
                              std::shared_ptr<std::vector<push_request>> log) {
  return sys.spawn([log]() -> pusher_actor::behavior_type {
    return {
      [log](atom::push, push_request& r) { log->push_back(std::move(r)); },
      [](atom::push, atom::ack, uint64_t, const push_answer&) {},
      [](atom::push, atom::ack, const push_answer&) {},
      [](atom::push, atom::tick, uint64_t) {},
    };
  });
}

CAF_TEST(a queue without its device asks for one push per interval) {
  auto pushes = std::make_shared<std::vector<push_request>>();
  auto pusher = recording_pusher(sys, pushes);
  params.pusher = pusher;
  params.push = push_params{protocol::priority::high, 2s, 60s};
  params.resume_window = std::chrono::minutes{10};
  spawn_queue(); // no connection: away since its start
  enqueue(msg("h1", protocol::priority::high));
  enqueue(msg("l1", protocol::priority::low));
  advance_time(1s);
  sched.run();
  CAF_CHECK(pushes->empty()); // push.delay not over
  advance_time(1500ms);
  sched.run();
  CAF_REQUIRE_EQUAL(pushes->size(), 1u);
  CAF_CHECK_EQUAL(pushes->at(0).user_id, "alice");
  CAF_CHECK_EQUAL(pushes->at(0).device_id, "phone");
  CAF_CHECK_EQUAL(pushes->at(0).message_ids, std::vector<std::string>{"h1"});
  CAF_CHECK_EQUAL(pushes->at(0).count, 2u);
  CAF_CHECK_EQUAL(pushes->at(0).top,
                  static_cast<uint8_t>(protocol::priority::high));
  // A new message within the interval waits for it; h1 is covered.
  enqueue(msg("h2", protocol::priority::critical));
  advance_time(10s);
  sched.run();
  CAF_CHECK_EQUAL(pushes->size(), 1u);
  advance_time(60s);
  sched.run();
  CAF_REQUIRE_EQUAL(pushes->size(), 2u);
  CAF_CHECK_EQUAL(pushes->at(1).message_ids, std::vector<std::string>{"h2"});
  // The device is back: nothing more however long messages wait.
  attach_idle();
  enqueue(msg("h3", protocol::priority::high));
  advance_time(std::chrono::minutes{3});
  sched.run();
  CAF_CHECK_EQUAL(pushes->size(), 2u);
  // The time of the last push is on disk with the device.
  auto rec = log->find_device("alice", "phone");
  CAF_REQUIRE(rec);
  CAF_CHECK(rec->push_last_ms > 0);
  anon_send_exit(pusher, caf::exit_reason::user_shutdown);
}

CAF_TEST(a message taken before its push is due cancels it) {
  auto pushes = std::make_shared<std::vector<push_request>>();
  auto pusher = recording_pusher(sys, pushes);
  params.pusher = pusher;
  params.push = push_params{protocol::priority::high, 2s, 60s};
  params.resume_window = std::chrono::minutes{10};
  spawn_queue();
  enqueue(msg("h1", protocol::priority::high, true, 1000)); // expires in 1 s
  advance_time(3s);
  sched.run();
  CAF_CHECK(pushes->empty());
  anon_send_exit(pusher, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

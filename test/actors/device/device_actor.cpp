#define CAF_SUITE actors.device_actor
#include "test/support/actor_fixture.hpp"

#include <caf/after.hpp>

#include "actors/device/fleet_actor.hpp"
#include "protocol/client.hpp"
#include "protocol/control.hpp"

// The simulated device and its fleet under the deterministic scheduler: the
// test clock drives their timers (no sleeps), and a recording link stands
// where the client WebSocket session is (the seam of link_port in
// actors/ports.hpp).

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

/// Records what a device asks of its link; the test plays the server
/// through `events`.
struct recording_link : link_port {
  link_options opts;
  std::shared_ptr<link_events> events;
  std::vector<std::string> sent;
  std::vector<uint16_t> closes;
  int aborts = 0;
  std::vector<bool> pauses;

  void send(shared_bytes bytes, bool) override { sent.push_back(*bytes); }
  void close(uint16_t code) override { closes.push_back(code); }
  void abort() override { ++aborts; }
  void pause(bool paused) override { pauses.push_back(paused); }

  /// The messages sent, decoded (acks and requests included).
  std::vector<protocol::mobile_message> messages() const {
    std::vector<protocol::mobile_message> out;
    for (auto& s : sent) {
      auto f = protocol::decode(protocol::codec::json, s, protocol::limits{});
      for (auto& d : f.messages)
        if (d.ok())
          out.push_back(d.msg);
    }
    return out;
  }
};

struct fixture : test::fixture_base {
  std::vector<std::shared_ptr<recording_link>> links;
  link_factory connect = [this](const link_options& o,
                                std::shared_ptr<link_events> ev) {
    auto l = std::make_shared<recording_link>();
    l->opts = o;
    l->events = std::move(ev);
    links.push_back(l);
    return l;
  };
  std::shared_ptr<fleet_counters> counters = std::make_shared<fleet_counters>();
  std::shared_ptr<device_memory> memory = std::make_shared<device_memory>();

  device_spec spec() {
    device_spec s;
    s.user_id = "alice";
    s.device_id = "phone";
    s.token = "tok";
    s.peers = {"laptop"};
    return s;
  }

  device_params params() {
    device_params p;
    p.run = "r";
    p.send_interval = 100ms;
    p.mixed_priorities = false;
    p.ack_interval = 100ms;
    return p;
  }

  /// A fleet of `devices` with the fixture's params, counters and links.
  std::shared_ptr<fleet_plan> make_plan(std::vector<device_spec> devices) {
    auto plan = std::make_shared<fleet_plan>();
    plan->devices = std::move(devices);
    plan->params = params();
    plan->counters = counters;
    plan->connect = connect;
    return plan;
  }

  /// The phone, and a tablet of the same user (token `tablet_token`).
  std::vector<device_spec> phone_and_tablet(std::string tablet_token) {
    auto s = spec();
    std::vector<device_spec> out{s};
    s.device_id = "tablet";
    s.token = std::move(tablet_token);
    out.push_back(std::move(s));
    return out;
  }

  /// Devices and fleets spawned: held here as the fleet holds its devices
  /// (an actor whose last handle is gone ends), and ended before the
  /// fixture's own teardown, which fires timers until none is left (a live
  /// device always has the next one armed).
  std::vector<caf::actor> spawned;

  template <class Handle>
  Handle keep(Handle h) {
    spawned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  ~fixture() override {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  device_actor spawn_device(device_params p, device_spec s) {
    auto d = keep(
      sys.spawn(device, std::move(s), std::move(p), memory, counters, connect));
    sched.run();
    return d;
  }

  device_actor spawn_device(device_params p) {
    return spawn_device(std::move(p), spec());
  }

  void open(recording_link& l) {
    link_opened r;
    r.ok = true;
    r.status = 101;
    l.events->on_open(r);
    sched.run();
  }

  void welcome(recording_link& l, const std::string& token, bool resumed) {
    protocol::welcome_info w;
    w.session_id = "s";
    w.user_id = "alice";
    w.device_id = "phone";
    w.resume_token = token;
    w.resumed = resumed;
    l.events->on_frame(protocol::encode(protocol::codec::json,
                                        protocol::make_welcome(w, 0)),
                       false);
    sched.run();
  }

  /// Moves the test clock by `d` in `step`s, running what each step fires.
  void advance(caf::timespan d, caf::timespan step = 10ms) {
    for (auto t = caf::timespan{0}; t < d; t += step) {
      sched.advance_time(step);
      sched.run();
    }
  }

  std::vector<protocol::mobile_message> chats(const recording_link& l) {
    std::vector<protocol::mobile_message> out;
    for (auto& m : l.messages())
      if (m.type == "chat")
        out.push_back(m);
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(device_actor_tests, fixture)

CAF_TEST(a device connects with its token and waits for the welcome) {
  spawn_device(params());
  CAF_REQUIRE_EQUAL(links.size(), 1u);
  CAF_CHECK_EQUAL(links[0]->opts.token, "tok");
  CAF_CHECK_EQUAL(links[0]->opts.target, "/ws");
  CAF_REQUIRE_EQUAL(links[0]->opts.subprotocols.size(), 1u);
  CAF_CHECK_EQUAL(links[0]->opts.subprotocols[0], "tether.v1.json");
  open(*links[0]);
  CAF_CHECK_EQUAL(counters->connected.load(), 1);
  advance(1s);
  CAF_CHECK(chats(*links[0]).empty()); // nothing before the welcome
}

CAF_TEST(a welcomed device sends on schedule with intended times) {
  spawn_device(params());
  open(*links[0]);
  welcome(*links[0], "r1", false);
  CAF_CHECK_EQUAL(counters->welcomes.load(), 1u);
  CAF_CHECK_EQUAL(memory->resume_token, "r1");
  advance(1s);
  auto sent = chats(*links[0]);
  // A random phase within the first interval, then one per 100 ms.
  CAF_REQUIRE(sent.size() >= 9u && sent.size() <= 10u);
  uint64_t last = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    auto& m = sent[i];
    CAF_CHECK_EQUAL(m.destination.device_id, "laptop");
    CAF_CHECK_EQUAL(m.source.user_id, "alice");
    CAF_CHECK_EQUAL(m.source.device_id, "phone");
    CAF_CHECK(m.optimization.prio == protocol::priority::normal);
    CAF_CHECK(m.optimization.requires_ack);
    std::string sender;
    uint64_t order = 0;
    CAF_REQUIRE(parse_message_id(m.id, sender, order));
    CAF_CHECK_EQUAL(sender, "alice/phone");
    uint64_t t = 0;
    CAF_REQUIRE(protocol::read_probe_time(m.payload, t));
    if (i > 0)
      CAF_CHECK_EQUAL(t - last, 100'000'000u); // exactly the interval, in ns
    last = t;
  }
  CAF_CHECK_EQUAL(counters->sent.load(), sent.size());
  CAF_CHECK_EQUAL(memory->pending.size(), sent.size());
}

CAF_TEST(server acks retire sends and a reconnect resends the rest first) {
  auto dev = spawn_device(params());
  open(*links[0]);
  welcome(*links[0], "r1", false);
  advance(500ms);
  auto sent = chats(*links[0]);
  CAF_REQUIRE(sent.size() >= 4u);
  for (size_t i = 0; i < 2; ++i) {
    auto a = protocol::make_ack(sent[i].id, protocol::ack_status::received, 0);
    a.recipients = 1;
    links[0]->events->on_frame(protocol::encode(protocol::codec::json, a),
                               false);
  }
  sched.run();
  CAF_CHECK_EQUAL(counters->accepted.load(), 2u);
  CAF_CHECK_EQUAL(counters->expected.load(), 2u);
  CAF_CHECK_EQUAL(memory->pending.size(), sent.size() - 2);
  // A delivery with seq 7 to this device, acked cumulatively on the timer.
  auto in = sent[0];
  in.id = "from-laptop";
  in.seq = 7;
  links[0]->events->on_frame(protocol::encode(protocol::codec::json, in),
                             false);
  sched.run();
  CAF_CHECK_EQUAL(counters->received.load(), 1u);
  advance(100ms);
  bool acked = false;
  auto f = protocol::decode(protocol::codec::json, links[0]->sent.back(),
                            protocol::limits{});
  acked = f.kind == protocol::frame_kind::ack && f.ack.seq == 7u;
  CAF_CHECK(acked);
  // The link drops: the device ends with the close code for its fleet.
  self->monitor(dev);
  links[0]->events->on_closed(1006, 0);
  sched.run();
  bool down = false;
  self->receive(
    [&](caf::down_msg& dm) {
      down = dm.reason.category() == link_category
             && dm.reason.code() == static_cast<uint8_t>(link_exit::closed);
    },
    caf::after(0s) >> [] {});
  CAF_CHECK(down);
  CAF_CHECK_EQUAL(memory->last_close, 1006u);
  CAF_CHECK_EQUAL(counters->connected.load(), 0);
  // The next incarnation resumes, and resends the unacked ones, oldest
  // first and under their ids, before anything new.
  std::vector<std::string> unacked;
  for (auto& [order, ps] : memory->pending)
    unacked.push_back(ps.id);
  CAF_CHECK_EQUAL(unacked.front(), sent[2].id);
  auto pending = unacked.size();
  spawn_device(params());
  CAF_REQUIRE_EQUAL(links.size(), 2u);
  CAF_CHECK_EQUAL(links[1]->opts.target, "/ws?resume=r1&lastSeq=7");
  open(*links[1]);
  welcome(*links[1], "r1", true);
  CAF_CHECK_EQUAL(counters->resumed.load(), 1u);
  auto again = chats(*links[1]);
  CAF_REQUIRE(again.size() >= pending);
  for (size_t i = 0; i < pending; ++i)
    CAF_CHECK_EQUAL(again[i].id, unacked[i]);
  CAF_CHECK_EQUAL(counters->resent.load(), pending);
}

CAF_TEST(a flaky device drops its link on its Poisson timer) {
  auto p = params();
  p.send_interval = 0us;
  p.drops_per_minute = 600; // one per 100 ms on average
  spawn_device(p);
  open(*links[0]);
  welcome(*links[0], "r1", false);
  advance(3s);
  CAF_CHECK_EQUAL(links[0]->aborts, 1); // once: the incarnation then ends
  CAF_CHECK_EQUAL(counters->drops.load(), 1u);
}

CAF_TEST(a slow reader pauses and resumes reading) {
  auto p = params();
  p.send_interval = 0us;
  p.slow_every = 1000ms;
  p.slow_for = 500ms;
  auto s = spec();
  s.slow = true;
  spawn_device(p, s);
  open(*links[0]);
  welcome(*links[0], "r1", false);
  advance(4s);
  CAF_REQUIRE(links[0]->pauses.size() >= 2u);
  for (size_t i = 0; i < links[0]->pauses.size(); ++i)
    CAF_CHECK_EQUAL(links[0]->pauses[i], i % 2 == 0); // pause, resume, ...
}

CAF_TEST(a device without a welcome gives up on its link) {
  auto p = params();
  p.link.timeout = 2000ms;
  spawn_device(p);
  open(*links[0]);
  advance(1900ms, 100ms);
  CAF_CHECK_EQUAL(links[0]->aborts, 0);
  advance(200ms, 100ms);
  CAF_CHECK_EQUAL(links[0]->aborts, 1);
  CAF_CHECK_EQUAL(counters->errors.load(), 1u);
}

CAF_TEST(the fleet restarts a refused device after its Retry - After) {
  auto plan = make_plan({spec()});
  plan->reconnect.backoff.base = 100ms;
  plan->reconnect.backoff.cap = 1000ms;
  auto f = keep(sys.spawn(fleet, plan));
  sched.run();
  CAF_REQUIRE_EQUAL(links.size(), 1u);
  link_opened refused;
  refused.status = 503;
  refused.retry_after_ms = 3000;
  links[0]->events->on_open(refused);
  sched.run();
  auto& mem = *plan->memories[0];
  CAF_REQUIRE_EQUAL(mem.restart_delays_ms.size(), 1u);
  CAF_CHECK(mem.restart_delays_ms[0] >= 3000); // Retry-After honoured
  advance(caf::timespan{std::chrono::milliseconds{mem.restart_delays_ms[0]}}
            - 100ms,
          100ms);
  CAF_CHECK_EQUAL(links.size(), 1u); // not before the delay
  advance(200ms, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 2u);
  CAF_CHECK_EQUAL(counters->reconnects.load(), 1u);
  CAF_CHECK_EQUAL(counters->paced.load(), 1u);
  // A drain's close waits out the time it names.
  open(*links[1]);
  welcome(*links[1], "r1", false);
  links[1]->events->on_closed(1012, 2500);
  sched.run();
  CAF_REQUIRE_EQUAL(mem.restart_delays_ms.size(), 2u);
  CAF_CHECK(mem.restart_delays_ms[1] >= 2500);
  CAF_CHECK_EQUAL(counters->drained.load(), 1u);
  advance(2400ms, 100ms);
  CAF_CHECK_EQUAL(links.size(), 2u);
  advance(200ms, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 3u);
  // A terminal close is never retried.
  open(*links[2]);
  welcome(*links[2], "r1", true);
  links[2]->events->on_closed(4500, 0);
  sched.run();
  advance(5s, 500ms);
  CAF_CHECK_EQUAL(links.size(), 3u);
  CAF_CHECK_EQUAL(counters->gave_up.load(), 1u);
  CAF_CHECK_EQUAL(counters->terminal.load(), 1u);
  CAF_CHECK(!mem.gave_up.empty());
  // Stopping a fleet with nothing live answers at once.
  self->send(f, atom::stop_v);
  sched.run();
  bool stopped = false;
  self->receive([&](atom::ok) { stopped = true; }, caf::after(0s) >> [] {});
  CAF_CHECK(stopped);
}

CAF_TEST(a device of a draining or silent node turns to the next node) {
  auto s = spec();
  s.host = "10.0.0.1";
  s.port = 1001;
  s.fallbacks = {{"10.0.0.2", 1002}, {"10.0.0.3", 1003}};
  auto plan = make_plan({s});
  plan->reconnect.backoff.base = 100ms;
  plan->reconnect.backoff.cap = 100ms;
  auto f = keep(sys.spawn(fleet, plan));
  sched.run();
  CAF_REQUIRE_EQUAL(links.size(), 1u);
  CAF_CHECK_EQUAL(links[0]->opts.port, 1001);
  // Its node drains: it comes back to the next one.
  open(*links[0]);
  welcome(*links[0], "r1", false);
  links[0]->events->on_closed(1012, 200);
  sched.run();
  advance(1s, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 2u);
  CAF_CHECK_EQUAL(links[1]->opts.host, "10.0.0.2");
  CAF_CHECK_EQUAL(links[1]->opts.port, 1002);
  // Nobody answers there (no HTTP status): the next, then round again.
  links[1]->events->on_open(link_opened{});
  sched.run();
  advance(1s, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 3u);
  CAF_CHECK_EQUAL(links[2]->opts.port, 1003);
  links[2]->events->on_open(link_opened{});
  sched.run();
  advance(1s, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 4u);
  CAF_CHECK_EQUAL(links[3]->opts.port, 1001);
  // A 503 (paced) or another close keeps it where it is.
  link_opened paced;
  paced.status = 503;
  paced.retry_after_ms = 100;
  links[3]->events->on_open(paced);
  sched.run();
  advance(1s, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 5u);
  CAF_CHECK_EQUAL(links[4]->opts.port, 1001);
  open(*links[4]);
  welcome(*links[4], "r1", true);
  links[4]->events->on_closed(1006, 0);
  sched.run();
  advance(1s, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 6u);
  CAF_CHECK_EQUAL(links[5]->opts.port, 1001);
}

CAF_TEST(an established link resets the backoff and a crash loop does not ) {
  auto plan = make_plan({spec()});
  plan->reconnect.backoff.base = 1000ms;
  plan->reconnect.backoff.cap = 60000ms;
  plan->reconnect.stable_link = 3000ms;
  auto f = keep(sys.spawn(fleet, plan));
  sched.run();
  auto& mem = *plan->memories[0];
  // Three links that drop before their welcome: the window grows (1, 2,
  // 4 s), a draw may fall anywhere in it.
  for (size_t i = 0; i < 3; ++i) {
    CAF_REQUIRE_EQUAL(links.size(), i + 1);
    links[i]->events->on_closed(1006, 0);
    sched.run();
    CAF_REQUIRE_EQUAL(mem.restart_delays_ms.size(), i + 1);
    CAF_CHECK_LESS(mem.restart_delays_ms[i], 1000 << i);
    advance(caf::timespan{std::chrono::milliseconds{mem.restart_delays_ms[i]}}
              + 10ms,
            10ms);
  }
  // Established, up 3 s after its welcome, then dropped (a flaky network):
  // the next delay is in the base window again.
  CAF_REQUIRE_EQUAL(links.size(), 4u);
  open(*links[3]);
  welcome(*links[3], "r1", false);
  advance(3s, 500ms);
  links[3]->events->on_closed(1006, 0);
  sched.run();
  CAF_REQUIRE_EQUAL(mem.restart_delays_ms.size(), 4u);
  CAF_CHECK_LESS(mem.restart_delays_ms[3], 1000);
  advance(caf::timespan{std::chrono::milliseconds{mem.restart_delays_ms[3]}}
            + 10ms,
          10ms);
  // Welcomed and dropped at once, again and again: that is a failure each
  // time (the window doubles: 2, 4, 8 s), not a fresh start.
  for (size_t i = 4; i < 7; ++i) {
    CAF_REQUIRE_EQUAL(links.size(), i + 1);
    open(*links[i]);
    welcome(*links[i], "r1", true);
    advance(200ms, 100ms);
    links[i]->events->on_closed(1006, 0);
    sched.run();
    CAF_REQUIRE_EQUAL(mem.restart_delays_ms.size(), i + 1);
    CAF_CHECK_LESS(mem.restart_delays_ms[i], 1000 << (i - 3));
    advance(caf::timespan{std::chrono::milliseconds{mem.restart_delays_ms[i]}}
              + 10ms,
            10ms);
  }
  CAF_CHECK_EQUAL(counters->gave_up.load(), 0u);
  static_cast<void>(f);
}

CAF_TEST(when the run drains a device waiting out its backoff reconnects now) {
  auto plan = make_plan(phone_and_tablet("tablet-tok"));
  plan->reconnect.backoff.base = 30000ms;
  plan->reconnect.backoff.cap = 30000ms;
  auto f = keep(sys.spawn(fleet, plan));
  sched.run();
  CAF_REQUIRE_EQUAL(links.size(), 2u);
  // The phone's link drops: it would wait up to 30 s. The tablet is told
  // to come back in 2 s by the server (503, Retry-After).
  links[0]->events->on_closed(1006, 0);
  link_opened refused;
  refused.status = 503;
  refused.retry_after_ms = 2000;
  links[1]->events->on_open(refused);
  sched.run();
  self->send(f, atom::drain_v);
  sched.run();
  advance(10ms, 10ms);
  // The phone at once, the tablet only once its Retry-After passed.
  CAF_REQUIRE_EQUAL(links.size(), 3u);
  CAF_CHECK_EQUAL(links[2]->opts.token, "tok");
  advance(1500ms, 100ms);
  CAF_CHECK_EQUAL(links.size(), 3u);
  advance(600ms, 100ms);
  CAF_REQUIRE_EQUAL(links.size(), 4u);
  CAF_CHECK_EQUAL(links[3]->opts.token, "tablet-tok");
  // No restart scheduled before the drain happens twice.
  advance(35s, 1s);
  CAF_CHECK_EQUAL(links.size(), 4u);
}

CAF_TEST(stopping the fleet closes every link with 1000) {
  auto plan = make_plan(phone_and_tablet("tok"));
  auto f = keep(sys.spawn(fleet, plan));
  sched.run();
  CAF_REQUIRE_EQUAL(links.size(), 2u);
  for (auto& l : links) {
    open(*l);
    welcome(*l, "r", false);
  }
  self->send(f, atom::stop_v);
  sched.run();
  for (auto& l : links) {
    CAF_REQUIRE_EQUAL(l->closes.size(), 1u);
    CAF_CHECK_EQUAL(l->closes[0], 1000u);
    l->events->on_closed(1000, 0);
  }
  sched.run();
  bool stopped = false;
  self->receive([&](atom::ok) { stopped = true; }, caf::after(0s) >> [] {});
  CAF_CHECK(stopped);
  CAF_CHECK_EQUAL(counters->connected.load(), 0);
  advance(10s, 1s);
  CAF_CHECK_EQUAL(links.size(), 2u); // nobody reconnects
}

CAF_TEST(deliveries are counted once and duplicates are seen in a batch) {
  auto p = params();
  p.send_interval = 0us;
  spawn_device(p);
  open(*links[0]);
  welcome(*links[0], "r1", false);
  // What a peer sent: read by the scanner (no DOM), one inbox per batch of
  // frames.
  auto msg = [](uint64_t order, uint64_t seq) {
    protocol::mobile_message m;
    m.id = make_message_id("alice/laptop", "r", order);
    m.source.user_id = "alice";
    m.source.device_id = "laptop";
    m.destination.to = protocol::target::device;
    m.destination.device_id = "phone";
    m.type = "chat";
    m.payload = protocol::make_probe_payload(1, 64);
    m.optimization.requires_ack = true;
    m.seq = seq;
    return protocol::encode(protocol::codec::json, m);
  };
  auto& ev = *links[0]->events;
  ev.on_frame(msg(1, 1), false);
  ev.on_frame(msg(2, 2), false);
  ev.on_frame(msg(2, 3), false); // the same message again
  ev.on_frame(
    "{\"id\":\"b\",\"messages\":[" + msg(3, 4) + "," + msg(1, 5) + "]}", false);
  sched.run();
  CAF_CHECK_EQUAL(counters->frames.load(), 5u);
  CAF_CHECK_EQUAL(counters->received.load(), 3u);
  CAF_CHECK_EQUAL(counters->duplicates.load(), 2u);
  CAF_CHECK_EQUAL(counters->errors.load(), 0u);
  CAF_CHECK_EQUAL(memory->last_seq, 5u);
  CAF_CHECK(
    memory->ledger.was_received(make_message_id("alice/laptop", "r", 3)));
  CAF_CHECK(
    !memory->ledger.was_received(make_message_id("alice/laptop", "r", 4)));
  CAF_CHECK_EQUAL(memory->ledger.duplicates(), 2u);
  // One cumulative ack, armed by the first delivery that asked for one.
  advance(100ms);
  auto f = protocol::decode(protocol::codec::json, links[0]->sent.back(),
                            protocol::limits{});
  CAF_CHECK(f.kind == protocol::frame_kind::ack && f.ack.seq == 5u);
  // A frame the scanner leaves alone still goes to the decoder.
  ev.on_frame("{not json", false);
  sched.run();
  CAF_CHECK_EQUAL(counters->errors.load(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()

#define CAF_SUITE actors.batcher_actor
#include "test/support/actor_fixture.hpp"

#include "actors/batcher/batcher_actor.hpp"
#include "protocol/compression.hpp"

using namespace tether;
using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

/// Records what the batcher asks of its queue.
struct source_log {
  uint32_t demand = 0;
  uint64_t base = 0;
  /// Wake-ups passed on (the write_progress moved while the queue waited).
  size_t wakes = 0;
};

delivery_source::behavior_type
recording_source(delivery_source::pointer,
                 const std::shared_ptr<source_log>& log) {
  return {
    [log](atom::demand, uint32_t n, uint64_t base) {
      log->demand = n;
      log->base = base;
    },
    [log](atom::written) { ++log->wakes; },
  };
}

queued_delivery item(uint64_t seq,
                     protocol::priority p = protocol::priority::normal,
                     size_t payload = 10) {
  auto m = std::make_shared<protocol::mobile_message>();
  m->id = "m" + std::to_string(seq);
  m->source.user_id = "alice";
  m->source.device_id = "laptop";
  m->destination.to = protocol::target::device;
  m->destination.device_id = "phone";
  m->type = "t";
  m->optimization.prio = p;
  m->payload = protocol::json_value("\"" + std::string(payload, 'x') + "\"");
  return queued_delivery{seq, m, p, 200 + payload, nullptr};
}

struct fixture : test::fixture_base {
  std::shared_ptr<test::recording_port> port
    = std::make_shared<test::recording_port>();
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
  std::shared_ptr<source_log> src = std::make_shared<source_log>();
  write_progress_ptr progress = std::make_shared<write_progress>();
  delivery_source source;
  batcher_actor b;
  batcher_params params;

  fixture() {
    port->session.session_id = "s1";
    params.batch.max_delay = 10ms;
    params.batch.max_items = 4;
    params.batch.max_frames_in_flight = 1;
    source = sys.spawn(recording_source, src);
  }

  ~fixture() override {
    anon_send_exit(b, caf::exit_reason::user_shutdown);
    anon_send_exit(source, caf::exit_reason::user_shutdown);
  }

  void start() {
    b = sys.spawn(batcher, std::shared_ptr<session_port>{port}, params, metrics,
                  progress);
    self->send(b, atom::start_v, source);
    sched.run();
  }

  void deliver(delivery_list items) {
    self->send(b, atom::deliver_v, std::move(items));
    sched.run();
  }

  /// The session wrote the frame with this tag (or ended the round), as
  /// the connection's events adapter reports it; how many actor runs that
  /// took.
  size_t written(uint64_t tag) {
    if (tag == round_end_tag || progress->advance(tag))
      self->send(b, atom::written_v, tag);
    return sched.run();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(batcher_tests, fixture)

CAF_TEST(an idle link gets the first message at once with its seq) {
  start();
  CAF_CHECK_EQUAL(src->demand, 8u); // max_items * (frames in flight + 1)
  deliver({item(7)});
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  auto f = port->decoded().front();
  CAF_REQUIRE(f.kind == protocol::frame_kind::message);
  CAF_CHECK_EQUAL(port->sent[0].bytes.find(R"("seq":7)") != std::string::npos,
                  true);
  // The tag counts the messages sent so far.
  CAF_CHECK_EQUAL(port->sent[0].tag, 1u);
  // Nobody waits for the write: it costs no actor message.
  CAF_CHECK_EQUAL(written(1), 0u);
  CAF_CHECK_EQUAL(progress->written(), 1u);
  deliver({item(8)});
  CAF_REQUIRE_EQUAL(port->sent.size(), 2u);
  CAF_CHECK_EQUAL(port->sent[1].tag, 2u);
}

CAF_TEST(a queue waiting for credit is woken through the batcher) {
  start();
  deliver({item(1)});
  // The queue has used its demand and waits for the count to pass 0.
  CAF_REQUIRE(progress->wait(write_progress::queue, 0));
  CAF_CHECK_EQUAL(written(1), 2u); // the batcher, then the queue
  CAF_CHECK_EQUAL(src->wakes, 1u);
  // Once: the next write is nobody's business.
  deliver({item(2)});
  CAF_CHECK_EQUAL(written(2), 0u);
  CAF_CHECK_EQUAL(src->wakes, 1u);
  // A wait on a count that moved already is refused (read it again).
  CAF_CHECK(!progress->wait(write_progress::queue, 1));
}

CAF_TEST(a batcher pulling from a new queue tells it where its count is) {
  start();
  deliver({item(1), item(2)});
  written(1);
  written(2);
  // The queue's next incarnation (after a release) counts from 2.
  self->send(b, atom::start_v, source);
  sched.run();
  CAF_CHECK_EQUAL(src->base, 2u);
  CAF_CHECK_EQUAL(src->demand, 8u);
}

CAF_TEST(on a loaded node what is ready in one round leaves in one frame) {
  start();
  port->busy = true;
  deliver({item(1)});
  // Held for the round: nothing written yet.
  CAF_CHECK_EQUAL(port->sent.size(), 0u);
  CAF_REQUIRE_EQUAL(port->rounds.size(), 1u);
  deliver({item(2)});
  deliver({item(3)});
  CAF_CHECK_EQUAL(port->rounds.size(), 1u); // one round at a time
  // The session reports the end of the round (as the write of that tag).
  written(port->rounds.front());
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  auto f = protocol::decode(protocol::codec::json, port->sent[0].bytes,
                            protocol::limits{});
  CAF_REQUIRE(f.kind == protocol::frame_kind::batch);
  CAF_CHECK_EQUAL(f.messages.size(), 3u);
  // An idle node writes at once again.
  port->busy = false;
  written(3);
  deliver({item(4)});
  CAF_CHECK_EQUAL(port->sent.size(), 2u);
}

CAF_TEST(messages during a write coalesce into one batch frame) {
  start();
  deliver({item(1)});
  deliver({item(2), item(3), item(4)});
  CAF_CHECK_EQUAL(port->sent.size(), 1u); // no credit: the write is pending
  // The write completed: what gathered meanwhile goes as one frame.
  written(1);
  CAF_REQUIRE_EQUAL(port->sent.size(), 2u);
  auto f = protocol::decode(protocol::codec::json, port->sent[1].bytes,
                            protocol::limits{});
  CAF_REQUIRE(f.kind == protocol::frame_kind::batch);
  CAF_REQUIRE_EQUAL(f.messages.size(), 3u);
  CAF_CHECK_EQUAL(f.messages[0].msg.id, "m2");
  CAF_CHECK(port->sent[1].bytes.find(R"("seq":4)") != std::string::npos);
  CAF_CHECK(port->sent[1].bytes.find(R"("messageCount":3)")
            != std::string::npos);
  // The second frame's tag counts all four.
  CAF_CHECK_EQUAL(port->sent[1].tag, 4u);
  CAF_CHECK_EQUAL(written(4), 0u);
  CAF_CHECK_EQUAL(progress->written(), 4u);
  CAF_CHECK_EQUAL(metrics->frames(), 2u);
  CAF_CHECK_EQUAL(metrics->framed_messages(), 4u);
}

CAF_TEST(a critical message does not wait for the write in flight) {
  params.batch.max_frames_in_flight = 2;
  start();
  deliver({item(1)});
  // A frame is being written (credit left): a low message waits for it...
  deliver({item(2, protocol::priority::low)});
  CAF_CHECK_EQUAL(port->sent.size(), 1u);
  // ... a critical one does not, and takes the waiting one along.
  deliver({item(3, protocol::priority::critical)});
  CAF_REQUIRE_EQUAL(port->sent.size(), 2u);
  CAF_CHECK(port->sent[1].bytes.find(R"("messageCount":2)")
            != std::string::npos);
}

CAF_TEST(a message waits max_delay at most for a slow write) {
  params.batch.max_frames_in_flight = 2;
  start();
  deliver({item(1)});
  deliver({item(2)});
  CAF_CHECK_EQUAL(port->sent.size(), 1u);
  advance_time(10ms);
  sched.run();
  CAF_CHECK_EQUAL(port->sent.size(), 2u);
}

CAF_TEST(a frame the queue wrote itself holds the next one as one of the batcher
           would) {
  start();
  // The queue wrote message 1 straight to the idle session (tag 1).
  CAF_CHECK_EQUAL(progress->claim_direct(), 1u);
  // The batcher's first message waits behind it (one frame in flight).
  deliver({item(2)});
  CAF_CHECK(port->sent.empty());
  written(1);
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  CAF_CHECK_EQUAL(port->sent[0].tag, 2u);
  CAF_CHECK(port->sent[0].bytes.find(R"("seq":2)") != std::string::npos);
  // Written before the batcher looked: nothing waits for it.
  written(2);
  CAF_CHECK_EQUAL(progress->claim_direct(), 3u);
  written(3);
  deliver({item(4)});
  CAF_REQUIRE_EQUAL(port->sent.size(), 2u);
  CAF_CHECK_EQUAL(port->sent[1].tag, 4u);
}

CAF_TEST(frames above the threshold are compressed when asked) {
  // As the connection starts it for a device that asked (write_progress).
  progress->set_compress(1);
  params.compress_threshold = 512;
  start();
  deliver({item(1, protocol::priority::normal, 4000)});
  CAF_REQUIRE_EQUAL(port->sent.size(), 1u);
  auto& f = port->sent[0];
  CAF_CHECK(f.binary);
  CAF_CHECK(protocol::is_compressed_frame(f.bytes));
  CAF_CHECK(f.bytes.size() < 400);
  std::string raw;
  CAF_CHECK(protocol::open_compressed_frame(f.bytes, 1 << 20, raw)
            == protocol::inflate_error::none);
  CAF_CHECK(raw.find(R"("seq":1)") != std::string::npos);
  // Small frames stay plain.
  written(1);
  advance_time(10ms);
  deliver({item(2)});
  CAF_CHECK(!port->sent.back().binary);
}

CAF_TEST_FIXTURE_SCOPE_END()

#pragma once

// Test support for actor suites: the deterministic CAF fixture with Tether's
// message types, a session_port that records what the actors asked of their
// session, stand-ins for a connection and a batcher that record what they
// receive, and a whole node's actors on a real SQLite file.

#include <caf/actor_system_config.hpp>
#include <caf/test/dsl.hpp>

#include "actors/interfaces.hpp"
#include "actors/orchestrator/orchestrator_actor.hpp"
#include "actors/ports.hpp"
#include "protocol/codec.hpp"
#include "test/support/temp_dir.hpp"

namespace tether::test {

struct test_config : caf::actor_system_config {
  test_config() { add_message_types<caf::id_block::tether_types>(); }
};

using fixture_base = test_coordinator_fixture<test_config>;

/// Records every call the actors make on a session.
struct recording_port : actors::session_port {
  struct frame {
    std::string bytes;
    bool binary = false;
    uint64_t tag = 0;
  };

  actors::session_info session;
  std::shared_ptr<actors::session_events> events;
  std::vector<frame> sent;
  std::vector<uint16_t> closes;
  std::vector<std::string> close_reasons;
  /// Ids of one-way messages a queue refused.
  std::vector<std::string> refused;
  size_t consumed_total = 0;

  void attach(std::shared_ptr<actors::session_events> ev) override {
    events = std::move(ev);
  }
  void send(actors::shared_bytes bytes, bool binary, uint64_t tag) override {
    sent.push_back(frame{*bytes, binary, tag});
  }
  void close(uint16_t code, std::string reason) override {
    closes.push_back(code);
    close_reasons.push_back(std::move(reason));
  }
  void consumed(size_t n) override { consumed_total += n; }
  bool loaded() const noexcept override { return busy; }
  /// The test coordinator runs every actor on the test's thread; a test
  /// may say otherwise (an actor still on another loop).
  bool here = true;
  bool runs_here() const noexcept override { return here; }
  void after_round(uint64_t tag) override { rounds.push_back(tag); }

  /// Whether loaded() says the node is busy.
  bool busy = false;
  /// after_round() tags (a test reports them as written).
  std::vector<uint64_t> rounds;

  const actors::session_info& info() const noexcept override { return session; }

  /// Reports every tagged frame as written (as the socket would).
  void confirm_writes() {
    for (auto& f : sent)
      if (f.tag != 0 && events) {
        events->on_written(f.tag);
        f.tag = 0;
      }
  }

  /// The frames decoded as JSON (compressed frames are skipped).
  std::vector<protocol::decoded_frame> decoded(size_t from = 0) const {
    std::vector<protocol::decoded_frame> out;
    for (size_t i = from; i < sent.size(); ++i)
      out.push_back(
        protocol::decode(session.codec, sent[i].bytes, protocol::limits{}));
    return out;
  }
};

/// What a stand-in actor received.
struct probe_log {
  std::vector<std::string> delivered;
  std::vector<actors::queued_delivery> deliveries;
  std::vector<uint16_t> closes;
  /// Ids of one-way messages a queue refused.
  std::vector<std::string> refused;
  /// Route tables received after the join.
  std::vector<actors::route_table> routes;
  /// How often a queue asked the connection to start its batcher.
  size_t batcher_asks = 0;
  actors::delivery_source source;
};

/// A connection_actor stand-in: records close requests.
inline actors::connection_actor::behavior_type
probe(actors::connection_actor::pointer self, std::shared_ptr<probe_log> log) {
  return {
    [](atom::frame, const std::string&, bool) {},
    [self](atom::closed, uint16_t) { self->quit(); },
    [log](atom::routes, actors::route_table& t) {
      log->routes.push_back(std::move(t));
    },
    [log](atom::close, uint16_t code) { log->closes.push_back(code); },
    [log](atom::drain, uint32_t) { log->closes.push_back(1012); },
    [](atom::expire) {},
    [log](atom::enqueue, const std::string& id, const std::string&,
          const caf::error&) { log->refused.push_back(id); },
    [log](atom::start) { ++log->batcher_asks; },
    [log](atom::release, actors::route_table& t) {
      log->routes.push_back(std::move(t));
      return atom::ok_v;
    },
  };
}

/// A batcher_actor stand-in: records deliveries; demand is granted by the
/// test through log->source.
inline actors::batcher_actor::behavior_type
probe_batcher(actors::batcher_actor::pointer, std::shared_ptr<probe_log> log) {
  return {
    [log](atom::start, actors::delivery_source& s) { log->source = s; },
    [log](atom::deliver, actors::delivery_list& items) {
      for (auto& d : items) {
        log->delivered.push_back(d.msg->id);
        log->deliveries.push_back(d);
      }
    },
    [](atom::written, uint64_t) {},
    [](atom::flush, uint64_t) {},
  };
}

/// A node's actors (orchestrator, store on a real SQLite file, directory)
/// under the deterministic scheduler.
struct node_fixture : fixture_base {
  temp_dir dir;
  std::shared_ptr<actors::durable_log> log;
  std::shared_ptr<actors::node_metrics> metrics
    = std::make_shared<actors::node_metrics>();
  actors::orchestrator_params params;
  actors::orchestrator_actor orch;

  node_fixture() {
    log = std::make_shared<actors::durable_log>(dir.path() + "/tether.db");
    params.log = log;
    params.detached_store = false;
    params.backoff.base = std::chrono::milliseconds{100};
    params.backoff.cap = std::chrono::milliseconds{1000};
    params.budget.max_restarts = 2;
    params.budget.period = std::chrono::seconds{60};
    params.stop_timeout = std::chrono::seconds{5};
  }

  ~node_fixture() override {
    if (orch)
      caf::anon_send_exit(orch, caf::exit_reason::user_shutdown);
    run_messages();
  }

  void start() {
    orch = sys.spawn(actors::orchestrator, params, metrics);
    run_messages();
  }

  /// Runs messages only (run() would also fire every pending timer).
  void run_messages() { sched.run(); }

  /// A session of `user`/`device` handed to the orchestrator.
  std::shared_ptr<recording_port>
  open(const std::string& user, const std::string& device,
       protocol::device_type type = protocol::device_type::mobile,
       const std::string& role = {}) {
    auto p = std::make_shared<recording_port>();
    p->session.session_id = "s-" + device + std::to_string(sessions_++);
    p->session.user_id = user;
    p->session.device_id = device;
    p->session.type = type;
    p->session.role = role;
    p->session.session_expires_at = 4102444800; // 2100-01-01
    self->send(orch, atom::open_v, std::shared_ptr<actors::session_port>{p});
    run_messages();
    return p;
  }

  /// The directory shard of `user`.
  actors::directory_actor directory_handle(const std::string& user = "alice") {
    self->send(orch, atom::get_v, atom::directory_v, user);
    run_messages();
    actors::directory_actor result;
    self->receive([&](actors::directory_actor d) { result = d; });
    return result;
  }

private:
  int sessions_ = 0;
};

} // namespace tether::test

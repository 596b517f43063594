#pragma once

// Test support for actor suites: the deterministic CAF fixture with Tether's
// message types, a session_port that records what the actor asked of its
// session, and a stand-in connection that records deliveries.

#include <caf/actor_system_config.hpp>
#include <caf/test/dsl.hpp>

#include "actors/connection/session_port.hpp"
#include "actors/interfaces.hpp"

namespace tether::test {

struct test_config : caf::actor_system_config {
  test_config() {
    add_message_types<caf::id_block::tether_types>();
  }
};

using fixture_base = test_coordinator_fixture<test_config>;

/// Records every call a connection actor makes on its session.
struct recording_port : actors::session_port {
  actors::session_info session;
  std::shared_ptr<actors::session_events> events;
  std::vector<std::pair<std::string, bool>> sent;
  std::vector<uint16_t> closes;
  size_t consumed_total = 0;

  void attach(std::shared_ptr<actors::session_events> ev) override {
    events = std::move(ev);
  }
  void send(actors::shared_bytes bytes, bool binary) override {
    sent.emplace_back(*bytes, binary);
  }
  void close(uint16_t code, std::string) override { closes.push_back(code); }
  void consumed(size_t n) override { consumed_total += n; }
  const actors::session_info& info() const noexcept override {
    return session;
  }
};

/// What a stand-in connection received.
struct probe_log {
  std::vector<std::string> delivered;
  std::vector<uint16_t> closes;
};

/// A connection_actor stand-in for directory tests: records deliveries and
/// close requests instead of writing to a socket.
inline actors::connection_actor::behavior_type
probe(actors::connection_actor::pointer self, std::shared_ptr<probe_log> log) {
  return {
    [](atom::frame, const std::string&, bool) {},
    [self](atom::closed, uint16_t) { self->quit(); },
    [log](atom::deliver, const protocol::message_ptr&,
          const actors::shared_bytes& bytes) {
      log->delivered.push_back(*bytes);
    },
    [log](atom::close, uint16_t code) { log->closes.push_back(code); },
    [](atom::expire) {},
  };
}

} // namespace tether::test

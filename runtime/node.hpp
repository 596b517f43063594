#pragma once

// One Tether node: a CAF actor system, the orchestrator and its children, and
// the WebSocket/HTTP server, started and stopped in a fixed order.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/settings.hpp"

#include <caf/actor.hpp>

namespace caf {
class actor_system;
} // namespace caf

namespace tether::actors {
class node_metrics;
struct member_info;
} // namespace tether::actors

namespace tether::runtime {

/// A start-up failure with a message fit for the operator.
class startup_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class node {
public:
  explicit node(config::settings settings);
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Prepares the data dir and secret, spawns the actors and starts
  /// listening; returns the bound port. Throws startup_error.
  uint16_t start();

  /// Graceful stop: refuse new connections, close every session with 1001
  /// ("going away"), wait up to node.stop_timeout, stop I/O and actors.
  void stop();

  /// Drains before a stop (tetherd on SIGTERM): new sessions are refused
  /// (503, come back after the drain), the open ones closed with 1012 and
  /// a time to come back (SPEC §12), at server.handshake_rate per second or
  /// faster to be done within server.drain_window. Returns once they are
  /// gone, or after the window and node.stop_timeout; stop() follows.
  void drain();

  /// What POST /api/v1/drain calls, on an I/O thread: the owner should
  /// drain() and stop() (tetherd raises SIGTERM to itself). Without it the
  /// endpoint answers 501. Set before start().
  void on_stop_request(std::function<void()> f);

  /// Reads server.tls_cert and server.tls_key again, and the cluster's
  /// certificate, key and CA (tetherd does on SIGHUP): new connections get
  /// them, open sessions and links are untouched. Returns the errors
  /// (logged), empty on success.
  std::string reload_tls();

  /// Calls `f(why)` once, on an actor thread, if the node fails: its
  /// orchestrator ended without stop() (it gave up, or the store failed).
  /// Its sessions are then closing with 1011; the owner should call stop()
  /// and exit non-zero. Set before start().
  void on_failure(std::function<void(const std::string& why)> f);

  /// Why the node failed (empty while it has not).
  std::string failure() const;

  /// Test hook: moves the queues' wall clock forward by `by` and makes them
  /// apply it at once (TTL tests without waiting).
  void advance_clock(std::chrono::milliseconds by);

  uint16_t port() const noexcept;
  caf::actor_system& system();
  /// The orchestrator (tests end it to see the node fail).
  caf::actor orchestrator() const;
  actors::node_metrics& metrics();
  const config::settings& settings() const noexcept;

private:
  /// The cluster's transport and its actor, before the orchestrator.
  void prepare_cluster(const actors::member_info& self);
  /// Starts the cluster actor and publishes its gate on cluster.port.
  void start_cluster();

  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Reads the token secret at `path`, creating the file (mode 0600, 32 random
/// bytes as hex) and its directory if it does not exist. Throws
/// startup_error if it cannot be read, created, or is shorter than 32 bytes.
std::string load_or_create_secret(const std::string& path);

} // namespace tether::runtime

#pragma once

// The node's network front: one TCP port serving WebSocket upgrades on the
// configured path plus GET /healthz and GET /metrics. Authentication, Origin
// check, subprotocol choice and the connection limit are decided before the
// upgrade (HTTP 401/403/400/503). No Beast or Asio type leaks from here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/ports.hpp"
#include "config/settings.hpp"

namespace tether::runtime {

struct server_params {
  // The defaults are the settings' (config/settings.hpp, with their
  // reasons); node_params.cpp maps a node's settings.
  std::string address = "127.0.0.1"; // tests: loopback, not the setting's
  uint16_t port = 0;                 // tests: any free port
  std::string ws_path = config::server_settings{}.ws_path;
  uint32_t max_connections = config::server_settings{}.max_connections;
  /// Handshakes admitted per second (0: all) and at once (admission.hpp).
  uint32_t handshake_rate = config::server_settings{}.handshake_rate;
  uint32_t handshake_burst = config::server_settings{}.handshake_burst;
  uint32_t io_threads = 1; // tests: one loop (the setting's 0 means per CPU)
  std::vector<std::string> allowed_origins;
  bool permessage_deflate = config::server_settings{}.permessage_deflate;
  uint32_t deflate_level = config::server_settings{}.deflate_level;
  /// server_max_window_bits (9-15): the deflate window a session keeps.
  uint32_t deflate_window_bits = config::server_settings{}.deflate_window_bits;
  /// zlib memLevel (1-9) of the deflate stream.
  uint32_t deflate_mem_level = config::server_settings{}.deflate_mem_level;
  /// Both sides reset their compression context per message (no window is
  /// kept between messages; costs ratio on small messages).
  bool deflate_no_context_takeover
    = config::server_settings{}.deflate_no_context_takeover;
  uint64_t max_message_bytes = config::limits_settings{}.max_message_bytes;
  std::chrono::milliseconds handshake_timeout
    = config::heartbeat_settings{}.handshake_timeout;
  std::chrono::milliseconds ping_interval
    = config::heartbeat_settings{}.ping_interval;
  std::chrono::milliseconds pong_timeout
    = config::heartbeat_settings{}.pong_timeout;
  /// How long a server-initiated close waits for the peer's close frame.
  std::chrono::milliseconds close_timeout
    = config::heartbeat_settings{}.close_timeout;
  /// TLS: PEM certificate chain and key (empty: no TLS). With tls_port 0
  /// the main port serves TLS and plain connections (the first bytes
  /// decide); else the main port is plain and tls_port TLS only.
  std::string tls_cert;
  std::string tls_key;
  uint16_t tls_port = config::server_settings{}.tls_port;
  /// No plain connections: the main port speaks TLS only (tokens never
  /// travel in clear text).
  bool tls_only = config::server_settings{}.tls_only;
  /// The conformance echo route (empty: off; test/conformance/ only).
  std::string echo_path;
  /// HMAC secret for device tokens.
  std::string secret;
  /// Keys of the server API (/api/v1; empty: off), compared in constant
  /// time, never logged.
  std::vector<std::string> api_keys;
  std::chrono::seconds token_leeway = config::auth_settings{}.leeway;
};

/// Callbacks into the node (invoked on Asio threads; must not block).
struct server_hooks {
  /// A session finished its handshake; hand it to the orchestrator.
  std::function<void(std::shared_ptr<actors::session_port>)> open;
  /// Body of GET /healthz (JSON).
  std::function<std::string()> healthz;
  /// An authenticated server API request (method, path, body): answer with
  /// `reply(http status, JSON body)`, from any thread.
  std::function<void(std::string, std::string, std::string,
                     std::function<void(unsigned, std::string)>)>
    api;
};

class io_loop;

class ws_server {
public:
  /// With `loop`, the server runs on that running loop (the node's, whose
  /// threads may also run the actors) and stop() leaves it running: the
  /// loop must be stopped before the server is destroyed. Without, the
  /// server has a loop of params.io_threads of its own.
  ws_server(server_params params, server_hooks hooks,
            std::shared_ptr<actors::node_metrics> metrics,
            std::shared_ptr<io_loop> loop = nullptr);

  ~ws_server();

  ws_server(const ws_server&) = delete;
  ws_server& operator=(const ws_server&) = delete;

  /// Binds, listens and starts the I/O threads; returns the bound port.
  /// Throws std::runtime_error if the address cannot be bound.
  uint16_t start();

  /// Reads the certificate and key again (SIGHUP): new connections use
  /// them, open sessions keep theirs. Returns an error message, empty on
  /// success (the old certificate stays on failure).
  std::string reload_tls();

  /// Stops accepting new connections; open sessions continue.
  void stop_accepting();

  /// Draining, for about `takes`: valid upgrades get 503 with a
  /// Retry-After past its end (spread over as long again, at least a
  /// second) from now on.
  void drain(std::chrono::milliseconds takes);

  /// WebSocket sessions that are still open.
  size_t sessions() const noexcept;

  /// Stops the I/O threads, joins them and destroys every session (their
  /// sockets close); with a loop of the node's, only stops accepting.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

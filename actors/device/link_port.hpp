#pragma once

// The seam between a simulated device's actor (actors/device) and its
// client WebSocket session (runtime/ws_client_pool), the mirror image of
// session_port on the server side. Calls on link_port only post to the
// session's strand; link_events calls only hand data to the actor (frames
// through an inbox it empties in bulk, see device_actor.cpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/connection/session_port.hpp"
#include "actors/device/link_opened.hpp"

namespace tether::actors {

struct link_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// The local address to connect from (empty: the system's choice): a
  /// client with more connections than ephemeral ports of one address pair
  /// (about 28,000) spreads them over several, e.g. 127.0.0.1-127.0.0.4.
  std::string source;
  /// Path and query, e.g. "/ws?resume=...&lastSeq=12".
  std::string target = "/ws";
  /// Sent as Authorization: Bearer.
  std::string token;
  std::vector<std::string> subprotocols;
  bool deflate = false;
  std::chrono::milliseconds timeout{10000};
  /// wss: TLS, verifying the server against `ca_file` (empty: the system's
  /// store) unless `insecure`.
  bool tls = false;
  std::string ca_file;
  bool insecure = false;
};

class link_events {
public:
  virtual ~link_events();
  virtual void on_open(link_opened result) = 0;
  /// A message read; `bytes` is valid during the call only.
  virtual void on_frame(std::string_view bytes, bool binary) = 0;
  /// The link ended; 1006 if no close frame was received.
  virtual void on_closed(uint16_t code) = 0;
};

class link_port {
public:
  virtual ~link_port();
  virtual void send(shared_bytes bytes, bool binary) = 0;
  /// Sends a close frame (the peer's answer ends the link).
  virtual void close(uint16_t code) = 0;
  /// Drops the TCP connection at once (a network failure).
  virtual void abort() = 0;

  /// Stops (true) or resumes reading: a slow reader lets the server's
  /// writes back up.
  virtual void pause(bool paused) = 0;
};

/// Opens links (runtime::client_pool provides one).
using link_factory = std::function<std::shared_ptr<link_port>(
  const link_options&, std::shared_ptr<link_events>)>;

} // namespace tether::actors

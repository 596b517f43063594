#pragma once

// The kernel's seams to the sockets; neither side includes the other's
// framework.
//
// session_port: between a server WebSocket session (runtime/, on one event
// loop) and its connection actor. The session implements session_port, the
// actor side implements session_events. A session_port call runs at once
// on the session's own loop and is posted there from elsewhere; it never
// calls back into the caller. Every session_events call only enqueues a
// message to the actor.
//
// link_port: between a simulated device's actor (actors/device) and its
// client WebSocket session (runtime/ws_client_pool), the mirror image of
// session_port. Calls on link_port only post to the session's strand;
// link_events calls only hand data to the actor (frames through an inbox it
// empties in bulk, see device_actor.cpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/records.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

/// Immutable, shareable frame bytes (a broadcast is encoded once).
using shared_bytes = std::shared_ptr<const std::string>;

/// What the handshake established about a session.
struct session_info {
  std::string session_id;
  std::string user_id;
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  std::string role;
  protocol::codec codec = protocol::codec::json;
  /// Whether permessage-deflate was negotiated.
  bool deflate = false;
  /// App-level frame compression the client asked for at the handshake
  /// (?compress=deflate|gzip): 0 none, 1 deflate, 2 gzip.
  uint8_t compress = 0;
  /// ?resume=<token>&lastSeq=<n> of a reconnecting device.
  std::string resume_token;
  uint64_t resume_last_seq = 0;
  /// When the session ends with 4501: the token's `exp` plus
  /// `auth.leeway`, seconds since the epoch.
  int64_t session_expires_at = 0;
  std::string remote_address;
};

/// Events a session reports to its connection actor.
class session_events {
public:
  virtual ~session_events();

  /// A complete WebSocket message was read.
  virtual void on_frame(std::string bytes, bool binary) = 0;

  /// The frame sent with this non-zero tag was written to the socket.
  virtual void on_written(uint64_t tag) = 0;

  /// The session ended; `code` is the close code (1006 if none was received).
  virtual void on_closed(uint16_t code) = 0;
};

/// Operations a connection actor may ask of its session.
class session_port {
public:
  virtual ~session_port();

  /// Starts reading; events go to `events` from now on.
  virtual void attach(std::shared_ptr<session_events> events) = 0;

  /// Queues one message for writing (one write in flight at a time); a
  /// non-zero `tag` is reported back through on_written.
  virtual void send(shared_bytes bytes, bool binary, uint64_t tag = 0) = 0;

  /// Sends a close frame and ends the session.
  virtual void close(uint16_t code, std::string reason) = 0;

  /// Returns read credit: the actor finished `n` frames. Reading pauses while
  /// too many frames are unprocessed (CAF mailboxes are unbounded).
  virtual void consumed(size_t n) = 0;

  /// The event loop the session runs on (actors/loop_affinity.hpp), -1 if
  /// none: the actors serving it live there.
  virtual int32_t loop() const noexcept { return -1; }
  /// Whether the calling thread is the session's own: a send() from it is
  /// written at once, before anything posted to the session. (An actor's
  /// loop_affinity is no proof: move_to_loop changes it while the actor
  /// still runs on the thread it came from.)
  virtual bool runs_here() const noexcept { return false; }

  /// Whether the thread serving this session has a backlog (many actors
  /// waiting to run): a batcher then holds its frame until the end of the
  /// round, so that what else becomes ready meanwhile leaves with it.
  virtual bool loaded() const noexcept { return false; }

  /// Reports `tag` through on_written once the work queued on the
  /// session's thread by now has run (the end of the scheduling round).
  virtual void after_round(uint64_t tag) = 0;

  virtual const session_info& info() const noexcept = 0;
};

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
  /// The link ended; 1006 if no close frame was received. `retry_after_ms`:
  /// when to come back, as a drain's close (1012) said (0: not said).
  virtual void on_closed(uint16_t code, uint32_t retry_after_ms) = 0;
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

#pragma once

// A small WebSocket client with a deadline on every call, for `tether send`
// and the tests: it runs its own io_context on the calling thread, so a
// call never blocks longer than its timeout. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tether::runtime {

struct client_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string target = "/ws";
  /// Sent as `Authorization: Bearer`, or as ?token= if token_in_query.
  std::string token;
  bool token_in_query = false;
  std::vector<std::string> subprotocols;
  bool deflate = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{5000};
  /// wss: TLS, verifying the server against `ca_file` (empty: the system's
  /// store) unless `insecure`.
  bool tls = false;
  std::string ca_file;
  bool insecure = false;
};

struct client_frame {
  std::string data;
  bool binary = false;
};

class ws_client {
public:
  ws_client();
  ~ws_client();

  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  struct connect_result {
    bool ok = false;
    /// The HTTP status of the upgrade response (101 on success).
    int status = 0;
    /// The response body when the upgrade was refused.
    std::string body;
    std::string error;
    std::string subprotocol;
    bool deflate = false;
  };

  connect_result connect(const client_options& opts);

  /// Sends one message; false if the connection is gone or the write timed
  /// out.
  bool send(std::string_view data, bool binary = false);

  /// Waits up to `timeout` for the next message; nullopt on timeout or once
  /// the connection closed (see close_code()).
  std::optional<client_frame> receive(std::chrono::milliseconds timeout);

  /// The close code received from the server (1006 if the TCP connection
  /// ended without one), once the connection is gone.
  std::optional<uint16_t> close_code() const;

  /// The reason of the server's close frame (empty if none).
  std::string close_reason() const;

  /// Starts the close handshake and waits for it (bounded).
  void close(uint16_t code = 1000);

  /// Drops the TCP connection without a close handshake.
  void abort();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

#pragma once

// The checks before a WebSocket upgrade (SPEC §2.2), as a pure function
// from the request's parts to a decision: method, upgrade and version, key,
// origin, capacity, token, subprotocol and query parameters, in that order.
// No Beast here: the listener fills `upgrade_request` from its parser and
// turns a refusal into the HTTP response; tests and the fuzzer call it
// directly.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/ports.hpp"

namespace tether::runtime {

/// What the checks read of an upgrade request (views into it).
struct upgrade_request {
  std::string_view method = "GET";
  /// HTTP/1.1 with `Connection: upgrade` and `Upgrade: websocket`.
  bool is_upgrade = false;
  std::string_view version;       // Sec-WebSocket-Version
  std::string_view key;           // Sec-WebSocket-Key
  std::string_view origin;        // Origin
  std::string_view authorization; // Authorization
  std::string_view protocols;     // Sec-WebSocket-Protocol
  std::string_view query;         // the target after '?'
};

struct upgrade_policy {
  std::vector<std::string> allowed_origins;
  uint32_t max_connections = 20000;
  std::string secret;
  int64_t leeway_s = 30;
};

/// An answer before any WebSocket byte: status, JSON error word and
/// message, extra headers.
struct upgrade_refusal {
  actors::reject_reason reason = actors::reject_reason::bad_request;
  int status = 400;
  std::string error;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct upgrade_decision {
  /// Set if the upgrade is refused.
  std::optional<upgrade_refusal> refusal;
  /// If accepted: identity, codec, compression, resume and expiry (the
  /// caller adds the session id and the remote address).
  actors::session_info info;
};

upgrade_decision check_upgrade(const upgrade_request& req,
                               const upgrade_policy& policy,
                               size_t open_sessions, int64_t now_s);

/// The value of `name` in a query string, URL-decoded.
std::optional<std::string> query_param(std::string_view query,
                                       std::string_view name);

} // namespace tether::runtime

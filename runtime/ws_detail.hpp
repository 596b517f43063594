#pragma once

// Internal to runtime/ws_*.cpp: the Beast/Asio types shared by the listener
// and the WebSocket session. Include nowhere else (compile cost).

#include <atomic>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "runtime/ws_server.hpp"

namespace tether::runtime::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// State shared by the listener and every session of one server.
struct server_shared {
  server_params params;
  server_hooks hooks;
  std::shared_ptr<actors::node_metrics> metrics;
  /// Open WebSocket sessions (from upgrade to destruction).
  std::atomic<size_t> sessions{0};
};

/// Runs the WebSocket handshake for `req` on `stream` and, once it
/// succeeds, hands the session to hooks.open.
void start_ws_session(std::shared_ptr<server_shared> shared,
                      beast::tcp_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info);

} // namespace tether::runtime::detail

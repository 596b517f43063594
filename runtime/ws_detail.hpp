#pragma once

// Internal to runtime/ws_*.cpp: the Beast/Asio types shared by the listener,
// the WebSocket session and the client pool. Include nowhere else (compile
// cost).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
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

/// An io_context run by `n` threads from run() until stop(): the server's
/// and the simulated devices' client pool's.
class io_pool {
public:
  explicit io_pool(uint32_t n) : ioc(static_cast<int>(n)), n_(n) {}

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  ~io_pool() { stop(); }

  /// Starts the threads; they run until stop(), even without work.
  void run() {
    work_.emplace(ioc.get_executor());
    for (uint32_t i = 0; i < n_; ++i)
      threads_.emplace_back([this] { ioc.run(); });
  }

  /// Stops and joins the threads. Handlers not run yet stay in the context
  /// (and keep what they own) until it is destroyed.
  void stop() {
    work_.reset();
    ioc.stop();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
    threads_.clear();
  }

  net::io_context ioc;

private:
  uint32_t n_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

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

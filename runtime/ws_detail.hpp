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

/// The read buffer of a WebSocket stream that costs little while idle.
/// Beast's async_read prepares min(tcp_frame_size, max_size() - size())
/// bytes before a frame arrives, which every idle connection would hold
/// (1.5 KB each). While empty this buffer reports a small max_size(), so the
/// pending read prepares only `idle_bytes`; once bytes arrive the real limit
/// applies and it grows as the frame needs. release() gives back what a
/// large message left behind. Message size limits stay with the stream
/// (read_message_max).
class lean_buffer {
public:
  using const_buffers_type = beast::flat_buffer::const_buffers_type;
  using mutable_buffers_type = beast::flat_buffer::mutable_buffers_type;

  /// What a read prepares while nothing is buffered; small frames (acks,
  /// heartbeats) fit without growing.
  static constexpr size_t idle_bytes = 256;

  size_t size() const noexcept { return b_.size(); }
  size_t max_size() const noexcept {
    return b_.size() == 0 ? idle_bytes : b_.max_size();
  }
  size_t capacity() const noexcept { return b_.capacity(); }
  const_buffers_type data() const noexcept { return b_.data(); }
  const_buffers_type cdata() const noexcept { return b_.cdata(); }
  mutable_buffers_type data() noexcept { return b_.data(); }
  mutable_buffers_type prepare(size_t n) { return b_.prepare(n); }
  void commit(size_t n) noexcept { b_.commit(n); }
  void consume(size_t n) noexcept { b_.consume(n); }

  /// Frees the storage once empty if it grew past what idling needs.
  void release() {
    if (b_.size() == 0 && b_.capacity() > 4 * idle_bytes)
      b_.shrink_to_fit();
  }

private:
  beast::flat_buffer b_;
};

/// State shared by the listener and every session of one server.
struct server_shared {
  server_params params;
  server_hooks hooks;
  std::shared_ptr<actors::node_metrics> metrics;
  /// Open WebSocket sessions (from upgrade to destruction).
  std::atomic<size_t> sessions{0};
  /// Actor runs waiting on the loop (0 while actors run elsewhere).
  const std::atomic<int64_t>* backlog = nullptr;
};

/// Runs the WebSocket handshake for `req` on `stream` and, once it
/// succeeds, hands the session to hooks.open.
void start_ws_session(std::shared_ptr<server_shared> shared,
                      beast::tcp_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info);

} // namespace tether::runtime::detail

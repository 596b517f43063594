#pragma once

// Internal to runtime/ws_*.cpp: the Beast/Asio types shared by the listener,
// the WebSocket session and the client pool. Include nowhere else (compile
// cost).

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/zlib/error.hpp>

#include "runtime/admission.hpp"
#include "runtime/io_scheduler.hpp"
#include "runtime/ws_detail_tls.hpp"
#include "runtime/ws_server.hpp"

namespace tether::runtime::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
/// A client TLS connection (Asio's ssl::stream; the server's connections
/// are tls_stream, ws_detail_tls.hpp).
using client_tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// A client connection that is plain (ws://) or TLS (wss://), chosen at
/// run time: the one stream type of the CLI's and the tests' WebSocket
/// clients. Starts plain; use_tls() wraps the connected socket before the
/// WebSocket handshake.
class client_stream {
public:
  using executor_type = beast::tcp_stream::executor_type;

  template <class Arg, class = std::enable_if_t<
                         !std::is_same_v<std::decay_t<Arg>, client_stream>>>
  explicit client_stream(Arg&& executor_or_context)
    : plain_(std::in_place, std::forward<Arg>(executor_or_context)) {}

  client_stream(client_stream&&) = default;

  /// Wraps the connection in TLS with `ctx` (which must outlive this),
  /// sending `host` as SNI and verifying it if the context verifies.
  bool use_tls(net::ssl::context& ctx, const std::string& host) {
    tls_.emplace(std::move(*plain_), ctx);
    plain_.reset();
    beast::error_code not_an_address;
    net::ip::make_address(host, not_an_address);
    if (not_an_address) // SNI names hosts, never IP literals (RFC 6066 §3)
      SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
    tls_->set_verify_callback(net::ssl::host_name_verification(host));
    return true;
  }

  client_tls_stream* tls() noexcept { return tls_ ? &*tls_ : nullptr; }

  executor_type get_executor() noexcept { return next_layer().get_executor(); }

  beast::tcp_stream& next_layer() noexcept {
    return tls_ ? tls_->next_layer() : *plain_;
  }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    if (tls_)
      tls_->async_read_some(b, std::forward<Handler>(h));
    else
      plain_->async_read_some(b, std::forward<Handler>(h));
  }

  template <class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    if (tls_)
      tls_->async_write_some(b, std::forward<Handler>(h));
    else
      plain_->async_write_some(b, std::forward<Handler>(h));
  }

  friend void teardown(beast::role_type role, client_stream& s,
                       beast::error_code& ec) {
    using websocket::teardown;
    if (s.tls_)
      teardown(role, *s.tls_, ec);
    else
      teardown(role, *s.plain_, ec);
  }

  template <class Handler>
  friend void
  async_teardown(beast::role_type role, client_stream& s, Handler&& h) {
    using websocket::async_teardown;
    if (s.tls_)
      async_teardown(role, *s.tls_, std::forward<Handler>(h));
    else
      async_teardown(role, *s.plain_, std::forward<Handler>(h));
  }

private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<client_tls_stream> tls_;
};

/// An io_context run by `n` threads from run() until stop(): the server's
/// and the simulated devices' client pool's.
class io_pool {
public:
  explicit io_pool(uint32_t n) : ioc(static_cast<int>(n)), n_(n) {}

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  ~io_pool() { stop(); }

  /// Starts the threads; they run until stop(), even without work. Each
  /// calls `on_start` first.
  template <class F = void (*)()>
  void run(F on_start = [] {}) {
    work_.emplace(ioc.get_executor());
    for (uint32_t i = 0; i < n_; ++i)
      threads_.emplace_back([this, on_start] {
        on_start();
        ioc.run();
      });
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
/// pending read prepares only `idle_bytes`, or the capacity it has already
/// (what earlier frames grew it to: a read that prepares less than the
/// frame ends with the frame's rest in Beast's buffer, and the second read
/// Beast then needs completes at once, which it posts: a round of the loop
/// and an epoll_wait per frame); once bytes arrive the real limit applies
/// and it grows as the frame needs. release() gives back what a large
/// message left behind. Message size limits stay with the stream
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
    return b_.size() == 0 ? std::max(idle_bytes, b_.capacity()) : b_.max_size();
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
  /// Open event streams (GET /api/v1/stream).
  std::atomic<size_t> streams{0};
  /// Set when the server stops accepting: event streams end.
  std::atomic<bool> stopping{false};
  /// Handshakes admitted (server.handshake_rate; set up by the server
  /// from its params, else off), under its mutex.
  std::mutex admission_mutex;
  admission handshakes{0, 0, {}};
  /// Draining: upgrades are refused until the node stops; when the drain
  /// is expected to end at its pace (steady clock nanoseconds since its
  /// epoch; 0: not draining).
  std::atomic<int64_t> drain_ends{0};
  /// The event loops the sessions run on (their backlog: actor runs
  /// waiting); null for a session without (the fuzz target's).
  loop_view* loops = nullptr;
  /// The TLS context of new connections (null: no TLS); replaced on reload,
  /// read with std::atomic_load.
  std::shared_ptr<net::ssl::context> tls;
};

/// A server TLS context: TLS 1.2 minimum, forward-secret AEAD suites, the
/// certificate chain and key from PEM files (runtime/ws_tls.cpp). Throws
/// std::runtime_error with a message fit for the operator.
std::shared_ptr<net::ssl::context>
make_server_context(const std::string& cert_file, const std::string& key_file);

/// A client TLS context verifying the server against `ca_file` (empty: the
/// system's store), or not at all if `insecure`.
std::shared_ptr<net::ssl::context>
make_client_context(const std::string& ca_file, bool insecure);

/// What a session does to the connection under TLS and WebSocket
/// (overloaded for Beast's in-memory test stream by the session fuzz
/// target, before it includes ws_detail_session.hpp).
/// A WebSocket session's own socket (released from the HTTP phase's
/// tcp_stream: its timers and per-operation bookkeeping are not needed
/// there, the session's one timer bounds what must be bounded).
inline void clear_deadline(tcp::socket&) {}
/// Stops sending; false if the connection is gone already.
inline bool shutdown_send(tcp::socket& s) {
  beast::error_code ec;
  s.shutdown(tcp::socket::shutdown_send, ec);
  return !ec && s.is_open();
}
inline void close_transport(tcp::socket& s) {
  beast::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}
/// The same on the HTTP phase's stream (and the conformance echo route).
inline void clear_deadline(beast::tcp_stream& s) {
  s.expires_never();
}
inline bool shutdown_send(beast::tcp_stream& s) {
  return shutdown_send(s.socket());
}
inline void close_transport(beast::tcp_stream& s) {
  close_transport(s.socket());
}

/// The options every server WebSocket stream gets (device sessions and the
/// conformance echo route alike, so that the suite tests what devices
/// meet): handshake timeout, permessage-deflate as configured, the message
/// cap, no automatic fragmentation.
template <class Stream>
void set_server_options(websocket::stream<Stream>& ws, const server_params& p,
                        websocket::stream_base::duration idle_timeout) {
  websocket::stream_base::timeout opt{};
  opt.handshake_timeout = p.handshake_timeout; // accept and close
  opt.idle_timeout = idle_timeout;
  opt.keep_alive_pings = false;
  ws.set_option(opt);
  if (p.permessage_deflate) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.compLevel = static_cast<int>(p.deflate_level);
    pmd.memLevel = static_cast<int>(p.deflate_mem_level);
    pmd.server_max_window_bits = static_cast<int>(p.deflate_window_bits);
    pmd.server_no_context_takeover = p.deflate_no_context_takeover;
    pmd.client_no_context_takeover = p.deflate_no_context_takeover;
    ws.set_option(pmd);
  }
  ws.read_message_max(p.max_message_bytes);
  ws.auto_fragment(false);
}

/// Whether a failed read was corrupt permessage-deflate data: Beast then
/// fails the stream without a close frame.
inline bool is_inflate_error(const beast::error_code& ec) {
  return &ec.category()
         == &beast::zlib::make_error_code(beast::zlib::error::need_buffers)
               .category();
}

/// Writes, on the layer under a failed WebSocket stream, the close frame
/// Beast did not: FIN + opcode 8, unmasked (server side), `code`, no
/// reason; then calls `done()`. Only while no other write is in flight.
template <class NextLayer, class Done>
void write_close_frame(NextLayer& layer, uint16_t code, Done done) {
  auto frame = std::make_shared<std::array<unsigned char, 4>>(
    std::array<unsigned char, 4>{0x88, 0x02,
                                 static_cast<unsigned char>(code >> 8),
                                 static_cast<unsigned char>(code & 0xFF)});
  net::async_write(layer, net::buffer(*frame),
                   [frame, done = std::move(done)](beast::error_code,
                                                   size_t) mutable { done(); });
}

/// The conformance echo route (runtime/ws_echo.cpp): every message back as
/// it came; only with server.echo_path set.
void start_echo_session(std::shared_ptr<server_shared> shared,
                        beast::tcp_stream stream,
                        http::request<http::string_body> req);
void start_echo_session(std::shared_ptr<server_shared> shared,
                        tls_stream stream,
                        http::request<http::string_body> req);

/// Runs the WebSocket handshake for `req` on `stream` and, once it
/// succeeds, hands the session to hooks.open.
void start_ws_session(std::shared_ptr<server_shared> shared,
                      beast::tcp_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info);
void start_ws_session(std::shared_ptr<server_shared> shared, tls_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info);

} // namespace tether::runtime::detail

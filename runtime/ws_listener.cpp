// Accepts TCP connections on the node's ports (plain, TLS, or both told
// apart by the first bytes) and hands each to an HTTP session
// (ws_http_session.hpp); retries accept after EMFILE; reloads the TLS
// context; stops accepting.

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "runtime/io_scheduler.hpp"
#include "runtime/ws_detail.hpp"
#include "runtime/ws_http_session.hpp"

namespace tether::runtime {

namespace detail {

namespace {

/// Hands a connection to TLS with the current context (the SSL object keeps
/// the OpenSSL context alive after a reload replaced it); `read` holds the
/// bytes read while detecting TLS, `deadline` ends the handshake and the
/// first request.
void start_tls(const std::shared_ptr<server_shared>& shared, tcp::socket socket,
               const beast::flat_buffer& read,
               std::chrono::steady_clock::time_point deadline) {
  auto ctx = std::atomic_load(&shared->tls);
  if (!ctx)
    return;
  tls_stream stream{std::move(socket), ctx->native_handle(), read.data()};
  stream.expires_at(deadline);
  std::make_shared<http_session<tls_stream>>(shared, std::move(stream),
                                             beast::flat_buffer{})
    ->run();
}

/// The first bytes of a connection on a port that serves both: a TLS
/// ClientHello makes it a TLS connection, anything else plain HTTP.
class detect_session : public std::enable_shared_from_this<detect_session> {
public:
  detect_session(std::shared_ptr<server_shared> shared, tcp::socket socket)
    : shared_(std::move(shared)), stream_(std::move(socket)) {
    // nop
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->deadline_ = std::chrono::steady_clock::now()
                        + self->shared_->params.handshake_timeout;
      self->stream_.expires_at(self->deadline_);
      beast::async_detect_ssl(
        self->stream_, self->buffer_,
        beast::bind_front_handler(&detect_session::on_detect, self));
    });
  }

private:
  void on_detect(beast::error_code ec, bool tls) {
    if (ec)
      return;
    if (!tls) {
      std::make_shared<http_session<beast::tcp_stream>>(
        shared_, std::move(stream_), std::move(buffer_))
        ->run();
      return;
    }
    start_tls(shared_, stream_.release_socket(), buffer_, deadline_);
  }

  std::shared_ptr<server_shared> shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::chrono::steady_clock::time_point deadline_;
};

} // namespace

} // namespace detail

using namespace detail;

struct ws_server::impl {
  /// What a port serves: plain HTTP/WebSocket, TLS only, or both (the first
  /// bytes decide).
  enum class mode { plain, tls, detect };

  struct port {
    tcp::acceptor acceptor;
    net::steady_timer retry_timer;
    mode serves;

    port(net::io_context& ioc, mode m)
      : acceptor(ioc), retry_timer(ioc), serves(m) {}
  };

  std::shared_ptr<server_shared> shared;
  /// Whether the server started and stops the loop itself (before `loop`:
  /// it is read from the argument that `loop` moves from).
  bool own_loop;
  std::shared_ptr<io_loop> loop;
  std::vector<std::unique_ptr<port>> ports;

  impl(std::shared_ptr<server_shared> s, std::shared_ptr<io_loop> l)
    : shared(std::move(s)), own_loop(!l),
      loop(l ? std::move(l)
             : std::make_shared<io_loop>(shared->params.io_threads)) {
    shared->loops = loop.get();
  }

  uint16_t listen(const std::string& address, uint16_t number, mode m) {
    beast::error_code ec;
    auto addr = net::ip::make_address(address, ec);
    if (ec)
      throw std::runtime_error("invalid server.address '" + address
                               + "': " + ec.message());
    tcp::endpoint ep{addr, number};
    // The acceptors live on the first loop; connections on every loop.
    auto p = std::make_unique<port>(loop->pool(0).ioc, m);
    auto& acc = p->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec)
      acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec)
      acc.bind(ep, ec);
    if (!ec)
      acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + address + ":"
                               + std::to_string(number) + ": " + ec.message());
    auto bound = acc.local_endpoint().port();
    ports.push_back(std::move(p));
    return bound;
  }

  void do_accept(port& p) {
    p.acceptor.async_accept(loop->pool(loop->next()).ioc,
                            [this, &p](beast::error_code ec,
                                       tcp::socket socket) {
                              on_accept(p, ec, std::move(socket));
                            });
  }

  void on_accept(port& p, beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !p.acceptor.is_open())
      return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on accept.
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
      p.retry_timer.expires_after(std::chrono::milliseconds{100});
      p.retry_timer.async_wait([this, &p](beast::error_code e) {
        if (!e && p.acceptor.is_open())
          do_accept(p);
      });
      return;
    }
    socket.set_option(tcp::no_delay{true}, ec);
    // Slowloris: everything before the upgrade within the handshake time.
    auto with_deadline = [this](tcp::socket s) {
      beast::tcp_stream stream{std::move(s)};
      stream.expires_after(shared->params.handshake_timeout);
      return stream;
    };
    switch (p.serves) {
      case mode::plain:
        std::make_shared<http_session<beast::tcp_stream>>(
          shared, with_deadline(std::move(socket)), beast::flat_buffer{})
          ->run();
        break;
      case mode::tls:
        start_tls(shared, std::move(socket), beast::flat_buffer{},
                  std::chrono::steady_clock::now()
                    + shared->params.handshake_timeout);
        break;
      case mode::detect:
        std::make_shared<detect_session>(shared, std::move(socket))->run();
        break;
    }
    do_accept(p);
  }
};

ws_server::ws_server(server_params params, server_hooks hooks,
                     std::shared_ptr<actors::node_metrics> metrics,
                     std::shared_ptr<io_loop> loop) {
  auto shared = std::make_shared<server_shared>();
  shared->params = std::move(params);
  shared->handshakes = admission{shared->params.handshake_rate,
                                 shared->params.handshake_burst,
                                 std::chrono::steady_clock::now()};
  shared->hooks = std::move(hooks);
  shared->metrics = std::move(metrics);
  impl_ = std::make_unique<impl>(std::move(shared), std::move(loop));
}

ws_server::~ws_server() {
  stop();
}

uint16_t ws_server::start() {
  auto& p = impl_->shared->params;
  using mode = impl::mode;
  auto tls = !p.tls_cert.empty();
  if (tls)
    impl_->shared->tls = make_server_context(p.tls_cert, p.tls_key);
  auto port = impl_->listen(p.address, p.port,
                            !tls              ? mode::plain
                            : p.tls_only      ? mode::tls
                            : p.tls_port == 0 ? mode::detect
                                              : mode::plain);
  if (tls && p.tls_port != 0)
    impl_->listen(p.address, p.tls_port, mode::tls);
  for (auto& l : impl_->ports)
    impl_->do_accept(*l);
  if (impl_->own_loop)
    impl_->loop->start();
  return port;
}

std::string ws_server::reload_tls() {
  auto& p = impl_->shared->params;
  if (p.tls_cert.empty())
    return "TLS is not configured (server.tls_cert)";
  try {
    std::atomic_store(&impl_->shared->tls,
                      make_server_context(p.tls_cert, p.tls_key));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

void ws_server::stop_accepting() {
  if (!impl_)
    return;
  impl_->shared->stopping = true;
  for (auto& l : impl_->ports)
    net::post(l->acceptor.get_executor(), [l = l.get()] {
      beast::error_code ec;
      l->acceptor.close(ec);
      l->retry_timer.cancel();
    });
}

void ws_server::drain(std::chrono::milliseconds takes) {
  auto ends = std::chrono::steady_clock::now() + takes;
  // 0 means "not draining": a drain ends one nanosecond later at worst.
  impl_->shared->drain_ends.store(
    std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(
                           ends.time_since_epoch())
                           .count()));
}

size_t ws_server::sessions() const noexcept {
  return impl_ ? impl_->shared->sessions.load() : 0;
}

void ws_server::stop() {
  if (!impl_)
    return;
  if (!impl_->own_loop) {
    stop_accepting();
    return; // the loop's owner stops it, then destroys the server
  }
  // Destroying the io_context destroys the handlers that still own sessions.
  impl_->loop->stop();
  impl_.reset();
}

} // namespace tether::runtime

// Accepts TCP connections and serves HTTP on them: GET /healthz, GET
// /metrics, and the WebSocket upgrade on server.ws_path, which is refused
// with 401/403/400/426/503 before any WebSocket byte is exchanged.

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "runtime/io_scheduler.hpp"
#include "runtime/process.hpp"
#include "runtime/upgrade_check.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime {

namespace detail {

namespace {


std::string json_error(std::string_view error, std::string_view message) {
  std::string out = R"({"error":")";
  out.append(error).append(R"(","message":")");
  static constexpr char hex[] = "0123456789abcdef";
  for (auto c : message) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

// Compares every byte of both (a key's content does not change the time).
bool same_secret(std::string_view given, std::string_view key) {
  unsigned char diff = given.size() != key.size() ? 1 : 0;
  for (size_t i = 0; i < key.size(); ++i)
    diff |= static_cast<unsigned char>(
      (i < given.size() ? given[i] : 0) ^ key[i]);
  return diff == 0;
}

int64_t now_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch())
    .count();
}

/// HTTP on a plain (beast::tcp_stream) or TLS (tls_stream) connection:
/// the endpoints and the checks before the upgrade. `buffer` holds what was
/// read while detecting TLS.
template <class Stream>
class http_session
  : public std::enable_shared_from_this<http_session<Stream>> {
public:
  http_session(std::shared_ptr<server_shared> shared, Stream stream,
               beast::flat_buffer buffer)
    : shared_(std::move(shared)),
      stream_(std::move(stream)),
      buffer_(std::move(buffer)) {
    // nop
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::start,
                                            this->shared_from_this()));
  }

private:
  using request = http::request<http::string_body>;
  using response = http::response<http::string_body>;

  void start() {
    if constexpr (std::is_same_v<Stream, tls_stream>) {
      // Under the deadline set at accept: detection, TLS handshake and the
      // upgrade request share one heartbeat.handshake_timeout.
      stream_.async_handshake(
        net::ssl::stream_base::server, buffer_.data(),
        [self = this->shared_from_this()](beast::error_code ec, size_t used) {
          if (ec) {
            spdlog::debug("tls handshake failed: {}", ec.message());
            return;
          }
          self->buffer_.consume(used);
          self->do_read();
        });
    } else {
      do_read();
    }
  }

  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }

  void do_read() {
    // The first request keeps the deadline set at accept; each keep-alive
    // request after it gets its own.
    if (served_++ > 0)
      beast::get_lowest_layer(stream_).expires_after(
        shared_->params.handshake_timeout);
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    // A server API body holds one message.
    parser_->body_limit(shared_->params.max_message_bytes + 16 * 1024);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read,
                                               this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) {
      socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    if (ec) {
      if (ec != beast::error::timeout && ec != net::error::operation_aborted)
        reply(http::status::bad_request,
              json_error("bad_request", "malformed HTTP request"), false);
      return;
    }
    route(parser_->release());
  }

  void route(request req) {
    auto target = std::string_view{req.target().data(), req.target().size()};
    auto qmark = target.find('?');
    auto path = target.substr(0, qmark);
    auto query = qmark == std::string_view::npos ? std::string_view{}
                                                 : target.substr(qmark + 1);
    keep_alive_ = req.keep_alive();
    if (!shared_->params.echo_path.empty()
        && path == shared_->params.echo_path && websocket::is_upgrade(req)) {
      // Test-only (test/conformance/): no token, no actor.
      start_echo_session(shared_, std::move(stream_), std::move(req));
      return;
    }
    if (path == shared_->params.ws_path) {
      upgrade(std::move(req), query);
      return;
    }
    if (path.substr(0, 5) == "/api/") {
      api(std::move(req), path);
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      reply(http::status::method_not_allowed,
            json_error("method_not_allowed", "only GET is served"));
      return;
    }
    if (path == "/healthz") {
      reply(http::status::ok, shared_->hooks.healthz(), keep_alive_,
            "application/json");
    } else if (path == "/metrics") {
      reply(http::status::ok, shared_->metrics->render_prometheus(),
            keep_alive_, "text/plain; version=0.0.4");
    } else {
      reply(http::status::not_found,
            json_error("not_found", "no such path; see /healthz, /metrics, "
                                      + shared_->params.ws_path));
    }
  }

  // The server API: `Authorization: Bearer <key>` of auth.api_keys_file,
  // then the node's hook answers (on an actor's thread: the reply comes
  // back to this session's executor).
  void api(request req, std::string_view path) {
    auto& keys = shared_->params.api_keys;
    if (keys.empty()) {
      reply(http::status::not_found,
            json_error("not_found",
                       "the server API is off: set auth.api_keys_file"),
            keep_alive_);
      return;
    }
    auto auth = req[http::field::authorization];
    std::string_view given{auth.data(), auth.size()};
    constexpr std::string_view bearer = "Bearer ";
    bool ok = false;
    if (given.substr(0, bearer.size()) == bearer) {
      given.remove_prefix(bearer.size());
      for (auto& k : keys) // every key, to the end of each: constant time
        ok |= same_secret(given, k);
    }
    if (!ok) {
      response res;
      res.result(http::status::unauthorized);
      res.set(http::field::www_authenticate, "Bearer");
      res.body() = json_error("unauthorized",
                              "give a key of auth.api_keys_file as "
                              "'Authorization: Bearer <key>'");
      send(std::move(res), keep_alive_, "application/json");
      return;
    }
    auto method = req.method_string();
    shared_->hooks.api(
      std::string{method.data(), method.size()}, std::string{path},
      std::move(req.body()),
      [self = this->shared_from_this(), ka = keep_alive_](unsigned status,
                                                        std::string body) {
        net::post(self->stream_.get_executor(),
                  [self, ka, status, body = std::move(body)]() mutable {
                    self->reply(static_cast<http::status>(status),
                                std::move(body), ka);
                  });
      });
  }

  void reject(actors::reject_reason reason, http::status status,
              std::string body, response extra = {}) {
    shared_->metrics->handshake_rejected(reason);
    extra.result(status);
    extra.body() = std::move(body);
    send(std::move(extra), false, "application/json");
  }

  void upgrade(request req, std::string_view query) {
    auto& p = shared_->params;
    auto field = [&req](http::field f) {
      auto v = req[f];
      return std::string_view{v.data(), v.size()};
    };
    upgrade_request r;
    auto method = req.method_string();
    r.method = {method.data(), method.size()};
    r.is_upgrade = websocket::is_upgrade(req);
    r.version = field(http::field::sec_websocket_version);
    r.key = field(http::field::sec_websocket_key);
    r.origin = field(http::field::origin);
    r.authorization = field(http::field::authorization);
    r.protocols = field(http::field::sec_websocket_protocol);
    r.query = query;
    upgrade_policy policy{p.allowed_origins, p.max_connections, p.secret,
                          p.token_leeway.count()};
    auto d = check_upgrade(r, policy, shared_->sessions.load(), now_seconds());
    if (d.refusal) {
      auto& no = *d.refusal;
      if (no.reason == actors::reject_reason::unauthorized)
        spdlog::info("refused upgrade: {}", no.message);
      response res;
      for (auto& [name, value] : no.headers)
        res.set(name, value);
      reject(no.reason, static_cast<http::status>(no.status),
             json_error(no.error, no.message), std::move(res));
      return;
    }
    auto info = std::move(d.info);
    info.session_id = random_hex_id();
    beast::error_code ec;
    auto remote = socket().remote_endpoint(ec);
    if (!ec)
      info.remote_address = remote.address().to_string() + ":"
                            + std::to_string(remote.port());
    start_ws_session(shared_, std::move(stream_), std::move(req),
                     std::move(info));
  }

  void reply(http::status status, std::string body, bool keep_alive = false,
             const char* content_type = "application/json") {
    response res;
    res.result(status);
    res.body() = std::move(body);
    send(std::move(res), keep_alive, content_type);
  }

  void send(response res, bool keep_alive, const char* content_type) {
    res.version(11);
    res.set(http::field::server, "tether/" TETHER_VERSION);
    res.set(http::field::content_type, content_type);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    auto sp = std::make_shared<response>(std::move(res));
    http::async_write(stream_, *sp,
                      [self = this->shared_from_this(), sp](beast::error_code ec,
                                                      size_t) {
                        if (!ec && sp->keep_alive()) {
                          self->do_read();
                          return;
                        }
                        self->socket().shutdown(
                          tcp::socket::shutdown_send, ec);
                      });
  }

  std::shared_ptr<server_shared> shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  size_t served_ = 0;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
};

/// Hands a connection to TLS with the current context (the SSL object keeps
/// the OpenSSL context alive after a reload replaced it).
void start_tls(std::shared_ptr<server_shared> shared, beast::tcp_stream stream,
               beast::flat_buffer buffer) {
  auto ctx = std::atomic_load(&shared->tls);
  if (!ctx)
    return;
  std::make_shared<http_session<tls_stream>>(
    shared, tls_stream{std::move(stream), *ctx}, std::move(buffer))
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
      self->stream_.expires_after(self->shared_->params.handshake_timeout);
      beast::async_detect_ssl(self->stream_, self->buffer_,
                              beast::bind_front_handler(
                                &detect_session::on_detect, self));
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
    start_tls(shared_, std::move(stream_), std::move(buffer_));
  }

  std::shared_ptr<server_shared> shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
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
      : acceptor(net::make_strand(ioc)),
        retry_timer(acceptor.get_executor()),
        serves(m) {}
  };

  std::shared_ptr<server_shared> shared;
  std::shared_ptr<io_loop> loop;
  /// Whether the server started and stops the loop itself.
  bool own_loop;
  std::vector<std::unique_ptr<port>> ports;

  impl(std::shared_ptr<server_shared> s, std::shared_ptr<io_loop> l)
    : shared(std::move(s)),
      loop(l ? std::move(l)
             : std::make_shared<io_loop>(shared->params.io_threads)),
      own_loop(!l) {
    shared->backlog = &loop->backlog();
  }

  uint16_t listen(const std::string& address, uint16_t number, mode m) {
    beast::error_code ec;
    auto addr = net::ip::make_address(address, ec);
    if (ec)
      throw std::runtime_error("invalid server.address '" + address
                               + "': " + ec.message());
    tcp::endpoint ep{addr, number};
    auto p = std::make_unique<port>(loop->pool().ioc, m);
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
    p.acceptor.async_accept(net::make_strand(loop->pool().ioc),
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
        start_tls(shared, with_deadline(std::move(socket)),
                  beast::flat_buffer{});
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
                            !tls             ? mode::plain
                            : p.tls_only     ? mode::tls
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
  for (auto& l : impl_->ports)
    net::post(l->acceptor.get_executor(), [l = l.get()] {
      beast::error_code ec;
      l->acceptor.close(ec);
      l->retry_timer.cancel();
    });
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

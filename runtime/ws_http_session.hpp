#pragma once

// Internal to runtime/ws_listener.cpp: HTTP on one accepted connection
// (plain or TLS): GET /healthz and /metrics, the dashboard's files, the
// server API behind its key (and its event stream), and the checks before
// the WebSocket upgrade, which hands the connection to a session.

#include <spdlog/spdlog.h>

#include "runtime/dashboard_assets.hpp"
#include "runtime/http_framing.hpp"
#include "runtime/http_text.hpp"
#include "runtime/process.hpp"
#include "runtime/upgrade_check.hpp"
#include "runtime/ws_detail.hpp"
#include "runtime/ws_event_stream.hpp"

namespace tether::runtime::detail {

// Included by one file only (ws_listener.cpp).
namespace {

/// Event streams open at once (each asks for an overview every interval).
constexpr size_t max_streams = 16;

/// Bytes a connection's read buffer holds at most: a header block (8 KiB)
/// or a chunk line or trailer the parser needs whole fits many times over;
/// one that never ends (`1;aaaa...`) is refused instead of buffered.
constexpr size_t max_buffered_bytes = 64 * 1024;

/// Bytes read and dropped after an answer that closes the connection, so
/// that the client reads the answer instead of a reset (RFC 9112 §9.6).
constexpr size_t max_linger_bytes = 64 * 1024;

/// How long the server waits for the client to stop sending then.
constexpr std::chrono::milliseconds linger_time{1000};

int64_t now_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

/// HTTP on a plain (beast::tcp_stream) or TLS (tls_stream) connection:
/// the endpoints and the checks before the upgrade. `buffer` holds what was
/// read while detecting TLS.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
  http_session(std::shared_ptr<server_shared> shared, Stream stream,
               beast::flat_buffer buffer)
    : shared_(std::move(shared)), stream_(std::move(stream)),
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
      // The bytes read while detecting TLS are the stream's already.
      stream_.async_handshake(
        [self = this->shared_from_this()](beast::error_code ec) {
          if (ec) {
            spdlog::debug("tls handshake failed: {}", ec.message());
            return;
          }
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
    buffer_.max_size(max_buffered_bytes);
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    // A server API body holds one message.
    parser_->body_limit(shared_->params.max_message_bytes + 16 * 1024);
    // The header first: its framing is checked before any body byte is
    // read as a body.
    http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&http_session::on_header,
                                this->shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    if (ec) {
      failed(ec);
      return;
    }
    auto& h = parser_->get();
    request_framing f;
    f.version = h.version();
    for (auto [i, end] = h.equal_range(http::field::transfer_encoding);
         i != end; ++i)
      f.transfer_encodings.emplace_back(i->value().data(), i->value().size());
    f.has_content_length = h.count(http::field::content_length) > 0;
    if (auto problem = framing_problem(f)) {
      refuse(http::status::bad_request, *problem);
      return;
    }
    if (parser_->is_done()) {
      route(parser_->release());
      return;
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read,
                                               this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      failed(ec);
      return;
    }
    route(parser_->release());
  }

  // A request that could not be read: the connection ends, with an answer
  // unless the client left or took too long.
  void failed(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      shutdown_send(stream_); // with TLS, our close_notify first
      return;
    }
    if (ec == beast::error::timeout || ec == net::error::operation_aborted)
      return;
    if (ec == http::error::body_limit)
      refuse(http::status::payload_too_large,
             "the body is larger than limits.max_message_bytes + 16 KiB");
    else if (ec == http::error::header_limit)
      refuse(http::status::request_header_fields_too_large,
             "the request's headers are larger than 8 KiB");
    else if (ec == http::error::buffer_overflow)
      refuse(http::status::bad_request,
             "a chunk line or trailer is longer than 64 KiB");
    else
      refuse(http::status::bad_request, "malformed HTTP request");
  }

  // Answers and closes: after a request whose end is unknown nothing on
  // the connection can be trusted to start a request.
  void refuse(http::status status, std::string_view why) {
    auto word = status == http::status::payload_too_large ? "too_large"
                : status == http::status::request_header_fields_too_large
                  ? "headers_too_large"
                  : "bad_request";
    reply(status, json_error(word, why), false);
  }

  void route(request req) {
    auto target = std::string_view{req.target().data(), req.target().size()};
    auto qmark = target.find('?');
    auto path = target.substr(0, qmark);
    auto query = qmark == std::string_view::npos ? std::string_view{}
                                                 : target.substr(qmark + 1);
    keep_alive_ = req.keep_alive();
    if (!shared_->params.echo_path.empty() && path == shared_->params.echo_path
        && websocket::is_upgrade(req)) {
      // Test-only (test/conformance/): no token, no actor.
      start_echo_session(shared_, std::move(stream_), std::move(req));
      return;
    }
    if (path == shared_->params.ws_path) {
      upgrade(std::move(req), query);
      return;
    }
    if (path.substr(0, 5) == "/api/") {
      api(std::move(req), path, query);
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
    } else if (path == "/dashboard" || path.substr(0, 11) == "/dashboard/") {
      dashboard(path);
    } else {
      reply(http::status::not_found,
            json_error("not_found", "no such path; see /healthz, /metrics, "
                                      + shared_->params.ws_path));
    }
  }

  // The server API: `Authorization: Bearer <key>` of auth.api_keys_file,
  // then the node's hook answers (on an actor's thread: the reply comes
  // back to this session's executor).
  // The dashboard's files. They hold no data: the page asks for a key and
  // reads the server API with it (so the dashboard is off with the API).
  void dashboard(std::string_view path) {
    if (shared_->params.api_keys.empty()) {
      reply(http::status::not_found,
            json_error("not_found", "the dashboard reads the server API, "
                                    "which is off: set auth.api_keys_file"),
            keep_alive_);
      return;
    }
    response res;
    if (path == "/dashboard") {
      res.result(http::status::moved_permanently);
      res.set(http::field::location, "/dashboard/");
      send(std::move(res), keep_alive_, "text/plain");
      return;
    }
    auto name = path.substr(11);
    auto asset = find_dashboard_asset(name.empty() ? "index.html" : name);
    if (!asset) {
      reply(http::status::not_found,
            json_error("not_found", "no such file of the dashboard"),
            keep_alive_);
      return;
    }
    res.result(http::status::ok);
    res.set(http::field::cache_control, "no-cache");
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.body().assign(asset->body.data(), asset->body.size());
    auto type = std::string{asset->content_type} + "; charset=utf-8";
    send(std::move(res), keep_alive_, type.c_str());
  }

  void api(request req, std::string_view path, std::string_view query) {
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
    if (path == "/api/v1/stream") {
      stream(req, query);
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

  // GET /api/v1/stream: the connection becomes an event stream.
  void stream(const request& req, std::string_view query) {
    if (req.method() != http::verb::get) {
      reply(http::status::method_not_allowed,
            json_error("method_not_allowed", "this endpoint is GET "
                                             "/api/v1/stream"),
            keep_alive_);
      return;
    }
    auto interval = stream_interval(query);
    if (interval.count() == 0) {
      reply(http::status::bad_request,
            json_error("bad_request", "interval is milliseconds from 250 "
                                      "to 60000"),
            keep_alive_);
      return;
    }
    if (shared_->streams.load() >= max_streams) {
      response res;
      res.result(http::status::service_unavailable);
      res.set(http::field::retry_after, "10");
      res.body() = json_error("busy", "too many event streams are open ("
                                        + std::to_string(max_streams) + ")");
      send(std::move(res), false, "application/json");
      return;
    }
    std::make_shared<event_stream<Stream>>(shared_, std::move(stream_),
                                           interval)
      ->run();
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
    if (refuse_paced())
      return;
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

  /// A valid upgrade waits while the node drains (until it is over and a
  /// second or two more, when a restarted node is about back: its
  /// admission spreads them then) or beyond server.handshake_rate (at its
  /// slot): 503 with Retry-After in seconds and `retryAfterMs` in the body.
  bool refuse_paced() {
    using namespace std::chrono;
    auto now = steady_clock::now();
    milliseconds wait{0};
    auto reason = actors::reject_reason::draining;
    if (auto ends = shared_->drain_ends.load(); ends != 0) {
      auto left = duration_cast<milliseconds>(
        std::max(nanoseconds{ends} - now.time_since_epoch(), nanoseconds{0}));
      wait = left + seconds{1}
             + milliseconds{static_cast<int64_t>(random_unit() * 1000)};
    } else {
      admission::verdict v;
      {
        std::lock_guard<std::mutex> guard{shared_->admission_mutex};
        v = shared_->handshakes.admit(now, random_unit());
      }
      if (v.admitted)
        return false;
      wait = v.retry_after;
      reason = actors::reject_reason::paced;
    }
    response res;
    res.set(http::field::retry_after,
            std::to_string((wait.count() + 999) / 1000));
    auto body = json_error(
      reason == actors::reject_reason::draining ? "draining" : "paced",
      reason == actors::reject_reason::draining
        ? "the node is draining; come back after Retry-After (elsewhere if "
          "you can), resuming"
        : "too many handshakes at once; come back after Retry-After");
    body.pop_back();
    body += ",\"retryAfterMs\":" + std::to_string(wait.count()) + "}";
    reject(reason, http::status::service_unavailable, std::move(body),
           std::move(res));
    return true;
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
                      [self = this->shared_from_this(),
                       sp](beast::error_code ec, size_t) {
                        if (!ec && sp->keep_alive()) {
                          self->do_read();
                          return;
                        }
                        // With TLS, our close_notify first.
                        if (shutdown_send(self->stream_))
                          self->linger();
                      });
  }

  // After the last answer: what the client still sends is read and
  // dropped (bounded in bytes and time) until it closes, so that closing
  // with unread bytes does not reset the connection before the client
  // read the answer.
  void linger() {
    beast::get_lowest_layer(stream_).expires_after(linger_time);
    linger_buf_.resize(4096);
    drain();
  }

  void drain() {
    stream_.async_read_some(
      net::buffer(linger_buf_),
      [self = this->shared_from_this()](beast::error_code ec, size_t n) {
        self->lingered_ += n;
        if (!ec && self->lingered_ < max_linger_bytes)
          self->drain();
      });
  }

  std::shared_ptr<server_shared> shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  size_t served_ = 0;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  std::vector<char> linger_buf_;
  size_t lingered_ = 0;
};

} // namespace

} // namespace tether::runtime::detail

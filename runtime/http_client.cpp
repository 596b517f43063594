#include "runtime/http_client.hpp"

#include <boost/asio/connect.hpp>

#include "runtime/ws_detail.hpp"

namespace tether::runtime {

using namespace detail;

namespace {

using clock = std::chrono::steady_clock;

/// One request on its own io_context. Every step is asynchronous and
/// bounded by one deadline: the name lookup by a timer, the rest by the
/// stream's expiry (synchronous socket calls would ignore it).
class exchange {
public:
  exchange(const client_options& o, clock::time_point deadline)
    : o_(o), deadline_(deadline) {
    // nop
  }

  http_reply run(const std::string& method, const std::string& body) {
    http_reply out;
    auto ec = resolve_and_connect();
    if (ec) {
      out.error = "cannot connect to " + o_.host + ":" + std::to_string(o_.port)
                  + ": " + describe(ec);
      return out;
    }
    if (!o_.tls)
      return request(tcp_, method, body);
    std::shared_ptr<net::ssl::context> ctx;
    try {
      ctx = make_client_context(o_.ca_file, o_.insecure);
    } catch (const std::exception& e) {
      out.error = e.what();
      return out;
    }
    client_tls_stream tls{std::move(tcp_), *ctx};
    net::ip::make_address(o_.host, ec);
    if (ec) // SNI names hosts, never IP literals
      SSL_set_tlsext_host_name(tls.native_handle(), o_.host.c_str());
    tls.set_verify_callback(net::ssl::host_name_verification(o_.host));
    ec = wait([&](auto done) {
      tls.async_handshake(net::ssl::stream_base::client, done);
    });
    if (ec) {
      out.error = "TLS handshake failed: " + describe(ec);
      return out;
    }
    return request(tls, method, body);
  }

private:
  /// Starts an operation with a completion handler and runs the loop until
  /// it completes; the stream's expiry (or the resolve timer) bounds it.
  template <class Start>
  beast::error_code wait(Start start) {
    beast::error_code result;
    bool done = false;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one() > 0) {
      // one handler at a time until ours ran
    }
    return result;
  }

  beast::error_code resolve_and_connect() {
    net::ip::tcp::resolver resolver{io_};
    net::steady_timer timer{io_};
    timer.expires_at(deadline_);
    bool expired = false;
    timer.async_wait([&](beast::error_code ec) {
      if (!ec) {
        expired = true;
        resolver.cancel();
      }
    });
    net::ip::tcp::resolver::results_type addrs;
    auto ec = wait([&](auto done) {
      resolver.async_resolve(o_.host, std::to_string(o_.port),
                             [&addrs,
                              done](beast::error_code e,
                                    net::ip::tcp::resolver::results_type r) {
                               addrs = std::move(r);
                               done(e);
                             });
    });
    timer.cancel();
    io_.restart();
    io_.poll(); // the cancelled timer's handler
    if (expired)
      return beast::error::timeout;
    if (ec)
      return ec;
    tcp_.expires_at(deadline_);
    return wait([&](auto done) { tcp_.async_connect(addrs, done); });
  }

  template <class Stream>
  http_reply
  request(Stream& stream, const std::string& method, const std::string& body) {
    http::request<http::string_body> req{http::string_to_verb(method),
                                         o_.target, 11};
    req.set(http::field::host, o_.host);
    req.set(http::field::user_agent, "tether/" TETHER_VERSION);
    if (!o_.token.empty())
      req.set(http::field::authorization, "Bearer " + o_.token);
    if (!body.empty())
      req.set(http::field::content_type, "application/json");
    for (auto& [k, v] : o_.headers)
      req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http_reply out;
    auto ec = wait([&](auto done) { http::async_write(stream, req, done); });
    if (ec) {
      out.error = "cannot send the request: " + describe(ec);
      return out;
    }
    // The parser needs a header block or a chunk line whole: a line that
    // never ends must not grow the buffer until the deadline.
    beast::flat_buffer buf;
    buf.max_size(64 * 1024);
    http::response_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(max_answer_bytes);
    // The header alone first: Beast 1.74's eager parse (async_read) goes on
    // into the body after finish_header reported body_limit for a response
    // whose first bytes arrive with its header, and reads it whole.
    ec = wait(
      [&](auto done) { http::async_read_header(stream, buf, parser, done); });
    if (!ec && !parser.is_done())
      ec
        = wait([&](auto done) { http::async_read(stream, buf, parser, done); });
    if (ec == http::error::body_limit) {
      out.error = "the answer is larger than 4 MiB (the client's cap)";
      return out;
    }
    if (ec == http::error::buffer_overflow) {
      out.error = "a line of the answer is longer than 64 KiB";
      return out;
    }
    if (ec) {
      out.error = "no response: " + describe(ec);
      return out;
    }
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    return out;
  }

  std::string describe(beast::error_code ec) const {
    if (ec == beast::error::timeout || ec == net::error::operation_aborted)
      return "timed out after " + std::to_string(o_.timeout.count()) + " ms";
    return ec.message();
  }

  const client_options& o_;
  clock::time_point deadline_;
  net::io_context io_;
  beast::tcp_stream tcp_{io_};
};

} // namespace

http_reply http_call(const client_options& o, const std::string& method,
                     const std::string& body) {
  return exchange{o, clock::now() + o.timeout}.run(method, body);
}

} // namespace tether::runtime

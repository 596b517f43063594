// The blocking-with-deadline client (runtime/ws_client.hpp) over Beast.

#include <boost/asio/connect.hpp>

#include "runtime/ws_client.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime {

using namespace detail;

struct ws_client::impl {
  net::io_context ioc;
  std::shared_ptr<net::ssl::context> tls;
  std::optional<websocket::stream<client_stream>> ws;
  beast::flat_buffer buffer;
  bool reading = false;
  bool read_done = false;
  beast::error_code read_ec;
  std::optional<uint16_t> closed;
  std::string close_reason;
  std::chrono::milliseconds timeout{5000};

  // Runs the io_context until `done` or the deadline; false on timeout.
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        return false;
      if (ioc.stopped())
        ioc.restart();
      ioc.run_one_for(deadline - now);
    }
    return true;
  }

  void mark_closed(const beast::error_code& ec) {
    if (closed)
      return;
    // A received close frame counts even if answering it failed (the server
    // may already have dropped the TCP connection).
    if (ws && ws->reason().code != websocket::close_code::none) {
      closed = static_cast<uint16_t>(ws->reason().code);
      auto& r = ws->reason().reason;
      close_reason.assign(r.data(), r.size());
    } else if (ec == websocket::error::closed)
      closed = 1005;
    else
      closed = 1006;
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {
  // nop
}

ws_client::~ws_client() {
  try {
    abort();
  } catch (...) {
    // Running the aborted handlers failed: the socket is closed already,
    // and a destructor must not throw.
  }
}

ws_client::connect_result ws_client::connect(const client_options& opts) {
  connect_result r;
  auto& i = *impl_;
  i.timeout = opts.timeout;
  i.ws.emplace(i.ioc);
  auto& tcp_layer = beast::get_lowest_layer(*i.ws);
  beast::error_code ec;
  tcp::resolver resolver{i.ioc};
  auto results = resolver.resolve(opts.host, std::to_string(opts.port), ec);
  if (ec) {
    r.error = "resolve: " + ec.message();
    return r;
  }
  bool done = false;
  tcp_layer.expires_after(opts.timeout);
  tcp_layer.async_connect(results, [&](beast::error_code e, auto) {
    ec = e;
    done = true;
  });
  if (!i.run_until([&] { return done; }, opts.timeout) || ec) {
    r.error = "connect: " + (ec ? ec.message() : std::string{"timeout"});
    return r;
  }
  // Small frames must not wait for Nagle's algorithm (and a delayed ACK).
  tcp_layer.socket().set_option(tcp::no_delay{true}, ec);
  if (opts.tls) {
    try {
      i.tls = make_client_context(opts.ca_file, opts.insecure);
    } catch (const std::exception& e) {
      r.error = e.what();
      return r;
    }
    auto& stream = i.ws->next_layer();
    stream.use_tls(*i.tls, opts.host);
    done = false;
    stream.tls()->async_handshake(net::ssl::stream_base::client,
                                  [&](beast::error_code e) {
                                    ec = e;
                                    done = true;
                                  });
    if (!i.run_until([&] { return done; }, opts.timeout) || ec) {
      r.error = "tls: " + (ec ? ec.message() : std::string{"timeout"});
      return r;
    }
  }
  beast::get_lowest_layer(*i.ws).expires_never();
  websocket::stream_base::timeout to{};
  to.handshake_timeout = opts.timeout;
  to.idle_timeout = websocket::stream_base::none();
  to.keep_alive_pings = false;
  i.ws->set_option(to);
  if (opts.deflate) {
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    i.ws->set_option(pmd);
  }
  i.ws->read_message_max(64 * 1024 * 1024);
  std::string target = opts.target;
  if (opts.token_in_query && !opts.token.empty())
    target += (target.find('?') == std::string::npos ? "?token=" : "&token=")
              + opts.token;
  i.ws->set_option(
    websocket::stream_base::decorator([&opts](websocket::request_type& req) {
      if (!opts.token_in_query && !opts.token.empty())
        req.set(http::field::authorization, "Bearer " + opts.token);
      std::string protocols;
      for (auto& p : opts.subprotocols)
        protocols += (protocols.empty() ? "" : ", ") + p;
      if (!protocols.empty())
        req.set(http::field::sec_websocket_protocol, protocols);
      for (auto& [k, v] : opts.headers)
        req.set(k, v);
    }));
  websocket::response_type res;
  done = false;
  i.ws->async_handshake(res, opts.host + ":" + std::to_string(opts.port),
                        target, [&](beast::error_code e) {
                          ec = e;
                          done = true;
                        });
  if (!i.run_until([&] { return done; }, opts.timeout)) {
    r.error = "handshake: timeout";
    return r;
  }
  r.status = static_cast<int>(res.result_int());
  if (ec) {
    r.error = "handshake: " + ec.message();
    r.body = res.body();
    i.closed = 1006;
    return r;
  }
  r.ok = true;
  r.subprotocol = std::string{res[http::field::sec_websocket_protocol]};
  r.deflate = !res[http::field::sec_websocket_extensions].empty();
  return r;
}

bool ws_client::send(std::string_view data, bool binary) {
  auto& i = *impl_;
  if (!i.ws || i.closed)
    return false;
  bool done = false;
  beast::error_code ec;
  i.ws->binary(binary);
  i.ws->async_write(net::buffer(data.data(), data.size()),
                    [&](beast::error_code e, size_t) {
                      ec = e;
                      done = true;
                    });
  if (!i.run_until([&] { return done; }, i.timeout))
    return false;
  // A failed write leaves the close code to the next receive(), which reads
  // the close frame the server may have sent first.
  return !ec;
}

std::optional<client_frame>
ws_client::receive(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (!i.ws || i.closed)
    return std::nullopt;
  if (!i.reading) {
    i.reading = true;
    i.read_done = false;
    i.ws->async_read(i.buffer, [&i](beast::error_code e, size_t) {
      i.read_ec = e;
      i.read_done = true;
    });
  }
  if (!i.run_until([&] { return i.read_done; }, timeout))
    return std::nullopt;
  i.reading = false;
  if (i.read_ec) {
    i.mark_closed(i.read_ec);
    return std::nullopt;
  }
  client_frame f;
  f.binary = i.ws->got_binary();
  f.data = beast::buffers_to_string(i.buffer.data());
  i.buffer.consume(i.buffer.size());
  return f;
}

std::optional<uint16_t> ws_client::close_code() const {
  return impl_->closed;
}

std::string ws_client::close_reason() const {
  return impl_->close_reason;
}

void ws_client::close(uint16_t code) {
  auto& i = *impl_;
  if (!i.ws || i.closed)
    return;
  bool done = false;
  i.ws->async_close(websocket::close_reason{code},
                    [&](beast::error_code) { done = true; });
  i.run_until([&] { return done && (!i.reading || i.read_done); }, i.timeout);
  i.closed = code;
}

void ws_client::abort() {
  auto& i = *impl_;
  if (!i.ws)
    return;
  beast::error_code ec;
  beast::get_lowest_layer(*i.ws).socket().close(ec);
  // Let aborted handlers run so nothing refers to this object afterwards.
  i.run_until([&] { return !i.reading || i.read_done; },
              std::chrono::milliseconds{1000});
  if (!i.closed)
    i.closed = 1006;
  i.ws.reset();
}

} // namespace tether::runtime

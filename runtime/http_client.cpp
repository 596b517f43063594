#include "runtime/http_client.hpp"

#include <boost/asio/connect.hpp>

#include "runtime/ws_detail.hpp"

namespace tether::runtime {

using namespace detail;

namespace {

template <class Stream>
http_reply exchange(Stream& stream, const client_options& o,
                    const std::string& method, const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), o.target,
                                       11};
  req.set(http::field::host, o.host);
  req.set(http::field::user_agent, "tether/" TETHER_VERSION);
  if (!o.token.empty())
    req.set(http::field::authorization, "Bearer " + o.token);
  if (!body.empty())
    req.set(http::field::content_type, "application/json");
  for (auto& [k, v] : o.headers)
    req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http_reply out;
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) {
    out.error = "cannot send the request: " + ec.message();
    return out;
  }
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res, ec);
  if (ec) {
    out.error = "no response: " + ec.message();
    return out;
  }
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  return out;
}

} // namespace

http_reply http_call(const client_options& o, const std::string& method,
                     const std::string& body) {
  http_reply out;
  net::io_context io;
  beast::tcp_stream tcp{io};
  tcp.expires_after(o.timeout);
  beast::error_code ec;
  net::ip::tcp::resolver resolver{io};
  auto addrs = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (!ec)
    tcp.connect(addrs, ec);
  if (ec) {
    out.error = "cannot connect to " + o.host + ":" + std::to_string(o.port)
                + ": " + ec.message();
    return out;
  }
  if (!o.tls)
    return exchange(tcp, o, method, body);
  std::shared_ptr<net::ssl::context> ctx;
  try {
    ctx = make_client_context(o.ca_file, o.insecure);
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  tls_stream tls{std::move(tcp), *ctx};
  net::ip::make_address(o.host, ec);
  if (ec) // SNI names hosts, never IP literals
    SSL_set_tlsext_host_name(tls.native_handle(), o.host.c_str());
  tls.set_verify_callback(net::ssl::host_name_verification(o.host));
  tls.handshake(net::ssl::stream_base::client, ec);
  if (ec) {
    out.error = "TLS handshake failed: " + ec.message();
    return out;
  }
  return exchange(tls, o, method, body);
}

} // namespace tether::runtime

// tls_stream (runtime/ws_detail_tls.hpp), the server's TLS connection, over
// real loopback sockets against Asio's ssl::stream as the client: records
// larger than one, a read and a write pending at once (and a KeyUpdate
// answered while the write waits for a peer that does not read), the
// errors Beast expects at the end of a connection, the handshake deadline,
// garbage instead of a ClientHello, and the heap an idle connection holds.
#define CAF_SUITE runtime.tls_stream

#include <caf/test/unit_test.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include "runtime/tls.hpp"
#include "runtime/ws_detail.hpp"
#include "test/support/temp_dir.hpp"

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer allocator's count (GCC ships no allocator_interface.h).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

using namespace tether::runtime::detail;
using namespace std::chrono_literals;

namespace {

/// Bytes in use on the heap (the sanitizer's allocator under ASan).
size_t heap_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

/// `n` bytes that tell where in the stream each byte was.
std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 31 + seed + i / 251) & 0xFF);
  return s;
}

/// An operation's outcome once it completed.
struct outcome {
  bool done = false;
  beast::error_code ec;
  size_t bytes = 0;

  auto handler() {
    return [this](beast::error_code e, size_t n = 0) {
      done = true;
      ec = e;
      bytes = n;
    };
  }
};

struct tls_pair {
  std::unique_ptr<tls_stream> server;
  std::unique_ptr<client_tls_stream> client;
};

struct fixture {
  tether::test::temp_dir dir;
  net::io_context ioc;
  std::shared_ptr<net::ssl::context> server_ctx;
  std::shared_ptr<net::ssl::context> client_ctx;
  tcp::acceptor acceptor{ioc};

  fixture() {
    tether::runtime::write_dev_certificate(dir.path());
    server_ctx = make_server_context(dir.path() + "/cert.pem",
                                     dir.path() + "/key.pem");
    client_ctx = make_client_context(dir.path() + "/cert.pem", false);
    acceptor.open(tcp::v4());
    acceptor.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
  }

  /// Runs handlers until `done()` holds or nothing happened for a while
  /// (real sockets: a bound, not a measurement); whether it holds.
  template <class Done>
  bool run_until(Done&& done) {
    for (int i = 0; i < 1000000 && !done(); ++i)
      if (ioc.poll_one() == 0 && ioc.run_one_for(200ms) == 0)
        break;
    ioc.restart();
    return done();
  }

  /// Runs what is ready until nothing is (the peers wait on each other).
  void settle() {
    run_until([] { return false; });
  }

  /// A TCP connection: {server side, client side}.
  std::pair<tcp::socket, tcp::socket> tcp_pair() {
    tcp::socket c{ioc};
    c.connect(acceptor.local_endpoint());
    return {acceptor.accept(), std::move(c)};
  }

  /// A TLS connection whose handshakes completed.
  tls_pair established() {
    auto sockets = tcp_pair();
    tls_pair p;
    p.server = std::make_unique<tls_stream>(std::move(sockets.first),
                                            server_ctx->native_handle());
    p.client = std::make_unique<client_tls_stream>(
      beast::tcp_stream{std::move(sockets.second)}, *client_ctx);
    outcome s;
    outcome c;
    p.server->async_handshake(s.handler());
    p.client->async_handshake(net::ssl::stream_base::client, c.handler());
    CAF_REQUIRE(run_until([&] { return s.done && c.done; }));
    CAF_REQUIRE_EQUAL(s.ec, beast::error_code{});
    CAF_REQUIRE_EQUAL(c.ec, beast::error_code{});
    return p;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(tls_stream_tests, fixture)

CAF_TEST(a message of many records crosses both ways at once) {
  auto p = established();
  auto up = pattern(3 << 20, 1);   // client to server
  auto down = pattern(3 << 20, 2); // server to client
  std::string got_up(up.size(), '\0');
  std::string got_down(down.size(), '\0');
  outcome sw;
  outcome sr;
  outcome cw;
  outcome cr;
  net::async_write(*p.server, net::buffer(down), sw.handler());
  net::async_read(*p.server, net::buffer(got_up), sr.handler());
  net::async_write(*p.client, net::buffer(up), cw.handler());
  net::async_read(*p.client, net::buffer(got_down), cr.handler());
  CAF_REQUIRE(
    run_until([&] { return sw.done && sr.done && cw.done && cr.done; }));
  CAF_CHECK_EQUAL(sw.ec, beast::error_code{});
  CAF_CHECK_EQUAL(sr.ec, beast::error_code{});
  CAF_CHECK(got_up == up);
  CAF_CHECK(got_down == down);
  CAF_CHECK_EQUAL(p.server->buffered_bytes(), 0u);
}

CAF_TEST(buffers in pieces go out as one record) {
  auto p = established();
  // A WebSocket frame: a header and its payload in two buffers.
  std::string header = "\x81\x05";
  std::string payload = "hello";
  std::array<net::const_buffer, 2> frame{net::buffer(header),
                                         net::buffer(payload)};
  outcome w;
  p.server->async_write_some(frame, w.handler());
  CAF_REQUIRE(run_until([&] { return w.done; }));
  CAF_CHECK_EQUAL(w.bytes, 7u);
  // The client reads both pieces from one record (one read).
  std::array<char, 64> got{};
  outcome r;
  p.client->async_read_some(net::buffer(got), r.handler());
  CAF_REQUIRE(run_until([&] { return r.done; }));
  CAF_CHECK_EQUAL(std::string(got.data(), r.bytes), header + payload);
}

CAF_TEST(a read and a write wait at once and a key update goes between) {
  auto p = established();
  // The client does not read: the write waits for the socket with at most
  // a record's end in the stream's buffer.
  auto down = pattern(8 << 20, 3);
  outcome w;
  net::async_write(*p.server, net::buffer(down), w.handler());
  settle();
  CAF_REQUIRE(!w.done);
  CAF_CHECK_LESS_OR_EQUAL(p.server->buffered_bytes(),
                          tls_detail::max_record_plaintext + 256);
  // Meanwhile a read completes: the client asks for a key update (TLS
  // 1.3), which the server answers behind the waiting record, and sends.
  std::array<char, 16> got{};
  outcome r;
  p.server->async_read_some(net::buffer(got), r.handler());
  settle();
  CAF_CHECK(!r.done);
  CAF_REQUIRE_EQUAL(SSL_version(p.client->native_handle()), TLS1_3_VERSION);
  CAF_REQUIRE_EQUAL(
    SSL_key_update(p.client->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
  outcome cw;
  net::async_write(*p.client, net::buffer(std::string_view{"ping"}),
                   cw.handler());
  CAF_REQUIRE(run_until([&] { return r.done && cw.done; }));
  CAF_CHECK_EQUAL(r.ec, beast::error_code{});
  CAF_CHECK_EQUAL(std::string(got.data(), r.bytes), "ping");
  CAF_CHECK(!w.done);
  // The client reads everything: the records, the answer in its place.
  std::string got_down(down.size(), '\0');
  outcome cr;
  net::async_read(*p.client, net::buffer(got_down), cr.handler());
  CAF_REQUIRE(run_until([&] { return w.done && cr.done; }));
  CAF_CHECK_EQUAL(w.ec, beast::error_code{});
  CAF_CHECK_EQUAL(cr.ec, beast::error_code{});
  CAF_CHECK(got_down == down);
  CAF_CHECK_EQUAL(p.server->buffered_bytes(), 0u);
  // Both directions still work under the new keys.
  outcome w2;
  net::async_write(*p.server, net::buffer(std::string_view{"pong"}),
                   w2.handler());
  std::array<char, 16> back{};
  outcome cr2;
  p.client->async_read_some(net::buffer(back), cr2.handler());
  CAF_REQUIRE(run_until([&] { return w2.done && cr2.done; }));
  CAF_CHECK_EQUAL(std::string(back.data(), cr2.bytes), "pong");
}

CAF_TEST(a close_notify from the peer is eof and shutdown completes) {
  auto p = established();
  std::array<char, 16> got{};
  outcome r;
  p.server->async_read_some(net::buffer(got), r.handler());
  outcome cs;
  p.client->async_shutdown(cs.handler());
  CAF_REQUIRE(run_until([&] { return r.done; }));
  CAF_CHECK_EQUAL(r.ec, beast::error_code{net::error::eof});
  // Ours answers it: the client's shutdown completes.
  outcome ss;
  p.server->async_shutdown(ss.handler());
  CAF_REQUIRE(run_until([&] { return ss.done && cs.done; }));
  CAF_CHECK_EQUAL(ss.ec, beast::error_code{});
  CAF_CHECK_EQUAL(cs.ec, beast::error_code{});
}

CAF_TEST(a connection closed without close_notify is stream_truncated) {
  auto p = established();
  std::array<char, 16> got{};
  outcome r;
  p.server->async_read_some(net::buffer(got), r.handler());
  settle();
  CAF_REQUIRE(!r.done);
  // A FIN where close_notify should have come first (a closed socket
  // with the session tickets unread would be a reset: connection_reset).
  beast::get_lowest_layer(*p.client).socket().shutdown(
    tcp::socket::shutdown_send);
  CAF_REQUIRE(run_until([&] { return r.done; }));
  CAF_MESSAGE("read: " << r.ec.message());
  CAF_CHECK_EQUAL(r.ec, beast::error_code{net::ssl::error::stream_truncated});
}

CAF_TEST(a handshake not done by the deadline times out) {
  // A client that connects and sends nothing, and one that sends the start
  // of a ClientHello and then nothing (slowloris).
  for (auto sent : {std::string{}, std::string{"\x16\x03\x01\x02\x00\x01"}}) {
    auto sockets = tcp_pair();
    if (!sent.empty())
      net::write(sockets.second, net::buffer(sent));
    tls_stream s{std::move(sockets.first), server_ctx->native_handle()};
    s.expires_after(50ms);
    outcome h;
    s.async_handshake(h.handler());
    CAF_REQUIRE(run_until([&] { return h.done; }));
    CAF_CHECK_EQUAL(h.ec, beast::error_code{beast::error::timeout});
    CAF_CHECK(!s.socket().is_open());
  }
}

CAF_TEST(garbage instead of a ClientHello fails the handshake at once) {
  auto sockets = tcp_pair();
  net::write(sockets.second, net::buffer(std::string_view{
                               "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"}));
  tls_stream s{std::move(sockets.first), server_ctx->native_handle()};
  s.expires_after(60s); // never reached: the first record decides
  outcome h;
  s.async_handshake(h.handler());
  CAF_REQUIRE(run_until([&] { return h.done; }));
  CAF_CHECK(h.ec);
  CAF_CHECK_EQUAL(&h.ec.category(), &net::error::get_ssl_category());
  CAF_MESSAGE("garbage: " << h.ec.message());
  // Reads after a failure fail too.
  std::array<char, 16> got{};
  outcome r;
  s.async_read_some(net::buffer(got), r.handler());
  CAF_REQUIRE(run_until([&] { return r.done; }));
  CAF_CHECK(r.ec);
}

CAF_TEST(bytes read before the handshake are read first) {
  auto sockets = tcp_pair();
  client_tls_stream c{beast::tcp_stream{std::move(sockets.second)},
                      *client_ctx};
  outcome ch;
  c.async_handshake(net::ssl::stream_base::client, ch.handler());
  settle();
  // As the listener's detection does: some bytes read from the socket.
  std::array<char, 5> first{};
  net::read(sockets.first, net::buffer(first));
  CAF_REQUIRE_EQUAL(first[0], '\x16');
  tls_stream s{std::move(sockets.first), server_ctx->native_handle(),
               net::buffer(first)};
  CAF_CHECK_EQUAL(s.buffered_bytes(), 5u);
  outcome sh;
  s.async_handshake(sh.handler());
  CAF_REQUIRE(run_until([&] { return sh.done && ch.done; }));
  CAF_CHECK_EQUAL(sh.ec, beast::error_code{});
  CAF_CHECK_EQUAL(ch.ec, beast::error_code{});
  CAF_CHECK_EQUAL(s.buffered_bytes(), 0u);
}

CAF_TEST(an idle connection holds no record buffer) {
  // Connections that carried a message of more than a record each and now
  // wait with a read pending; the clients hold Asio's fixed buffers, so the
  // servers' share is what the heap gives back when they are destroyed.
  constexpr size_t n = 64;
  std::vector<tls_pair> pairs;
  std::vector<std::array<char, 256>> sinks(n);
  auto message = pattern(40000, 4);
  for (size_t i = 0; i < n; ++i) {
    pairs.push_back(established());
    auto& p = pairs.back();
    std::string got(message.size(), '\0');
    outcome cw;
    outcome sr;
    net::async_write(*p.client, net::buffer(message), cw.handler());
    net::async_read(*p.server, net::buffer(got), sr.handler());
    CAF_REQUIRE(run_until([&] { return cw.done && sr.done; }));
    CAF_REQUIRE(got == message);
    outcome sw;
    net::async_write(*p.server, net::buffer(message), sw.handler());
    CAF_REQUIRE(run_until([&] { return sw.done; }));
  }
  std::vector<outcome> reads(n);
  for (size_t i = 0; i < n; ++i)
    pairs[i].server->async_read_some(net::buffer(sinks[i]), reads[i].handler());
  settle();
  auto with = heap_bytes();
  for (auto& p : pairs)
    p.server.reset();
  settle();
  for (auto& r : reads)
    CAF_CHECK(r.done);
  auto without = heap_bytes();
  CAF_REQUIRE_GREATER_OR_EQUAL(with, without);
  auto per_connection = (with - without) / n;
  CAF_MESSAGE("heap per idle server connection: " << per_connection
                                                  << " bytes");
  // OpenSSL's SSL object after a handshake is about 14 KB (OpenSSL 3.0);
  // one record buffer alone is more than 16 KiB, and Asio's ssl::stream
  // holds four of them.
  CAF_CHECK_LESS(per_connection, 16u * 1024);
}

CAF_TEST(a WebSocket over the stream closes with close_notify) {
  auto p = established();
  websocket::stream<tls_stream> server{std::move(*p.server)};
  websocket::stream<client_tls_stream> client{std::move(*p.client)};
  outcome sa;
  outcome ch;
  server.async_accept([&](beast::error_code ec) { sa.handler()(ec); });
  client.async_handshake("127.0.0.1", "/",
                         [&](beast::error_code ec) { ch.handler()(ec); });
  CAF_REQUIRE(run_until([&] { return sa.done && ch.done; }));
  CAF_REQUIRE_EQUAL(sa.ec, beast::error_code{});
  CAF_REQUIRE_EQUAL(ch.ec, beast::error_code{});
  // A message of many records each way while the other side writes too.
  auto up = pattern(2 << 20, 5);
  auto down = pattern(2 << 20, 6);
  beast::flat_buffer sbuf;
  beast::flat_buffer cbuf;
  outcome sr;
  outcome sw;
  outcome cr;
  outcome cw;
  server.binary(true);
  client.binary(true);
  server.async_read(sbuf, sr.handler());
  server.async_write(net::buffer(down), sw.handler());
  client.async_read(cbuf, cr.handler());
  client.async_write(net::buffer(up), cw.handler());
  CAF_REQUIRE(
    run_until([&] { return sr.done && sw.done && cr.done && cw.done; }));
  CAF_CHECK_EQUAL(sr.ec, beast::error_code{});
  CAF_CHECK_EQUAL(sw.ec, beast::error_code{});
  CAF_CHECK(beast::buffers_to_string(sbuf.data()) == up);
  CAF_CHECK(beast::buffers_to_string(cbuf.data()) == down);
  // The server closes: close frames, then close_notify both ways.
  outcome sc;
  outcome cr2;
  cbuf.consume(cbuf.size());
  client.async_read(cbuf, cr2.handler());
  server.async_close(websocket::close_code::going_away,
                     [&](beast::error_code ec) { sc.handler()(ec); });
  CAF_REQUIRE(run_until([&] { return sc.done && cr2.done; }));
  CAF_CHECK_EQUAL(sc.ec, beast::error_code{});
  CAF_CHECK_EQUAL(cr2.ec, beast::error_code{websocket::error::closed});
  CAF_CHECK(SSL_get_shutdown(server.next_layer().native_handle())
            & SSL_SENT_SHUTDOWN);
}

CAF_TEST_FIXTURE_SCOPE_END()

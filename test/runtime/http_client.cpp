#define CAF_SUITE runtime.http_client
#include <caf/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "runtime/http_client.hpp"

// `tether api`'s one request (runtime/http_client) against servers that
// misbehave: silent, stalling mid-answer, answering without end. Real
// sockets on 127.0.0.1 port 0.

using namespace tether;
using namespace std::chrono_literals;

namespace {

/// A listening socket on 127.0.0.1, port 0. Connections complete in the
/// kernel's backlog whether or not they are accepted; closing the
/// listener resets the ones never accepted.
class stub_server {
public:
  stub_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  ~stub_server() { close_all(); }

  uint16_t port() const { return port_; }

  /// Accepts one connection (bounded by 5 s) and reads what the client
  /// sent first; -1 if none came.
  int accept_one() {
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    auto c = ::accept(fd_, nullptr, nullptr);
    if (c < 0)
      return -1;
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char buf[4096];
    [[maybe_unused]] auto n = ::recv(c, buf, sizeof(buf), 0);
    accepted_ = c;
    return c;
  }

  /// Ends every connection: a client still waiting reads a reset or EOF.
  void close_all() {
    if (accepted_ >= 0)
      ::close(accepted_);
    accepted_ = -1;
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
  int accepted_ = -1;
  uint16_t port_ = 0;
};

runtime::client_options options(uint16_t port, std::chrono::milliseconds t) {
  runtime::client_options o;
  o.host = "127.0.0.1";
  o.port = port;
  o.target = "/api/v1/stats";
  o.token = "k3y-" + std::string(40, 'x');
  o.timeout = t;
  return o;
}

/// Runs the call on its own thread; waits at most `bound` for it. A call
/// still running then is a failure; `srv.close_all()` ends it.
struct timed_call {
  runtime::http_reply reply;
  bool returned = false;
  std::chrono::milliseconds took{0};
};

template <class Before>
timed_call call(stub_server& srv, const runtime::client_options& o,
                std::chrono::milliseconds bound, Before before) {
  timed_call out;
  auto start = std::chrono::steady_clock::now();
  auto f = std::async(std::launch::async,
                      [o] { return runtime::http_call(o, "GET", ""); });
  before();
  out.returned = f.wait_for(bound) == std::future_status::ready;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
  srv.close_all();
  out.reply = f.get();
  return out;
}

} // namespace

CAF_TEST(a silent server is given up on at the timeout) {
  // The probe: `tether api --timeout 2` against a silent server returned
  // after 20 s (synchronous reads ignore the stream's expiry).
  stub_server srv;
  auto r = call(srv, options(srv.port(), 300ms), 5s, [] {});
  CAF_CHECK(r.returned);
  CAF_CHECK_LESS(r.took, 3s);
  CAF_CHECK_EQUAL(r.reply.status, 0);
  CAF_CHECK(r.reply.error.find("timed out") != std::string::npos);
}

CAF_TEST(a server silent in the tls handshake is given up on at the timeout) {
  stub_server srv;
  auto o = options(srv.port(), 300ms);
  o.tls = true;
  o.insecure = true;
  auto r = call(srv, o, 5s, [] {});
  CAF_CHECK(r.returned);
  CAF_CHECK_LESS(r.took, 3s);
  CAF_CHECK_EQUAL(r.reply.status, 0);
  CAF_CHECK(r.reply.error.find("timed out") != std::string::npos);
}

CAF_TEST(a server that stalls mid answer is given up on at the timeout) {
  stub_server srv;
  auto r = call(srv, options(srv.port(), 500ms), 5s, [&srv] {
    auto c = srv.accept_one();
    CAF_REQUIRE(c >= 0);
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":";
    ::send(c, head.data(), head.size(), MSG_NOSIGNAL);
  });
  CAF_CHECK(r.returned);
  CAF_CHECK_LESS(r.took, 3s);
  CAF_CHECK_EQUAL(r.reply.status, 0);
  CAF_CHECK(r.reply.error.find("timed out") != std::string::npos);
}

CAF_TEST(an answer over the cap is refused with a clear error) {
  // The CLI read an answer of any size; 4 MiB is the cap (SPEC §15).
  stub_server srv;
  std::thread writer;
  auto r = call(srv, options(srv.port(), 5000ms), 10s, [&] {
    auto c = srv.accept_one();
    CAF_REQUIRE(c >= 0);
    // Its own descriptor of the connection: close_all() may close the
    // accepted one while it writes.
    writer = std::thread{[w = ::dup(c)] {
      std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5242880\r\n\r\n";
      ::send(w, head.data(), head.size(), MSG_NOSIGNAL);
      std::string block(64 * 1024, 'a');
      // Until all is sent or the client gives up (EPIPE, reset, 5 s).
      for (int i = 0; i < 80; ++i)
        if (::send(w, block.data(), block.size(), MSG_NOSIGNAL) <= 0)
          break;
      ::close(w);
    }};
  });
  writer.join();
  CAF_CHECK(r.returned);
  CAF_CHECK_EQUAL(r.reply.status, 0);
  CAF_CHECK(r.reply.error.find("4 MiB") != std::string::npos);
  // Whatever arrived with the header: Beast 1.74's eager parse read on
  // past the limit when the body's first bytes came with it (a loaded
  // machine: 19 of 30 runs beside a second instance).
  CAF_CHECK_EQUAL(r.reply.body.size(), 0u);
}

CAF_TEST(an answer line without end is refused before the deadline) {
  // A chunk extension that never ends: the parser needs the line whole,
  // so an unbounded read buffer would grow until the deadline.
  stub_server srv;
  std::thread writer;
  auto r = call(srv, options(srv.port(), 4000ms), 10s, [&] {
    auto c = srv.accept_one();
    CAF_REQUIRE(c >= 0);
    writer = std::thread{[w = ::dup(c)] {
      std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "1;";
      ::send(w, head.data(), head.size(), MSG_NOSIGNAL);
      std::string block(64 * 1024, 'a');
      for (int i = 0; i < 32; ++i)
        if (::send(w, block.data(), block.size(), MSG_NOSIGNAL) <= 0)
          break;
      ::close(w);
    }};
  });
  writer.join();
  CAF_CHECK(r.returned);
  CAF_CHECK_LESS(r.took, 3s);
  CAF_CHECK_EQUAL(r.reply.status, 0);
  CAF_CHECK(r.reply.error.find("timed out") == std::string::npos);
  CAF_CHECK(r.reply.error.find("64 KiB") != std::string::npos);
}

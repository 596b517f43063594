// The server WebSocket session (runtime/ws_detail_session.hpp) over Beast's
// in-memory test stream, without sockets: a Beast client on the other end
// upgrades, then the tests drive the session's seam (session_port) and
// watch its events. Read credit (reading pauses at 64 unconsumed frames and
// resumes at 16), the write queue with written notices, the 8 MiB cut-off
// of a peer that does not read, a client's close and a server close.
#define CAF_SUITE runtime.ws_session

#include <caf/test/unit_test.hpp>

#include "test/support/session_test_stream.hpp"

using namespace tether;
using namespace tether::runtime::detail;

namespace {

/// What the connection actor would be told.
struct recording_events final : actors::session_events {
  std::vector<std::string> frames;
  std::vector<uint64_t> written;
  std::vector<uint16_t> closes;

  void on_frame(std::string bytes, bool) override {
    frames.push_back(std::move(bytes));
  }
  void on_written(uint64_t tag) override { written.push_back(tag); }
  void on_closed(uint16_t code) override { closes.push_back(code); }
};

struct fixture {
  net::io_context ioc;
  std::shared_ptr<server_shared> shared = std::make_shared<server_shared>();
  std::shared_ptr<actors::session_port> port;
  std::shared_ptr<recording_events> events
    = std::make_shared<recording_events>();
  std::unique_ptr<websocket::stream<test_stream>> client;

  fixture() {
    spdlog::set_level(spdlog::level::off);
    shared->params.max_message_bytes = 4 << 20;
    shared->params.permessage_deflate = false;
    shared->metrics = std::make_shared<actors::node_metrics>();
    shared->hooks.open = [this](std::shared_ptr<actors::session_port> p) {
      port = p;
      p->attach(events);
    };
    test_stream server{ioc};
    test_stream raw{ioc};
    server.connect(raw);
    client = std::make_unique<websocket::stream<test_stream>>(std::move(raw));
    // The client's upgrade request, read as the listener would, then the
    // session takes the stream over and answers it.
    bool upgraded = false;
    client->async_handshake("127.0.0.1", "/ws",
                            [&](beast::error_code ec) { upgraded = !ec; });
    poll();
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(server, buf, req);
    actors::session_info info;
    info.session_id = "s";
    info.user_id = "alice";
    info.device_id = "phone";
    auto session = std::make_shared<ws_session<test_stream>>(
      shared, std::move(server), info);
    session->run(std::move(req));
    poll();
    CAF_REQUIRE(upgraded);
    CAF_REQUIRE(port != nullptr);
  }

  ~fixture() {
    port.reset();
    if (client)
      beast::get_lowest_layer(*client).close();
    poll();
  }

  /// Runs what is ready, bounded in rounds.
  void poll() {
    for (int i = 0; i < 100000 && ioc.poll() > 0; ++i) {
    }
    ioc.restart();
  }

  void client_send(const std::string& text) {
    bool done = false;
    client->text(true);
    client->async_write(net::buffer(text),
                        [&](beast::error_code ec, size_t) { done = !ec; });
    poll();
    CAF_REQUIRE(done);
  }

  /// The next message the client reads ("" if none is ready).
  std::string client_read() {
    beast::flat_buffer b;
    bool done = false;
    client->async_read(b, [&](beast::error_code ec, size_t) { done = !ec; });
    poll();
    return done ? beast::buffers_to_string(b.data()) : std::string{};
  }

  void send(std::string text, uint64_t tag) {
    port->send(std::make_shared<const std::string>(std::move(text)), false,
               tag);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(ws_session_tests, fixture)

CAF_TEST(frames go both ways and written frames are reported by tag) {
  CAF_CHECK_EQUAL(shared->sessions.load(), 1u);
  client_send("hello");
  CAF_REQUIRE_EQUAL(events->frames.size(), 1u);
  CAF_CHECK_EQUAL(events->frames[0], "hello");
  send("one", 7);
  send("two", 0); // untagged: no notice
  send("three", 9);
  poll();
  CAF_CHECK_EQUAL(client_read(), "one");
  CAF_CHECK_EQUAL(client_read(), "two");
  CAF_CHECK_EQUAL(client_read(), "three");
  CAF_CHECK_EQUAL(events->written, (std::vector<uint64_t>{7, 9}));
}

CAF_TEST(reading pauses at 64 unconsumed frames and resumes at 16) {
  for (int i = 0; i < 100; ++i)
    client_send("m" + std::to_string(i));
  poll();
  // The actor has consumed none: the session stopped reading at 64.
  CAF_CHECK_EQUAL(events->frames.size(), 64u);
  port->consumed(40); // 24 left: above the low mark, still paused
  poll();
  CAF_CHECK_EQUAL(events->frames.size(), 64u);
  port->consumed(10); // 14 left: reading resumes
  poll();
  CAF_REQUIRE_EQUAL(events->frames.size(), 100u);
  for (size_t i = 0; i < events->frames.size(); ++i)
    CAF_CHECK_EQUAL(events->frames[i], "m" + std::to_string(i));
}

CAF_TEST(a peer that does not read is cut off past 8 MiB queued) {
  // Nine 1 MiB frames handed over before any write completes: the queue
  // holds more than 8 MiB, and the session closes as slow consumer.
  for (uint64_t i = 1; i <= 9; ++i)
    send(std::string(1 << 20, 'x'), i);
  poll();
  CAF_REQUIRE_EQUAL(events->closes.size(), 1u);
  CAF_CHECK_EQUAL(events->closes[0],
                  protocol::to_int(protocol::close_code::slow_consumer));
  // The connection actor lets go of its port on the close: nothing else
  // holds the session, and it is gone.
  port.reset();
  poll();
  CAF_CHECK_EQUAL(shared->sessions.load(), 0u);
}

CAF_TEST(eight frames of 1 MiB are within the bound) {
  for (uint64_t i = 1; i <= 8; ++i)
    send(std::string(1 << 20, 'x'), i);
  poll();
  CAF_CHECK(events->closes.empty());
  for (int i = 0; i < 8; ++i)
    CAF_CHECK_EQUAL(client_read().size(), size_t{1} << 20);
  CAF_CHECK_EQUAL(events->written.size(), 8u);
}

CAF_TEST(a close from the client ends the session with its code) {
  bool closed = false;
  client->async_close(websocket::close_code::normal,
                      [&](beast::error_code ec) { closed = !ec; });
  poll();
  CAF_CHECK(closed);
  CAF_CHECK_EQUAL(events->closes, std::vector<uint16_t>{1000});
  // The connection actor lets go of its port on the close: nothing else
  // holds the session, and it is gone.
  port.reset();
  poll();
  CAF_CHECK_EQUAL(shared->sessions.load(), 0u);
}

CAF_TEST(a server close sends queued frames first then the close frame) {
  send("last words", 3);
  port->close(4002, "slow consumer");
  poll();
  CAF_CHECK_EQUAL(client_read(), "last words");
  // The next read sees the close frame with the server's code.
  beast::flat_buffer b;
  beast::error_code got;
  client->async_read(b, [&](beast::error_code ec, size_t) { got = ec; });
  poll();
  CAF_CHECK(got == websocket::error::closed);
  CAF_CHECK_EQUAL(client->reason().code, 4002);
  poll();
  CAF_CHECK_EQUAL(events->closes, std::vector<uint16_t>{4002});
  // The connection actor lets go of its port on the close: nothing else
  // holds the session, and it is gone.
  port.reset();
  poll();
  CAF_CHECK_EQUAL(shared->sessions.load(), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()

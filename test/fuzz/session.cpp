// libFuzzer target: a whole server WebSocket session fed from memory. The
// session of runtime/ws_detail_session.hpp runs over Beast's in-memory test
// stream: a fixed upgrade (the first input byte chooses permessage-deflate
// and the codec), then the rest of the input as the bytes the client sends
// (frames, fragments, control frames, compressed data, garbage). Each
// message read is decoded as the connection actor would and echoed back
// through the session's write path. Properties: no crash, no leak, no UB,
// the session ends and releases itself.

#include "test/support/session_test_stream.hpp"

#include "protocol/codec.hpp"
#include "test/fuzz/fuzz_check.hpp"

namespace {

using namespace tether;
using namespace tether::runtime::detail;

struct echo_events final : actors::session_events {
  std::weak_ptr<actors::session_port> port;
  bool codec_msgpack = false;
  size_t frames = 0;
  bool closed = false;

  void on_frame(std::string bytes, bool binary) override {
    ++frames;
    auto f = protocol::decode(codec_msgpack ? protocol::codec::msgpack
                                            : protocol::codec::json,
                              bytes, protocol::limits{});
    if (auto p = port.lock()) {
      if (f.ok())
        p->send(std::make_shared<const std::string>(std::move(bytes)), binary,
                frames);
      p->consumed(1);
    }
  }
  void on_written(uint64_t) override {}
  void on_closed(uint16_t) override { closed = true; }
};

std::shared_ptr<server_shared> make_shared_state() {
  auto s = std::make_shared<server_shared>();
  s->params.max_message_bytes = 1 << 16;
  s->params.permessage_deflate = true;
  s->metrics = std::make_shared<actors::node_metrics>();
  s->hooks.open = [](std::shared_ptr<actors::session_port> port) {
    auto ev = std::make_shared<echo_events>();
    ev->port = port;
    ev->codec_msgpack = port->info().codec == protocol::codec::msgpack;
    port->attach(ev);
  };
  return s;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  static auto shared = make_shared_state();
  auto mode = data[0];
  net::io_context ioc;
  test_stream server{ioc};
  test_stream client{ioc};
  server.connect(client);
  http::request<http::string_body> req{http::verb::get, "/ws", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  if (mode & 1)
    req.set(http::field::sec_websocket_extensions,
            "permessage-deflate; client_max_window_bits");
  actors::session_info info;
  info.session_id = "fuzz";
  info.user_id = "alice";
  info.device_id = "phone";
  info.codec = (mode & 2) ? protocol::codec::msgpack : protocol::codec::json;
  // What the client sends after the upgrade.
  server.append({reinterpret_cast<const char*>(data + 1), size - 1});
  {
    auto session = std::make_shared<ws_session<test_stream>>(
      shared, std::move(server), info);
    session->run(std::move(req));
  }
  // Everything that is ready, then the client goes away: the session must
  // end (its timers are cancelled) and free itself. Bounded in rounds.
  for (int i = 0; i < 10000 && ioc.poll() > 0; ++i) {
  }
  client.close();
  for (int i = 0; i < 10000 && ioc.poll() > 0; ++i) {
  }
  ioc.restart();
  FUZZ_CHECK(shared->sessions.load() == 0);
  return 0;
}

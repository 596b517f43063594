#define CAF_SUITE integration.lifecycle
#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <future>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "protocol/errc.hpp"
#include "protocol/token.hpp"
#include "runtime/node.hpp"
#include "test/support/http_get.hpp"
#include "test/support/process.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using namespace std::chrono_literals;

CAF_TEST(a graceful stop closes sessions with going away) {
  test_node n;
  auto d = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(d->result.ok);
  auto started = std::chrono::steady_clock::now();
  n.stop();
  CAF_CHECK(std::chrono::steady_clock::now() - started < 5s);
  CAF_CHECK(!d->client.receive(2s).has_value());
  CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 1001);
}

namespace {

// Connects alice's phone to the tetherd of `dir` (a token minted with the
// secret the daemon created there) and reads its welcome.
void connect_phone(runtime::ws_client& client, const std::string& dir,
                   uint16_t port) {
  protocol::token_claims c;
  c.user_id = "alice";
  c.device_id = "phone";
  c.issued_at = now_ms() / 1000;
  c.expires_at = c.issued_at + 600;
  runtime::client_options o;
  o.port = port;
  o.token = protocol::issue_token(
    c, runtime::load_or_create_secret(dir + "/secret.key"));
  CAF_REQUIRE(client.connect(o).ok);
  CAF_REQUIRE(client.receive(3s).has_value()); // welcome
}

} // namespace

CAF_TEST(tetherd drains when told to stop and exits 0) {
  auto dir = make_temp_dir();
  child_process p;
  auto port = start_tetherd(p, dir);
  CAF_REQUIRE(port != 0);
  runtime::ws_client client;
  connect_phone(client, dir, port);
  p.signal(SIGTERM);
  CAF_CHECK(!client.receive(5s).has_value());
  // Closed by the drain: come back within a second, resuming.
  CAF_CHECK_EQUAL(client.close_code().value_or(0), 1012);
  auto back = protocol::drain_retry_after(client.close_reason());
  CAF_CHECK(back && *back < 1000);
  CAF_CHECK_EQUAL(p.wait(10s), 0);
  remove_tree(dir);
}

CAF_TEST(POST api v1 drain drains tetherd and it exits 0) {
  auto dir = make_temp_dir();
  const std::string key = "k3y-" + std::string(40, 'd');
  std::ofstream{dir + "/api.keys"} << "ops " << key << "\n";
  child_process p;
  auto port = start_tetherd(p, dir,
                            {"--auth.api_keys_file", dir + "/api.keys"});
  CAF_REQUIRE(port != 0);
  runtime::ws_client client;
  connect_phone(client, dir, port);
  // Without the key: refused, nothing happens.
  auto anon = http_request(port, "POST", "/api/v1/drain",
                           "Content-Length: 0\r\n");
  CAF_CHECK_EQUAL(anon.status, 401);
  auto r = http_request(port, "POST", "/api/v1/drain",
                        "Authorization: Bearer " + key
                          + "\r\nContent-Length: 0\r\n");
  CAF_CHECK_EQUAL(r.status, 202);
  CAF_CHECK(r.body.find(R"("draining":true)") != std::string::npos);
  CAF_CHECK(!client.receive(5s).has_value());
  CAF_CHECK_EQUAL(client.close_code().value_or(0), 1012);
  CAF_CHECK_EQUAL(p.wait(10s), 0);
  remove_tree(dir);
}

namespace {

// A valid upgrade request for alice's `device`, raw: the answer's headers
// are read as sent.
http_response raw_upgrade(test_node& n, const std::string& device) {
  return http_request(n.port(), "GET", "/ws",
                      "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Authorization: Bearer "
                        + n.token("alice", device, device_type::mobile)
                        + "\r\n");
}

// Retry-After's seconds, or -1.
int retry_after_s(const http_response& r) {
  auto at = r.headers.find("Retry-After: ");
  return at == std::string::npos ? -1 : std::atoi(r.headers.c_str() + at + 13);
}

} // namespace

CAF_TEST(a drain closes sessions with 1012 and turns new ones away) {
  test_node n{[](config::settings& s) { s.server.drain_window = 3s; }};
  auto a = connect_device(n, "alice", "phone", device_type::mobile);
  auto b = connect_device(n, "alice", "laptop", device_type::mobile);
  CAF_REQUIRE(a->result.ok && b->result.ok);
  auto drained = std::async(std::launch::async, [&n] { n.node().drain(); });
  for (auto* d : {a.get(), b.get()}) {
    CAF_CHECK(!d->client.receive(5s).has_value());
    CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 1012);
    auto back = protocol::drain_retry_after(d->client.close_reason());
    CAF_CHECK(back && *back < 1000);
  }
  CAF_REQUIRE(drained.wait_for(10s) == std::future_status::ready);
  // Until the node stops, devices are told to come back after the window
  // (spread over as long again).
  auto r = raw_upgrade(n, "tablet");
  CAF_CHECK_EQUAL(r.status, 503);
  CAF_CHECK(r.body.find(R"("error":"draining")") != std::string::npos);
  auto s = retry_after_s(r);
  CAF_CHECK(s >= 1 && s <= 7);
  CAF_CHECK(r.body.find(R"("retryAfterMs":)") != std::string::npos);
  CAF_CHECK(http_get(n.port(), "/healthz").body.find(R"("status":"draining")")
            != std::string::npos);
  CAF_CHECK(
    http_get(n.port(), "/metrics")
      .body.find(R"(tether_handshakes_rejected_total{reason="draining"} 1)")
    != std::string::npos);
  CAF_CHECK(http_get(n.port(), "/metrics")
              .body.find(R"(tether_connections_closed_total{code="1012"} 2)")
            != std::string::npos);
  n.stop();
}

CAF_TEST(handshakes beyond the rate get 503 with their slot) {
  test_node n{[](config::settings& s) {
    s.server.handshake_rate = 1;
    s.server.handshake_burst = 2;
  }};
  auto a = connect_device(n, "alice", "a", device_type::mobile);
  auto b = connect_device(n, "alice", "b", device_type::mobile);
  CAF_REQUIRE(a->result.ok && b->result.ok);
  // The third within the second: paced, each later one a slot further.
  auto r1 = raw_upgrade(n, "c");
  auto r2 = raw_upgrade(n, "d");
  CAF_CHECK_EQUAL(r1.status, 503);
  CAF_CHECK(r1.body.find(R"("error":"paced")") != std::string::npos);
  CAF_CHECK_EQUAL(r2.status, 503);
  CAF_CHECK(retry_after_s(r1) >= 1);
  CAF_CHECK(retry_after_s(r2) > retry_after_s(r1) - 1);
  CAF_CHECK(
    http_get(n.port(), "/metrics")
      .body.find(R"(tether_handshakes_rejected_total{reason="paced"} 2)")
    != std::string::npos);
  // Pacing counts devices with a valid token only: junk is refused first.
  auto junk = http_request(n.port(), "GET", "/ws",
                           "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Authorization: Bearer nonsense\r\n");
  CAF_CHECK_EQUAL(junk.status, 401);
}

CAF_TEST(tetherd refuses a bad configuration listing every problem) {
  auto dir = make_temp_dir();
  auto ini = dir + "/bad.ini";
  {
    auto fd = ::open(ini.c_str(), O_WRONLY | O_CREAT, 0600);
    std::string text
      = "[server]\nport = none\n[heartbeat]\nping_interval = 1s\n"
        "pong_timeout = 5s\n";
    CAF_REQUIRE(::write(fd, text.data(), text.size()) > 0);
    ::close(fd);
  }
  child_process p;
  CAF_REQUIRE(
    p.start(TETHERD_PATH, {"--config", ini, "--server.io_threads", "65"}));
  CAF_CHECK_EQUAL(p.wait(10s), 2);
  auto err = p.read_stderr(1s);
  CAF_CHECK(err.find("3 problem(s)") != std::string::npos);
  CAF_CHECK(err.find("bad.ini:2: server.port") != std::string::npos);
  CAF_CHECK(err.find("server.io_threads") != std::string::npos);
  CAF_CHECK(err.find("pong_timeout") != std::string::npos);
  remove_tree(dir);
}

CAF_TEST(a session ends with 4501 when its token expires) {
  test_node n{[](config::settings& s) { s.auth.leeway = 0s; }};
  auto o = n.options(n.token("alice", "phone", device_type::mobile, "", 2s));
  runtime::ws_client c;
  CAF_REQUIRE(c.connect(o).ok);
  CAF_REQUIRE(c.receive(3s).has_value());
  CAF_CHECK(!c.receive(5s).has_value());
  CAF_CHECK_EQUAL(c.close_code().value_or(0), 4501);
}

CAF_TEST(a node whose orchestrator fails closes sessions with 1011) {
  // An orchestrator that gives up (its exit handler runs) or is killed (it
  // does not): either way the node sees it, its sessions close with 1011
  // and stop() ends it.
  for (auto reason :
       {caf::exit_reason::unhandled_exception, caf::exit_reason::kill}) {
    test_node n;
    std::promise<std::string> told;
    auto why = told.get_future();
    n.node().on_failure([&](const std::string& w) { told.set_value(w); });
    auto d = connect_device(n, "alice", "phone", device_type::mobile);
    CAF_REQUIRE(d->result.ok);
    auto orch = n.node().orchestrator();
    CAF_REQUIRE(orch != nullptr);
    caf::anon_send_exit(orch, reason);
    CAF_CHECK(!d->client.receive(5s).has_value());
    CAF_CHECK_EQUAL(d->client.close_code().value_or(0), 1011);
    // The session may close before the orchestrator is gone: wait for it.
    CAF_REQUIRE(why.wait_for(5s) == std::future_status::ready);
    CAF_CHECK(!why.get().empty());
    CAF_CHECK(!n.node().failure().empty());
    CAF_CHECK(http_get(n.port(), "/healthz").body.find(R"("status":"failed")")
              != std::string::npos);
    auto started = std::chrono::steady_clock::now();
    n.stop();
    CAF_CHECK(std::chrono::steady_clock::now() - started < 5s);
  }
}

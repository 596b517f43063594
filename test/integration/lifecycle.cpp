#define CAF_SUITE integration.lifecycle
#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <future>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

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

CAF_TEST(tetherd exits 0 on SIGTERM after closing sessions with 1001) {
  auto dir = make_temp_dir();
  child_process p;
  auto port = start_tetherd(p, dir);
  CAF_REQUIRE(port != 0);
  // Mint a token with the secret the daemon created in its data dir.
  protocol::token_claims c;
  c.user_id = "alice";
  c.device_id = "phone";
  c.issued_at = now_ms() / 1000;
  c.expires_at = c.issued_at + 600;
  auto secret = runtime::load_or_create_secret(dir + "/secret.key");
  runtime::ws_client client;
  runtime::client_options o;
  o.port = port;
  o.token = protocol::issue_token(c, secret);
  CAF_REQUIRE(client.connect(o).ok);
  CAF_REQUIRE(client.receive(3s).has_value()); // welcome
  p.signal(SIGTERM);
  CAF_CHECK(!client.receive(5s).has_value());
  CAF_CHECK_EQUAL(client.close_code().value_or(0), 1001);
  CAF_CHECK_EQUAL(p.wait(10s), 0);
  remove_tree(dir);
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

#define CAF_SUITE integration.lifecycle
#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/token.hpp"
#include "runtime/node.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using namespace std::chrono_literals;

extern char** environ;

namespace {

/// A tetherd process started by the test; killed (by pid) if still alive.
struct daemon_process {
  pid_t pid = -1;
  int out = -1; // read end of its stdout
  int err = -1; // read end of its stderr

  ~daemon_process() {
    if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0)
      ::close(out);
    if (err >= 0)
      ::close(err);
  }

  bool start(const std::vector<std::string>& args) {
    int outp[2];
    int errp[2];
    if (::pipe(outp) != 0 || ::pipe(errp) != 0)
      return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclose(&fa, outp[0]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    std::vector<char*> argv;
    std::string path = TETHERD_PATH;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(),
                          environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(outp[1]);
    ::close(errp[1]);
    out = outp[0];
    err = errp[0];
    return rc == 0;
  }

  /// Reads `fd` until `needle` appears or `limit` passes.
  static std::string read_until(int fd, const std::string& needle,
                                std::chrono::milliseconds limit) {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (text.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buf[1024];
      auto n = ::read(fd, buf, sizeof(buf));
      if (n <= 0)
        break;
      text.append(buf, static_cast<size_t>(n));
    }
    return text;
  }

  /// Waits for the exit status, bounded; -1 on timeout.
  int wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      auto r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return -1;
      // Bounded poll of the child's state.
      ::poll(nullptr, 0, 10);
    }
  }
};

} // namespace

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
  daemon_process p;
  CAF_REQUIRE(p.start({"--port", "0", "--address", "127.0.0.1", "--data-dir",
                       dir}));
  auto line = daemon_process::read_until(p.out, "\n", 10s);
  auto colon = line.rfind(':');
  CAF_REQUIRE(line.rfind("listening on ", 0) == 0 && colon != std::string::npos);
  auto port = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
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
  ::kill(p.pid, SIGTERM);
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
    std::string text = "[server]\nport = none\n[heartbeat]\nping_interval = 1s\n"
                       "pong_timeout = 5s\n";
    CAF_REQUIRE(::write(fd, text.data(), text.size()) > 0);
    ::close(fd);
  }
  daemon_process p;
  CAF_REQUIRE(p.start({"--config", ini, "--server.io_threads", "0"}));
  CAF_CHECK_EQUAL(p.wait(10s), 2);
  auto err = daemon_process::read_until(p.err, "\x01", 1s);
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

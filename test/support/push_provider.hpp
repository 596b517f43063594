#pragma once

// The stand-in push provider of the tests (push_provider.mjs: Node's own
// http2 server over TLS with a development certificate, or plain
// HTTP/1.1), started and ended by the test, and the requests it printed.
// With credentials it also speaks APNs, Google OAuth and FCM HTTP v1 and
// writes the credentials a node needs to its dir (apns.p8,
// service-account.json).

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/process.hpp"
#include "runtime/tls.hpp"
#include "test/support/test_node.hpp"

namespace tether::test {

class push_provider {
public:
  explicit push_provider(bool plain = false, bool credentials = false) {
    runtime::write_dev_certificate(dir_);
    std::vector<std::string> args{TETHER_SOURCE_DIR
                                  "/test/support/push_provider.mjs",
                                  "--cert", dir_ + "/cert.pem", "--key",
                                  dir_ + "/key.pem"};
    if (plain)
      args.push_back("--plain");
    if (credentials) {
      args.push_back("--credentials");
      args.push_back(dir_);
    }
    port_ = runtime::start_server(p_, "/usr/bin/node", args);
  }

  ~push_provider() {
    p_.signal(SIGTERM);
    p_.wait(std::chrono::seconds{5});
    remove_tree(dir_);
  }

  push_provider(const push_provider&) = delete;
  push_provider& operator=(const push_provider&) = delete;

  uint16_t port() const noexcept { return port_; }

  /// Its certificate (the CA a client must trust for https).
  std::string cert() const { return dir_ + "/cert.pem"; }

  /// Where it wrote the provider credentials (apns.p8,
  /// service-account.json).
  const std::string& dir() const noexcept { return dir_; }

  std::string url(const std::string& path, bool tls = true) const {
    return (tls ? "https://127.0.0.1:" : "http://127.0.0.1:")
           + std::to_string(port_) + path;
  }

  /// The requests it printed (JSON lines) within `limit`, stopping once
  /// `n` came.
  std::vector<std::string> requests(size_t n, std::chrono::milliseconds limit) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      buf_ += p_.read_stdout_until("\n", std::chrono::milliseconds{200});
      for (auto nl = buf_.find('\n'); nl != std::string::npos && out.size() < n;
           nl = buf_.find('\n')) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.rfind("REQ ", 0) == 0)
          out.push_back(line.substr(4));
      }
    }
    return out;
  }

private:
  std::string dir_ = make_temp_dir();
  runtime::child_process p_;
  uint16_t port_ = 0;
  std::string buf_;
};

} // namespace tether::test

#pragma once

// tetherd processes of the cluster tests: each with its log read as it
// comes (waits match events in it, bounded, instead of sleeping) and the
// cluster flags the tests share.

#include <chrono>
#include <string>
#include <vector>

#include "runtime/cluster_pki.hpp"
#include "runtime/process.hpp"
#include "test/support/http_get.hpp"
#include "test/support/process.hpp"

namespace tether::test {

using namespace std::chrono_literals;

/// Heartbeat and timeout of the cluster tests: a hung or cut-off node is
/// down within 1.2 s; `slack` absorbs a loaded CI machine.
constexpr std::chrono::milliseconds cluster_heartbeat = 200ms;
constexpr std::chrono::milliseconds cluster_timeout = 1000ms;
constexpr std::chrono::milliseconds cluster_slack = 3000ms;

/// The bound of a failure detection: the documented time plus slack.
constexpr std::chrono::milliseconds detection_bound
  = cluster_timeout + cluster_heartbeat + cluster_slack;

/// A test cluster's certificates (SPEC §14.1): its CA, made at once, and
/// one certificate per node id, issued on first use. The nodes of the
/// cluster tests talk mutual TLS, as production nodes off loopback must.
class test_pki {
public:
  explicit test_pki(std::string dir) : dir_(std::move(dir)) {
    runtime::write_cluster_ca(dir_ + "/ca", 30);
  }

  /// The directory of node `id`'s node.pem, node-key.pem and ca.pem.
  std::string node_dir(const std::string& id, int days = 30,
                       int backdate_days = 0) {
    auto out = dir_ + "/node-" + std::to_string(issued_++);
    runtime::node_certificate_request r;
    r.node_id = id;
    r.ca_dir = dir_ + "/ca";
    r.out_dir = out;
    r.days = days;
    r.backdate_days = backdate_days;
    runtime::write_node_certificate(r);
    return out;
  }

  /// The --cluster.tls_* flags of node `id`.
  std::vector<std::string> flags(const std::string& id) {
    return flags_of(node_dir(id));
  }

  /// The flags of the certificate in `dir` (node_dir).
  static std::vector<std::string> flags_of(const std::string& dir) {
    return {"--cluster.tls_cert",  dir + "/node.pem",  "--cluster.tls_key",
            dir + "/node-key.pem", "--cluster.tls_ca", dir + "/ca.pem"};
  }

  const std::string& dir() const noexcept { return dir_; }

private:
  std::string dir_;
  int issued_ = 0;
};

/// Cluster flags of a test node: its port, its certificate (for node id
/// `id`, address:port by default), the short timings, a quick redial, and
/// info logs (member changes are logged at info).
inline std::vector<std::string> cluster_flags(const std::string& address,
                                              uint16_t port, test_pki& pki,
                                              std::string id = {}) {
  if (id.empty())
    id = address + ":" + std::to_string(port);
  auto out = pki.flags(id);
  std::vector<std::string> rest{"--log-level",
                                "info",
                                "--cluster.address",
                                address,
                                "--cluster.port",
                                std::to_string(port),
                                "--cluster.heartbeat_interval",
                                std::to_string(cluster_heartbeat.count())
                                  + "ms",
                                "--cluster.connection_timeout",
                                std::to_string(cluster_timeout.count()) + "ms",
                                "--supervision.backoff_base",
                                "50ms",
                                "--supervision.backoff_cap",
                                "500ms"};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

using runtime::free_ports;

/// One node: its process, HTTP port, cluster address and the log so far.
struct cluster_node {
  child_process p;
  uint16_t http = 0;
  std::string host = "127.0.0.1";
  uint16_t cluster = 0;
  std::string log;
  size_t from = 0; // waits look at the log from here (mark())

  std::string id() const { return host + ":" + std::to_string(cluster); }

  /// A fresh process is about to start: forget the old log.
  void reset_log() {
    log.clear();
    from = 0;
  }

  /// Later waits see only what is logged from now on (before an action
  /// whose events may have happened before, e.g. a second "is down").
  void mark() {
    log += p.read_stderr(std::chrono::milliseconds{0});
    from = log.size();
  }

  /// Waits until the log since the last mark() holds `needle`; events may
  /// come in any order.
  bool wait_log(const std::string& needle, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (log.find(needle, from) != std::string::npos)
        return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      log += p.read_stderr_until(needle, left);
    }
  }

  std::string healthz() { return http_get(http, "/healthz").body; }
};

/// How /healthz lists a member.
inline std::string member_json(const std::string& id,
                               const std::string& state) {
  return R"({"id":")" + id + R"(","address":")" + id + R"(","state":")" + state
         + R"("})";
}

/// mark() on every node: later waits see only what is logged from now on.
template <class Nodes>
void mark_all(Nodes& nodes) {
  for (auto& n : nodes)
    n.mark();
}

/// Waits until every node logged every other as joined; returns what is
/// missing ("" when all joined).
template <class Nodes>
std::string missing_joins(Nodes& nodes, std::chrono::milliseconds limit) {
  for (auto& n : nodes)
    for (auto& m : nodes)
      if (&m != &n && !n.wait_log("cluster: " + m.id() + " joined", limit))
        return n.id() + " did not see " + m.id() + " join:\n" + n.log;
  return {};
}

inline std::chrono::milliseconds
since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t);
}

} // namespace tether::test

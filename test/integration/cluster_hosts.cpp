#define CAF_SUITE cluster.hosts
#include <caf/test/unit_test.hpp>

// "Several hosts": three tetherd processes, each in a network namespace of
// its own with its own address (10.200.0.1-3), joined by veth pairs to a
// bridge in a fourth namespace. The test makes the namespaces and removes
// them; it needs root (CI runs as root) and iproute2 + iptables
// (tools/bootstrap.sh). A partition is iptables DROP inside one namespace.

#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "test/support/cluster_nodes.hpp"
#include "test/support/temp_dir.hpp"

using namespace tether;
using namespace std::chrono_literals;
using test::cluster_node;
using test::detection_bound;
using test::since;

namespace {

constexpr const char* ip_path = "/usr/sbin/ip";
constexpr uint16_t cluster_port = 7400; // the same on every "host"

/// Runs a command to its end (bounded); true if it exited 0.
bool run(const std::string& path, const std::vector<std::string>& args) {
  test::child_process p;
  if (!p.start(path, args))
    return false;
  auto rc = p.wait(10s);
  if (rc != 0)
    CAF_MESSAGE(path << " " << args.front() << " ... exited " << rc << ": "
                     << p.read_stderr(100ms));
  return rc == 0;
}

bool ip(std::vector<std::string> args) {
  return run(ip_path, args);
}

/// Namespaces <prefix>a, b, c (the nodes) and <prefix>s (the switch).
struct hosts {
  std::string prefix = "tth" + std::to_string(::getpid() % 100000);
  std::array<std::string, 3> ns{prefix + "a", prefix + "b", prefix + "c"};
  std::string sw = prefix + "s";
  bool ok = false;

  hosts() {
    ok = ip({"netns", "add", sw})
         && ip({"-n", sw, "link", "add", "br0", "type", "bridge"})
         && ip({"-n", sw, "link", "set", "br0", "up"});
    for (size_t i = 0; ok && i < 3; ++i) {
      auto up = "v" + std::to_string(i) + "s";
      ok
        = ip({"netns", "add", ns[i]})
          && ip({"-n", sw, "link", "add", up, "type", "veth", "peer", "name",
                 "eth0", "netns", ns[i]})
          && ip({"-n", sw, "link", "set", up, "master", "br0"})
          && ip({"-n", sw, "link", "set", up, "up"})
          && ip({"-n", ns[i], "addr", "add", address(i) + "/24", "dev", "eth0"})
          && ip({"-n", ns[i], "link", "set", "eth0", "up"})
          && ip({"-n", ns[i], "link", "set", "lo", "up"});
    }
  }

  ~hosts() {
    for (auto& n : ns)
      ip({"netns", "del", n});
    ip({"netns", "del", sw});
  }

  static std::string address(size_t i) {
    return "10.200.0." + std::to_string(i + 1);
  }

  /// Cuts namespace `i` off the others (both directions), or heals it.
  bool partition(size_t i, bool on) {
    auto op = on ? "-A" : "-D";
    return run(ip_path, {"netns", "exec", ns[i], "iptables", op, "INPUT", "-i",
                         "eth0", "-j", "DROP"})
           && run(ip_path, {"netns", "exec", ns[i], "iptables", op, "OUTPUT",
                            "-o", "eth0", "-j", "DROP"});
  }
};

struct hosts_fixture {
  test::temp_dir dir;
  test::test_pki pki{dir.path() + "/pki"};
  // Declared before the nodes: removed after every process has ended.
  hosts net;
  std::array<cluster_node, 3> nodes;

  hosts_fixture() {
    // CAF_FAIL would abort without removing what was made.
    CAF_CHECK_EQUAL(::geteuid(), 0u); // root: it makes network namespaces
    CAF_CHECK(net.ok);                // iproute2 could make them
  }

  /// Starts node `i` in its namespace; every other node is a seed, as in
  /// config/examples/cluster-*.ini.
  bool start(size_t i) {
    auto& n = nodes[i];
    n.host = hosts::address(i);
    n.cluster = cluster_port;
    n.reset_log();
    std::string seeds;
    for (size_t j = 0; j < 3; ++j)
      if (j != i)
        seeds += (seeds.empty() ? "" : ",") + hosts::address(j) + ":"
                 + std::to_string(cluster_port);
    std::vector<std::string> args{
      "netns",           "exec",
      net.ns[i],         TETHERD_PATH,
      "--port",          "0",
      "--address",       n.host,
      "--data-dir",      dir.path() + "/" + std::to_string(i),
      "--cluster.seeds", seeds};
    auto flags = test::cluster_flags(n.host, cluster_port, pki);
    args.insert(args.end(), flags.begin(), flags.end());
    // `ip netns exec` execs the command: the pid is tetherd's.
    return runtime::start_server(n.p, ip_path, args) != 0;
  }

  /// Waits for `needle` in node `n`'s log; on a miss prints that log (the
  /// tests return then, never abort: the namespaces must be removed).
  bool expect(cluster_node& n, const std::string& needle,
              std::chrono::milliseconds limit) {
    auto found = n.wait_log(needle, limit);
    CAF_CHECK(found);
    if (!found)
      CAF_MESSAGE("missing '" << needle << "' in the log of " << n.id() << ":\n"
                              << n.log);
    return found;
  }

  bool join_all() {
    for (size_t i = 0; i < 3; ++i)
      if (!start(i)) {
        CAF_CHECK_EQUAL(i, 3u); // node i did not start
        return false;
      }
    auto missing = test::missing_joins(nodes, 15s);
    CAF_CHECK_EQUAL(missing, "");
    return missing.empty();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(hosts_tests, hosts_fixture)

CAF_TEST(nodes on three hosts converge and survive a partition and its heal) {
  if (::geteuid() != 0 || !net.ok || !join_all())
    return;
  auto& a = nodes[0];
  auto& b = nodes[1];
  auto& c = nodes[2];
  test::mark_all(nodes);
  auto t0 = std::chrono::steady_clock::now();
  if (!net.partition(2, true)) {
    CAF_CHECK(false); // iptables failed
    return;
  }
  // Both sides see the cut within connection_timeout + heartbeat_interval.
  if (!expect(a, "cluster: " + c.id() + " is down", detection_bound))
    return;
  if (!expect(b, "cluster: " + c.id() + " is down", detection_bound))
    return;
  if (!expect(c, "cluster: " + a.id() + " is down", detection_bound))
    return;
  if (!expect(c, "cluster: " + b.id() + " is down", detection_bound))
    return;
  CAF_MESSAGE("partition seen on both sides after " << since(t0).count()
                                                    << " ms");
  // The majority side keeps its own link.
  CAF_CHECK(a.log.find("cluster: " + b.id() + " is down") == std::string::npos);
  test::mark_all(nodes);
  t0 = std::chrono::steady_clock::now();
  if (!net.partition(2, false)) {
    CAF_CHECK(false); // iptables failed
    return;
  }
  // Healed: the same processes link again (redial after backoff).
  if (!expect(a, "cluster: " + c.id() + " is back", 15s))
    return;
  if (!expect(b, "cluster: " + c.id() + " is back", 15s))
    return;
  if (!expect(c, "cluster: " + a.id() + " is back", 15s))
    return;
  if (!expect(c, "cluster: " + b.id() + " is back", 15s))
    return;
  CAF_MESSAGE("healed after " << since(t0).count() << " ms");
  // A node killed on its host: its peers see it at once; restarted on its
  // data dir, it rejoins as a new incarnation.
  test::mark_all(nodes);
  t0 = std::chrono::steady_clock::now();
  b.p.signal(SIGKILL);
  CAF_CHECK_EQUAL(b.p.wait(5s), 128 + SIGKILL);
  if (!expect(a, "cluster: " + b.id() + " is down", detection_bound))
    return;
  if (!expect(c, "cluster: " + b.id() + " is down", detection_bound))
    return;
  CAF_MESSAGE("SIGKILL seen after " << since(t0).count() << " ms");
  if (!start(1)) {
    CAF_CHECK(false); // the restart failed
    return;
  }
  if (!expect(a, "cluster: " + b.id() + " restarted", 15s))
    return;
  if (!expect(c, "cluster: " + b.id() + " restarted", 15s))
    return;
  if (!expect(b, "cluster: " + a.id() + " joined", 15s))
    return;
  if (!expect(b, "cluster: " + c.id() + " joined", 15s))
    return;
}

CAF_TEST_FIXTURE_SCOPE_END()

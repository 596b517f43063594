#define CAF_SUITE cluster.membership
#include <caf/test/unit_test.hpp>

// Three tetherd processes on 127.0.0.1, each with its own HTTP port (0) and
// cluster port, joined by one seed. Waits read the nodes' logs (an event,
// not a sleep), bounded by the documented detection time plus slack.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>

#include "test/support/http_get.hpp"
#include "test/support/process.hpp"
#include "test/support/temp_dir.hpp"

using namespace tether;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// Heartbeat and timeout of these tests: a hung node is down within 1.2 s.
constexpr auto heartbeat = 200ms;
constexpr auto timeout = 1000ms;
constexpr auto slack = 3000ms; // a loaded CI machine

/// `n` distinct free TCP ports on 127.0.0.1 (held open until all are
/// picked, so none repeats).
std::vector<uint16_t> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      break;
    fds.push_back(fd);
    ports.push_back(ntohs(a.sin_port));
  }
  for (auto fd : fds)
    ::close(fd);
  return ports;
}

/// One node: its process, HTTP port, cluster port and the log read so far.
struct node_proc {
  test::child_process p;
  uint16_t http = 0;
  uint16_t cluster = 0;
  std::string log;
  size_t seen = 0; // log up to here was matched already

  std::string id() const { return "127.0.0.1:" + std::to_string(cluster); }

  /// Waits until the log, past what earlier waits matched, holds `needle`.
  bool wait_log(const std::string& needle, milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto at = log.find(needle, seen); at != std::string::npos) {
        seen = at + needle.size();
        return true;
      }
      auto left = std::chrono::duration_cast<milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      auto more = p.read_stderr_until(needle, left);
      if (more.empty() && std::chrono::steady_clock::now() >= deadline)
        return false;
      log += more;
    }
  }

  std::string healthz() { return test::http_get(http, "/healthz").body; }
};

std::string member(const std::string& id, const std::string& state) {
  return R"({"id":")" + id + R"(","address":")" + id + R"(","state":")"
         + state + R"("})";
}

struct cluster_fixture {
  test::temp_dir dir;
  std::array<node_proc, 3> nodes;
  std::vector<uint16_t> ports = free_ports(3);

  cluster_fixture() { CAF_REQUIRE_EQUAL(ports.size(), 3u); }

  /// Starts node `i` (its data dir is dir/i) with node 0 as its seed.
  bool start(size_t i, std::vector<std::string> extra = {}) {
    auto& n = nodes[i];
    n.cluster = ports[i];
    n.log.clear();
    n.seen = 0;
    std::vector<std::string> args{
      "--log-level", "info", "--cluster.port", std::to_string(ports[i]),
      "--cluster.heartbeat_interval",
      std::to_string(heartbeat.count()) + "ms", "--cluster.connection_timeout",
      std::to_string(timeout.count()) + "ms", "--supervision.backoff_base",
      "50ms", "--supervision.backoff_cap", "500ms"};
    if (i != 0)
      args.insert(args.end(), {"--cluster.seeds",
                               "127.0.0.1:" + std::to_string(ports[0])});
    args.insert(args.end(), extra.begin(), extra.end());
    n.http = test::start_tetherd(n.p, dir.path() + "/" + std::to_string(i),
                                 args);
    return n.http != 0;
  }

  /// Every node lists the three, the others alive.
  void check_converged() {
    for (auto& n : nodes) {
      auto h = n.healthz();
      CAF_CHECK(h.find(R"("node":")" + n.id() + "\"") != std::string::npos);
      for (auto& m : nodes)
        CAF_CHECK(h.find(member(m.id(), &m == &n ? "self" : "alive"))
                  != std::string::npos);
    }
  }

  void join_all() {
    for (size_t i = 0; i < 3; ++i)
      CAF_REQUIRE(start(i));
    // Each learns of the other two: B and C through the seed A.
    for (auto& n : nodes)
      for (auto& m : nodes)
        if (&m != &n)
          CAF_REQUIRE(n.wait_log("cluster: " + m.id() + " joined", 10s));
    check_converged();
  }
};

milliseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(
    std::chrono::steady_clock::now() - t);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_tests, cluster_fixture)

CAF_TEST(three nodes converge and a killed node is seen down then restarted) {
  join_all();
  auto& a = nodes[0];
  auto& b = nodes[1];
  auto& c = nodes[2];
  auto t0 = std::chrono::steady_clock::now();
  c.p.signal(SIGKILL);
  CAF_CHECK_EQUAL(c.p.wait(5s), 128 + SIGKILL);
  // A dead process closes its sockets: seen at once, well within the
  // documented connection_timeout + heartbeat_interval.
  CAF_REQUIRE(a.wait_log("cluster: " + c.id() + " is down", timeout + heartbeat + slack));
  CAF_REQUIRE(b.wait_log("cluster: " + c.id() + " is down", timeout + heartbeat + slack));
  CAF_MESSAGE("SIGKILL seen by both others after " << since(t0).count()
                                                   << " ms");
  CAF_CHECK(a.healthz().find(member(c.id(), "down")) != std::string::npos);
  // Restarted on its data dir and port: a new incarnation.
  CAF_REQUIRE(start(2));
  CAF_REQUIRE(a.wait_log("cluster: " + c.id() + " restarted", 10s));
  CAF_REQUIRE(b.wait_log("cluster: " + c.id() + " restarted", 10s));
  check_converged();
  auto m = test::http_get(a.http, "/metrics").body;
  CAF_CHECK(m.find("tether_cluster_members 3\n") != std::string::npos);
  CAF_CHECK(m.find(R"(tether_cluster_member_changes_total{event="down"} 1)")
            != std::string::npos);
  CAF_CHECK(
    m.find(R"(tether_cluster_member_changes_total{event="restarted"} 1)")
    != std::string::npos);
  CAF_CHECK(m.find(R"(tether_cluster_member_changes_total{event="joined"} 2)")
            != std::string::npos);
}

CAF_TEST(a hung node is seen down by heartbeat and is back when it resumes) {
  join_all();
  auto& a = nodes[0];
  auto& b = nodes[1];
  auto t0 = std::chrono::steady_clock::now();
  b.p.signal(SIGSTOP);
  CAF_REQUIRE(a.wait_log("cluster: " + b.id() + " is down",
                         timeout + heartbeat + slack));
  auto took = since(t0);
  CAF_MESSAGE("a stopped process seen down after " << took.count() << " ms");
  // Not before the peer went quiet for connection_timeout.
  CAF_CHECK_GREATER_OR_EQUAL(took.count(), timeout.count() - heartbeat.count());
  CAF_REQUIRE(nodes[2].wait_log("cluster: " + b.id() + " is down",
                                timeout + heartbeat + slack));
  b.p.signal(SIGCONT);
  // The same process again: its links are dialled again after backoff.
  CAF_REQUIRE(a.wait_log("cluster: " + b.id() + " is back", 10s));
  CAF_REQUIRE(nodes[2].wait_log("cluster: " + b.id() + " is back", 10s));
  CAF_REQUIRE(b.wait_log("cluster: " + a.id() + " is back", 10s));
  check_converged();
}

CAF_TEST(a node joins once its seed comes up and a taken node id is refused) {
  // B starts first: its seed A is not there yet; it keeps dialling.
  CAF_REQUIRE(start(1));
  CAF_REQUIRE(start(0));
  CAF_REQUIRE(nodes[1].wait_log("cluster: " + nodes[0].id() + " joined", 10s));
  CAF_REQUIRE(nodes[0].wait_log("cluster: " + nodes[1].id() + " joined", 10s));
  // C claims A's node id: both refuse it, nobody lists it.
  CAF_REQUIRE(start(2, {"--cluster.node_id", nodes[0].id()}));
  CAF_REQUIRE(nodes[0].wait_log("cluster: refused " + nodes[0].id() + " at "
                                  + "127.0.0.1:" + std::to_string(ports[2]),
                                10s));
  auto h = nodes[0].healthz();
  CAF_CHECK(h.find("127.0.0.1:" + std::to_string(ports[2])) == std::string::npos);
  CAF_CHECK(h.find(member(nodes[1].id(), "alive")) != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()

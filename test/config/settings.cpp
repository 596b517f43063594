#define CAF_SUITE config.settings
#include <caf/test/unit_test.hpp>

#include "config/settings.hpp"

using namespace tether::config;
using namespace std::chrono_literals;

CAF_TEST(the embedded defaults are valid) {
  settings s;
  auto problems = validate(s);
  CAF_CHECK(problems.empty());
  CAF_CHECK_EQUAL(s.server.port, 8080);
  CAF_CHECK_EQUAL(s.secret_path(), "tether-data/secret.key");
  // Every key has a help text.
  for (auto& o : describe(s))
    CAF_CHECK(!o.help.empty());
}

CAF_TEST(flags override with space or equals and shortcuts) {
  auto r
    = load({"--port", "9000", "--data-dir=/tmp/x", "--server.io-threads", "2",
            "--heartbeat.ping_interval", "30s", "--limits.max_ttl", "1h"});
  CAF_CHECK(r.problems.empty());
  CAF_CHECK_EQUAL(r.values.server.port, 9000);
  CAF_CHECK_EQUAL(r.values.node.data_dir, "/tmp/x");
  CAF_CHECK_EQUAL(r.values.server.io_threads, 2u);
  CAF_CHECK(r.values.heartbeat.ping_interval == 30000ms);
  CAF_CHECK(r.values.limits.protocol.max_ttl == 3600000ms);
}

CAF_TEST(every problem is listed at once) {
  auto r = load({"--port", "99999", "--bogus", "1", "--server.io_threads", "65",
                 "--heartbeat.pong_timeout", "1m", "--node.log_level", "loud",
                 "--heartbeat.ping_interval", "fast", "stray"});
  CAF_CHECK_EQUAL(r.problems.size(), 7u);
  for (auto& p : r.problems)
    CAF_MESSAGE(p);
}

CAF_TEST(the scheduler policy is one of three) {
  CAF_CHECK_EQUAL(load({}).values.caf.scheduler_policy, "loops");
  CAF_CHECK(load({"--caf.scheduler_policy", "sharing"}).problems.empty());
  auto r = load({"--caf.scheduler_policy", "io"});
  CAF_REQUIRE_EQUAL(r.problems.size(), 1u);
  CAF_CHECK(r.problems[0].find("loops, sharing or stealing")
            != std::string::npos);
}

CAF_TEST(push settings are checked together) {
  auto ok = load({"--push.webhook_url", "https://hooks.example/push",
                  "--push.webhook_secret_file", "/etc/tether/webhook.key",
                  "--push.min_priority", "critical", "--push.delay", "5s"});
  CAF_CHECK(ok.problems.empty());
  CAF_CHECK(ok.values.push.push.min_priority
            == tether::protocol::priority::critical);
  CAF_CHECK_EQUAL(ok.values.push.push.delay.count(), 5000);
  for (auto& args : std::vector<std::vector<std::string>>{
         {"--push.webhook_url", "https://hooks.example/push"},
         {"--push.webhook_url", "ftp://hooks.example",
          "--push.webhook_secret_file", "/etc/tether/webhook.key"},
         {"--push.delay", "10m"},
         {"--push.min_priority", "urgent"}}) {
    auto r = load(args);
    CAF_REQUIRE_EQUAL(r.problems.size(), 1u);
    CAF_MESSAGE(r.problems[0]);
    CAF_CHECK(r.problems[0].find("push.") != std::string::npos);
  }
}

CAF_TEST(ini files are applied and then overridden by flags) {
  settings s;
  std::vector<std::string> problems;
  apply_ini(s,
            "; comment\n"
            "[server]\n"
            "port = 7000 ; trailing comment\n"
            "allowed_origins = https://a.example, https://b.example\n"
            "[heartbeat]\n"
            "pong_timeout = \"1500ms\"\n"
            "[nope]\n"
            "x = 1\n"
            "garbage line\n",
            "test.ini", problems);
  CAF_CHECK_EQUAL(s.server.port, 7000);
  CAF_CHECK_EQUAL(s.server.allowed_origins.size(), 2u);
  CAF_CHECK(s.heartbeat.pong_timeout == 1500ms);
  CAF_REQUIRE_EQUAL(problems.size(), 2u);
  CAF_CHECK_EQUAL(problems[0].rfind("test.ini:8: ", 0), 0u);
  CAF_CHECK_EQUAL(problems[1].rfind("test.ini:9: ", 0), 0u);
}

CAF_TEST(dumped settings read back to the same values) {
  settings s;
  s.server.port = 1234;
  s.server.allowed_origins = {"https://x.example"};
  s.limits.guard.rate_per_second = 12.5;
  s.server.io_threads = 3;
  s.caf.scheduler_policy = "stealing";
  settings t;
  std::vector<std::string> problems;
  apply_ini(t, to_ini(s), "dump", problems);
  CAF_CHECK(problems.empty());
  CAF_CHECK_EQUAL(to_ini(t), to_ini(s));
}

CAF_TEST(durations need a known unit and the precision of the setting) {
  settings s;
  std::string problem;
  CAF_CHECK(apply(s, "auth.leeway", "2m", problem));
  CAF_CHECK(s.auth.leeway == 120s);
  CAF_CHECK(!apply(s, "auth.leeway", "1500ms", problem));
  CAF_CHECK(!apply(s, "auth.leeway", "3 days", problem));
  CAF_CHECK(apply(s, "auth.leeway", "45", problem));
  CAF_CHECK(s.auth.leeway == 45s);
  // Days, and nothing that overflows.
  CAF_CHECK(apply(s, "store.dead_letter_retention", "30d", problem));
  CAF_CHECK(s.store.dead_letter_retention == std::chrono::hours{720});
  CAF_CHECK(!apply(s, "auth.leeway", "99999999999999999d", problem));
  CAF_CHECK(problem.find("too long") != std::string::npos);
  CAF_CHECK(!apply(s, "auth.leeway", "1w", problem));
  CAF_CHECK(problem.find("ms, s, m, h or d") != std::string::npos);
}

CAF_TEST(durations print in their largest exact unit and read back) {
  settings s;
  auto ini = to_ini(s);
  CAF_CHECK(ini.find("dead_letter_retention = 7d") != std::string::npos);
  CAF_CHECK(ini.find("resume_window = 5m") != std::string::npos);
  CAF_CHECK(ini.find("diff_interval = 250ms") != std::string::npos);
  // A CLI flag reads durations the same way (tether token --ttl 30d).
  std::chrono::seconds ttl{0};
  std::string problem;
  CAF_CHECK(parse_duration("30d", ttl, problem));
  CAF_CHECK(ttl == std::chrono::hours{720});
  CAF_CHECK(!parse_duration("thirty", ttl, problem));
  CAF_CHECK(problem.find("auth.") == std::string::npos);
}

CAF_TEST(cluster settings name this node and check every seed) {
  auto r = load({"--cluster.port", "7401", "--cluster.address", "10.200.0.1",
                 "--cluster.seeds", "10.200.0.2:7401, 10.200.0.3:7401",
                 "--cluster.tls_cert", "n.pem", "--cluster.tls_key", "k.pem",
                 "--cluster.tls_ca", "ca.pem"});
  CAF_CHECK(r.problems.empty());
  CAF_CHECK_EQUAL(r.values.node_id(), "10.200.0.1:7401");
  CAF_CHECK_EQUAL(r.values.cluster.seeds.size(), 2u);
  r.values.cluster.node_id = "east-1";
  CAF_CHECK_EQUAL(r.values.node_id(), "east-1");
  // A single node (port 0) by default.
  CAF_CHECK_EQUAL(settings{}.cluster.port, 0u);
  r = load({"--cluster.port", "7401", "--cluster.address", "0.0.0.0",
            "--cluster.seeds", "nohost, b:0, c:70000, :7401, d:7401",
            "--cluster.heartbeat_interval", "5s"});
  // 0.0.0.0 (also not loopback, without TLS), four bad seeds, a heartbeat
  // not below the timeout.
  CAF_CHECK_EQUAL(r.problems.size(), 7u);
  for (auto& p : r.problems)
    CAF_MESSAGE(p);
  r = load({"--cluster.seeds", "a:7401"});
  CAF_REQUIRE_EQUAL(r.problems.size(), 1u);
  CAF_CHECK_EQUAL(r.problems[0], "cluster.seeds needs cluster.port");
  std::string host, problem;
  uint16_t port = 0;
  CAF_CHECK(parse_endpoint("[::1]:7401", host, port, problem));
  CAF_CHECK_EQUAL(host, "[::1]");
  CAF_CHECK_EQUAL(port, 7401);
}

CAF_TEST(a cluster off loopback needs mutual TLS or an explicit insecure) {
  auto one = [](std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--cluster.port", "7401"});
    return load(flags).problems;
  };
  // Loopback: plain TCP is allowed (one host).
  CAF_CHECK(one({"--cluster.address", "127.0.0.1"}).empty());
  CAF_CHECK(one({"--cluster.address", "localhost"}).empty());
  // Another host's address: refused without certificates...
  auto p = one({"--cluster.address", "10.200.0.1"});
  CAF_REQUIRE_EQUAL(p.size(), 1u);
  CAF_CHECK(p[0].find("cluster.tls_cert, cluster.tls_key and cluster.tls_ca")
            != std::string::npos);
  CAF_CHECK(p[0].find("cluster.insecure") != std::string::npos);
  // ... unless said so.
  CAF_CHECK(
    one({"--cluster.address", "10.200.0.1", "--cluster.insecure", "true"})
      .empty());
  // The three files go together, and exclude insecure.
  CAF_CHECK_EQUAL(
    one({"--cluster.address", "127.0.0.1", "--cluster.tls_cert", "n.pem"})
      .size(),
    1u);
  CAF_CHECK_EQUAL(one({"--cluster.address", "127.0.0.1", "--cluster.tls_cert",
                       "n.pem", "--cluster.tls_key", "k.pem",
                       "--cluster.tls_ca", "ca.pem", "--cluster.insecure",
                       "true"})
                    .size(),
                  1u);
  // The node id is the certificate's CN: 64 characters at most.
  CAF_CHECK_EQUAL(one({"--cluster.address", "127.0.0.1", "--cluster.node_id",
                       std::string(65, 'n'), "--cluster.tls_cert", "n.pem",
                       "--cluster.tls_key", "k.pem", "--cluster.tls_ca",
                       "ca.pem"})
                    .size(),
                  1u);
  CAF_CHECK_EQUAL(one({"--cluster.address", "127.0.0.1",
                       "--cluster.handshake_timeout", "0ms",
                       "--cluster.max_pending_handshakes", "0"})
                    .size(),
                  2u);
}

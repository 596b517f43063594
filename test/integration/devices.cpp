#define CAF_SUITE integration.devices
#include <caf/test/unit_test.hpp>

// Simulated devices against a real tetherd: the `tether devices` CLI as a
// child process (its exit code and --json report), and the FLEET in process
// where a test needs to look inside.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <rapidjson/document.h>

#include "actors/device/fleet_actor.hpp"
#include "protocol/token.hpp"
#include "runtime/ws_client_pool.hpp"
#include "test/support/http_get.hpp"
#include "test/support/poll.hpp"
#include "test/support/process.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using namespace std::chrono_literals;

namespace {

struct tetherd_fixture {
  std::string dir = make_temp_dir();
  child_process server;
  uint16_t port = 0;

  tetherd_fixture() { port = start_tetherd(server, dir); }

  ~tetherd_fixture() {
    server.signal(SIGTERM);
    server.wait(10s);
    remove_tree(dir);
  }

  // Polls /metrics until the server received `n` messages (bounded).
  bool wait_for_messages(uint64_t n, std::chrono::seconds limit) {
    static const std::string key
      = "tether_messages_received_total{kind=\"message\"} ";
    return poll_until(
      [&] {
        auto r = http_get(port, "/metrics");
        auto i = r.body.find(key);
        return i != std::string::npos
               && std::strtoull(r.body.c_str() + i + key.size(), nullptr, 10)
                    >= n;
      },
      limit, 50ms);
  }

  std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(port) + "/ws";
  }

  // Runs `tether devices` with `args` to its end (bounded); returns its exit
  // code and fills `report` from its --json file.
  int run_devices(std::vector<std::string> args, rapidjson::Document& report,
                  std::chrono::seconds limit = 150s) {
    child_process cli;
    if (!start_devices(cli, std::move(args)))
      return -1;
    return finish_devices(cli, report, limit);
  }

  bool start_devices(child_process& cli, std::vector<std::string> args) {
    std::vector<std::string> all{"devices",           "--url", url(),
                                 "--data-dir",        dir,     "--json",
                                 dir + "/report.json"};
    all.insert(all.end(), args.begin(), args.end());
    return cli.start(TETHER_CLI_PATH, all);
  }

  int finish_devices(child_process& cli, rapidjson::Document& report,
                     std::chrono::seconds limit) {
    auto out = cli.read_stdout_until("order violations =", limit);
    auto rc = cli.wait(30s);
    CAF_MESSAGE("tether devices exited with " << rc << ":\n" << out);
    std::ifstream in{dir + "/report.json"};
    std::stringstream text;
    text << in.rdbuf();
    report.Parse(text.str().c_str());
    return rc;
  }
};

uint64_t num(const rapidjson::Document& d, const char* key) {
  auto i = d.FindMember(key);
  return i != d.MemberEnd() && i->value.IsUint64() ? i->value.GetUint64()
                                                   : ~0ull;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(devices_cli, tetherd_fixture)

CAF_TEST(200 devices chat with lost 0 and order intact) {
  CAF_REQUIRE(port != 0);
  rapidjson::Document r;
  auto rc
    = run_devices({"--users", "50", "--devices-per-user", "4", "--duration",
                   "4", "--rate", "2", "--room-share", "0.3"},
                  r);
  CAF_REQUIRE(r.IsObject());
  CAF_CHECK_EQUAL(rc, 0);
  CAF_CHECK_EQUAL(num(r, "devices"), 200u);
  CAF_CHECK(num(r, "sent") > 1000);
  CAF_CHECK_EQUAL(num(r, "accepted"), num(r, "sent"));
  CAF_CHECK_EQUAL(num(r, "lost"), 0u);
  CAF_CHECK_EQUAL(num(r, "order_violations"), 0u);
  CAF_CHECK_EQUAL(num(r, "in_doubt"), 0u);
  CAF_CHECK_EQUAL(num(r, "delivered") + num(r, "gapped"), num(r, "expected"));
  CAF_CHECK(r["ok"].GetBool());
}

CAF_TEST(a reconnect storm ends with every device resumed and lost 0) {
  CAF_REQUIRE(port != 0);
  rapidjson::Document r;
  // Base 600 ms: the first retry of each device waits a uniform draw in
  // [0, 600) ms.
  // The storm comes 4 s into the run: every link lived longer than the
  // 3 s that make it established, so each device starts from the base.
  auto rc = run_devices({"--scenario", "storm", "--users", "25",
                         "--devices-per-user", "4", "--duration", "8", "--rate",
                         "2", "--backoff-base", "600", "--backoff-cap", "5000"},
                        r);
  CAF_REQUIRE(r.IsObject());
  CAF_CHECK_EQUAL(rc, 0);
  CAF_CHECK_EQUAL(num(r, "lost"), 0u);
  CAF_CHECK_EQUAL(num(r, "order_violations"), 0u);
  CAF_CHECK_EQUAL(num(r, "reconnected_devices"), 100u);
  CAF_CHECK_EQUAL(num(r, "resumed_devices"), 100u);
  auto& delays = r["restart_delays_ms"];
  CAF_REQUIRE(delays.IsArray());
  CAF_REQUIRE(delays.Size() >= 100);
  int64_t lo = 1 << 30;
  int64_t hi = 0;
  std::set<int64_t> distinct;
  for (auto& d : delays.GetArray()) {
    auto v = d.GetInt64();
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    distinct.insert(v);
  }
  // Capped by the first window (a reconnect after a storm succeeds at
  // once), and spread over it by the jitter instead of all at once.
  CAF_CHECK(hi < 600);
  CAF_CHECK(hi - lo > 300);
  CAF_CHECK(distinct.size() > 40);
}

CAF_TEST(a flaky network drops every link several times and loses nothing) {
  CAF_REQUIRE(port != 0);
  rapidjson::Document r;
  // 30 devices, a drop every 3 s on average for 15 s: about five each. A
  // link up 1 s after its welcome counts as established, so each drop is
  // followed by a reconnect within the base window, as the shipped
  // clients do; the verdict does not wait for all 30 to be up at once.
  auto rc = run_devices(
    {"--scenario", "flaky", "--users", "10", "--devices-per-user", "3",
     "--duration", "15", "--rate", "2", "--drops-per-minute", "20",
     "--stable-link", "1000", "--backoff-base", "250", "--backoff-cap", "5000"},
    r);
  CAF_REQUIRE(r.IsObject());
  CAF_CHECK_EQUAL(rc, 0);
  CAF_CHECK(r["ok"].GetBool());
  CAF_CHECK_EQUAL(num(r, "lost"), 0u);
  CAF_CHECK_EQUAL(num(r, "order_violations"), 0u);
  CAF_CHECK_EQUAL(num(r, "in_doubt"), 0u);
  CAF_CHECK(num(r, "drops") >= 60);
  // Both kinds of delivery, reported apart: to connected recipients, and
  // after waiting for an absent one.
  CAF_CHECK(r["latency_us"]["count"].GetUint64() > 0);
  CAF_CHECK(r["offline_wait_us"]["count"].GetUint64() > 0);
  // Most reconnects after a drop within the base window (250 ms).
  auto& delays = r["restart_delays_ms"];
  CAF_REQUIRE(delays.IsArray());
  size_t quick = 0;
  for (auto& d : delays.GetArray())
    quick += d.GetInt64() < 250 ? 1 : 0;
  CAF_CHECK(quick * 2 > delays.Size());
  // The drain ended once everything arrived, well within its bound.
  CAF_CHECK(r["drain_seconds"].GetDouble() < 15.0);
}

CAF_TEST(a node restart mid - run recovers with lost 0) {
  CAF_REQUIRE(port != 0);
  child_process cli;
  // Direct messages only: room memberships live in memory and are rebuilt
  // as devices rejoin, so a room message in that window reaches fewer.
  CAF_REQUIRE(
    start_devices(cli, {"--users", "20", "--devices-per-user", "3",
                        "--duration", "8", "--rate", "5", "--room-share", "0",
                        "--backoff-base", "200", "--backoff-cap", "1000"}));
  // Mid-run: once the server has taken 300 messages.
  CAF_REQUIRE(wait_for_messages(300, 30s));
  server.signal(SIGKILL);
  CAF_CHECK_EQUAL(server.wait(10s), 128 + SIGKILL);
  auto again = start_tetherd(server, dir, {"--port", std::to_string(port)});
  CAF_REQUIRE_EQUAL(again, port);
  rapidjson::Document r;
  auto rc = finish_devices(cli, r, 150s);
  CAF_REQUIRE(r.IsObject());
  CAF_CHECK_EQUAL(rc, 0);
  CAF_CHECK_EQUAL(num(r, "lost"), 0u);
  CAF_CHECK_EQUAL(num(r, "order_violations"), 0u);
  CAF_CHECK_EQUAL(num(r, "in_doubt"), 0u);
  CAF_CHECK_EQUAL(num(r, "reconnected_devices"), 60u);
  CAF_CHECK(num(r, "sent") > 500);
}

CAF_TEST(tether send prints the ack and exits by its status) {
  CAF_REQUIRE(port != 0);
  auto send = [&](std::vector<std::string> extra, std::string& out) {
    child_process cli;
    std::vector<std::string> args{"send",       "--url",    url(),
                                  "--data-dir", dir,        "--user",
                                  "alice",      "--device", "phone"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!cli.start(TETHER_CLI_PATH, args))
      return -1;
    out = cli.read_stdout_until("}\n", 20s);
    return cli.wait(20s);
  };
  std::string out;
  CAF_CHECK_EQUAL(send({"--to", "phone", "--payload", R"({"n":1})"}, out), 0);
  CAF_CHECK(out.find(R"("status":"received")") != std::string::npos);
  CAF_CHECK(out.find(R"("recipients":1)") != std::string::npos);
  CAF_CHECK_EQUAL(send({"--to", "nobody"}, out), 1);
  CAF_CHECK(out.find("UNKNOWN_DEVICE") != std::string::npos);
  CAF_CHECK_EQUAL(send({"--to", "phone", "--payload", "{not json"}, out), 2);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

struct fleet_config : caf::actor_system_config {
  fleet_config() {
    add_message_types<caf::id_block::tether_types>();
    set("scheduler.max-threads", size_t{2});
  }
};

// Runs a fleet of `specs` against `node` until `done` holds (bounded).
struct fleet_fixture {
  test_node node;
  fleet_config cfg;
  caf::actor_system sys{cfg};
  runtime::client_pool pool{1};
  std::shared_ptr<actors::fleet_plan> plan
    = std::make_shared<actors::fleet_plan>();
  actors::fleet_actor fleet;

  ~fleet_fixture() {
    if (fleet) {
      caf::scoped_actor self{sys};
      self->request(fleet, 10s, atom::stop_v)
        .receive([](atom::ok) {}, [](caf::error&) {});
      self->send_exit(fleet, caf::exit_reason::user_shutdown);
    }
    pool.stop();
  }

  actors::device_spec device(const std::string& user, const std::string& id,
                             std::string token = {}) {
    actors::device_spec s;
    s.user_id = user;
    s.device_id = id;
    s.token = token.empty()
                ? node.token(user, id, protocol::device_type::mobile)
                : std::move(token);
    return s;
  }

  void start() {
    plan->params.link.port = node.port();
    plan->reconnect.backoff.base = 100ms;
    plan->reconnect.backoff.cap = 200ms;
    plan->counters = std::make_shared<actors::fleet_counters>();
    plan->connect = pool.factory();
    plan->make_memories();
    fleet = sys.spawn(actors::fleet, plan);
  }

  // The fleet's counters, moved by device actors on real sockets.
  bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
    return poll_until(done, limit, 20ms);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(fleet_in_process, fleet_fixture)

CAF_TEST(a terminal close or a final refusal is not retried) {
  plan->devices.push_back(device("alice", "phone"));
  protocol::token_claims bad;
  bad.user_id = "alice";
  bad.device_id = "tablet";
  bad.issued_at = now_ms() / 1000;
  bad.expires_at = bad.issued_at + 60;
  plan->devices.push_back(
    device("alice", "tablet", protocol::issue_token(bad, "not-the-secret")));
  start();
  auto& c = *plan->counters;
  CAF_REQUIRE(wait_for([&] { return c.welcomes.load() == 1; }, 10s));
  // A newer connection of the same device replaces the fleet's (4500).
  auto newer = connect_device(node, "alice", "phone",
                              protocol::device_type::mobile);
  CAF_REQUIRE(newer->result.ok);
  // The fleet counts a device as given up in the same step that decides
  // against a restart, after recording why: once both are counted, no
  // retry can follow and the memories below are final.
  CAF_REQUIRE(wait_for(
    [&] { return c.gave_up.load(std::memory_order_acquire) == 2; }, 10s));
  auto& phone = *plan->memories[0];
  auto& tablet = *plan->memories[1];
  CAF_MESSAGE("phone: " << phone.gave_up << "; tablet: " << tablet.gave_up);
  CAF_CHECK_EQUAL(phone.last_close, 4500);
  CAF_CHECK_EQUAL(phone.gave_up, "close code 4500 is terminal");
  CAF_CHECK_EQUAL(tablet.gave_up, "upgrade refused with HTTP 401");
  CAF_CHECK_EQUAL(c.terminal.load(), 1u);
  CAF_CHECK_EQUAL(c.refused.load(), 1u);
  CAF_CHECK_EQUAL(c.reconnects.load(), 0u);
  CAF_CHECK(phone.restart_delays_ms.empty());
  CAF_CHECK(tablet.restart_delays_ms.empty());
}

CAF_TEST(a dropped link is restarted and resumes where it stopped) {
  plan->devices.push_back(device("bob", "phone"));
  start();
  auto& c = *plan->counters;
  CAF_REQUIRE(wait_for([&] { return c.welcomes.load() == 1; }, 10s));
  caf::anon_send(fleet, atom::drop_v);
  CAF_REQUIRE(wait_for([&] { return c.welcomes.load() == 2; }, 10s));
  CAF_CHECK_EQUAL(c.reconnects.load(), 1u);
  CAF_CHECK_EQUAL(c.resumed.load(), 1u);
  CAF_CHECK_EQUAL(plan->memories[0]->restart_delays_ms.size(), 1u);
  CAF_CHECK(plan->memories[0]->restart_delays_ms[0] < 100);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

// The pids of `pid`'s children (/proc: the list of each of its threads).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  for (auto& task : std::filesystem::directory_iterator{dir, ec}) {
    std::ifstream in{task.path() / "children"};
    for (pid_t c = 0; in >> c;)
      out.push_back(c);
  }
  return out;
}

std::string comm_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/comm"};
  std::string name;
  std::getline(in, name);
  return name;
}

// Whether `pid` runs (gone, or a zombie left to init, does not).
bool running(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size()
         && line[close + 2] != 'Z';
}

} // namespace

CAF_TEST(a tetherd the CLI spawned ends with the CLI however the CLI ends) {
  child_process cli;
  CAF_REQUIRE(
    cli.start(TETHER_CLI_PATH, {"bench", "echo", "--spawn", "--connections",
                                "2", "--rate", "10", "--duration", "60"}));
  pid_t server = 0;
  poll_until(
    [&] {
      for (auto c : children_of(cli.pid()))
        if (comm_of(c) == "tetherd")
          server = c;
      return server != 0;
    },
    20s, 50ms);
  CAF_REQUIRE(server != 0);
  auto spawned_dir = (std::filesystem::temp_directory_path()
                      / ("tether-bench-" + std::to_string(cli.pid())))
                       .string();
  // No destructor of the CLI runs: its server is killed by the kernel
  // (PR_SET_PDEATHSIG), not left running without its owner.
  cli.signal(SIGKILL);
  CAF_CHECK_EQUAL(cli.wait(10s), 128 + SIGKILL);
  CAF_CHECK(poll_until([&] { return !running(server); }, 10s, 20ms));
  if (running(server))
    ::kill(server, SIGKILL); // the test's own leftover, by pid
  remove_tree(spawned_dir);
}

CAF_TEST(apps in the background get their pushes and no others) {
  // tether devices --scenario push: the CLI spawns tetherd with a webhook it
  // serves; apps go to the background (tether.lifecycle, acks held) and
  // come back; every push is checked against what waited (within 800 ms: a
  // loaded CI machine under a sanitizer; a message is still certainly due
  // in the first 1.7 s of a 4 s episode).
  auto dir = make_temp_dir();
  child_process cli;
  std::vector<std::string> args{"devices",
                                "--spawn",
                                "--scenario",
                                "push",
                                "--users",
                                "10",
                                "--devices-per-user",
                                "3",
                                "--duration",
                                "8",
                                "--rate",
                                "2",
                                "--background-every",
                                "2",
                                "--background-for",
                                "4",
                                "--push-delay",
                                "500",
                                "--push-interval",
                                "500",
                                "--push-tolerance",
                                "800",
                                "--json",
                                dir + "/report.json"};
  CAF_REQUIRE(cli.start(TETHER_CLI_PATH, args));
  auto out = cli.read_stdout_until("order violations =", 120s);
  auto rc = cli.wait(30s);
  CAF_MESSAGE("tether devices exited with " << rc << ":\n" << out);
  std::ifstream in{dir + "/report.json"};
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document r;
  r.Parse(text.str().c_str());
  CAF_REQUIRE(r.IsObject() && r.HasMember("pushes"));
  auto& p = r["pushes"];
  CAF_CHECK_EQUAL(rc, 0);
  CAF_CHECK_GREATER(p["sent"].GetUint64(), 10u);
  CAF_CHECK_EQUAL(p["missed"].GetUint64(), 0u);
  CAF_CHECK_EQUAL(p["unnecessary"].GetUint64(), 0u);
  CAF_CHECK_EQUAL(p["refused"].GetUint64(), 0u);
  CAF_CHECK_EQUAL(num(r, "lost"), 0u);
  remove_tree(dir);
}

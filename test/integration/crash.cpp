#define CAF_SUITE integration.crash
#include <caf/test/unit_test.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "protocol/codec.hpp"
#include "protocol/token.hpp"
#include "runtime/node.hpp"
#include "test/support/process.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

struct harness {
  std::string dir = make_temp_dir();
  std::string secret;
  std::set<std::string> acked;    // acked `received` to the sender
  std::multiset<std::string> got; // delivered to the recipient
  uint64_t last_seq = 0;

  ~harness() { remove_tree(dir); }

  runtime::client_options options(uint16_t port, const std::string& device,
                                  device_type type) {
    if (secret.empty())
      secret = runtime::load_or_create_secret(dir + "/secret.key");
    protocol::token_claims c;
    c.user_id = "alice";
    c.device_id = device;
    c.type = type;
    c.issued_at = now_ms() / 1000;
    c.expires_at = c.issued_at + 3600;
    runtime::client_options o;
    o.port = port;
    o.token = protocol::issue_token(c, secret);
    o.timeout = 5s;
    return o;
  }

  // Reads what is there within `wait`: acks for the sender, messages for
  // the recipient (acked cumulatively by seq).
  void absorb(runtime::ws_client& phone, runtime::ws_client* laptop,
              std::chrono::milliseconds wait) {
    for (auto f = phone.receive(wait); f; f = phone.receive(1ms)) {
      auto d = protocol::decode(codec::json, f->data, protocol::limits{});
      if (d.ok() && d.kind == protocol::frame_kind::ack
          && d.ack.status == protocol::ack_status::received)
        acked.insert(d.ack.message_id);
    }
    if (laptop)
      drain(*laptop, wait);
  }

  // Registers `device` (its first connection) and leaves it offline: its
  // messages wait on disk.
  void make_known(uint16_t port, const std::string& device, device_type type) {
    runtime::ws_client once;
    CAF_REQUIRE(once.connect(options(port, device, type)).ok);
    once.receive(3s);
    once.close();
  }

  // Acked messages not delivered (yet), each named in the log.
  size_t missing() const {
    size_t n = 0;
    for (auto& id : acked)
      if (got.count(id) == 0) {
        ++n;
        CAF_MESSAGE("not delivered: " << id);
      }
    return n;
  }

  // After the last restart: drains until every acked message came and a
  // window passed quietly, or 30 s passed (a loaded machine may take more
  // than one window to load the backlog; a lost message ends it there).
  void recover(runtime::ws_client& laptop) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto quiet = drain(laptop, 1500ms) == 0;
      if (quiet && std::all_of(acked.begin(), acked.end(), [this](auto& id) {
            return got.count(id) > 0;
          }))
        return;
    }
  }

  size_t drain(runtime::ws_client& laptop, std::chrono::milliseconds wait) {
    auto r = read_messages(laptop, 100000, wait);
    for (auto& m : r.messages) {
      if (m.type.rfind("tether.", 0) == 0)
        continue;
      got.insert(m.id);
      last_seq = std::max(last_seq, m.seq);
    }
    if (last_seq > 0)
      laptop.send(R"({"messageId":"","status":"received","timestamp":0,"seq":)"
                  + std::to_string(last_seq) + "}");
    return r.messages.size();
  }
};

// The scheduling policy of each thread of `pid` by its name (/proc stat,
// field 41), e.g. {"tether.loop": {0}, "caf.actor": {0, 3}}.
std::map<std::string, std::multiset<int>> thread_policies(pid_t pid) {
  std::map<std::string, std::multiset<int>> out;
  std::error_code ec;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  for (auto& task : std::filesystem::directory_iterator{dir, ec}) {
    std::ifstream in{task.path() / "stat"};
    std::string line;
    std::getline(in, line);
    auto open = line.find('(');
    auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    std::istringstream rest{line.substr(close + 2)};
    std::string field;
    // Fields 3 (state) to 40, then 41: the policy.
    for (int i = 3; i <= 40 && rest >> field; ++i)
      continue;
    int policy = -1;
    if (rest >> policy)
      out[line.substr(open + 1, close - open - 1)].insert(policy);
  }
  return out;
}

} // namespace

CAF_TEST(the store runs as a batch thread and the event loop does not ) {
  // SCHED_BATCH: a request to the store does not preempt the loop that
  // sent it where the two share a core (new devices then register in one
  // commit together instead of one preemption each).
  harness h;
  child_process p;
  auto port = start_tetherd(p, h.dir);
  CAF_REQUIRE(port != 0);
  h.make_known(port, "laptop", device_type::desktop); // the store is up
  auto policies = thread_policies(p.pid());
  for (auto& [name, list] : policies)
    for (auto policy : list)
      CAF_MESSAGE(name << ": policy " << policy);
  CAF_CHECK_EQUAL(policies["caf.actor"].count(SCHED_BATCH), 1u);
  CAF_CHECK(!policies["tether.loop"].empty());
  CAF_CHECK_EQUAL(policies["tether.loop"].count(SCHED_OTHER),
                  policies["tether.loop"].size());
  p.signal(SIGTERM);
  CAF_CHECK_EQUAL(p.wait(10s), 0);
}

CAF_TEST(a kill - 9 between accept and delivery loses nothing that was acked) {
  harness h;
  auto kills = 20;
  if (auto env = std::getenv("TETHER_CRASH_KILLS"))
    kills = std::max(20, std::atoi(env));
  std::minstd_rand rng{20261127};
  size_t sent = 0;
  for (int k = 0; k < kills; ++k) {
    child_process p;
    auto port = start_tetherd(p, h.dir,
                              {"--limits.rate_per_second", "100000",
                               "--limits.rate_burst", "100000"});
    CAF_REQUIRE(port != 0);
    if (k == 0)
      h.make_known(port, "laptop", device_type::desktop);
    runtime::ws_client phone;
    CAF_REQUIRE(
      phone.connect(h.options(port, "phone", device_type::mobile)).ok);
    phone.receive(3s); // welcome
    // Every other round the recipient is online, receiving and acking, so
    // kills also land between delivery and ack.
    std::unique_ptr<runtime::ws_client> laptop;
    if (k % 2 == 1) {
      laptop = std::make_unique<runtime::ws_client>();
      CAF_REQUIRE(
        laptop->connect(h.options(port, "laptop", device_type::desktop)).ok);
    }
    // The first part of the burst is waited for until an ack of it came
    // (so every round keeps acked messages across its kill, whatever the
    // disk's fsync time); the rest is in flight when the kill lands.
    auto burst = 20 + rng() % 40;
    auto settled = 1 + rng() % (burst - 1);
    for (size_t i = 0; i < burst; ++i) {
      if (i == settled) {
        auto before = h.acked.size();
        for (int w = 0; w < 100 && h.acked.size() == before; ++w)
          h.absorb(phone, laptop.get(), 50ms);
      }
      auto m = make_message("k" + std::to_string(k) + "-" + std::to_string(i),
                            "alice", "phone", protocol::target::device);
      m.destination.device_id = "laptop";
      m.optimization.prio = static_cast<protocol::priority>(rng() % 4);
      // Not a check per frame: the log shows the round that failed.
      if (!phone.send(protocol::encode(codec::json, m)))
        CAF_FAIL("round " << k << ": send " << i << " failed");
      ++sent;
    }
    // Some acks in, others in flight: kill now.
    h.absorb(phone, laptop.get(), std::chrono::milliseconds{rng() % 5});
    p.signal(SIGKILL);
    CAF_CHECK_EQUAL(p.wait(10s), 128 + SIGKILL);
    h.absorb(phone, laptop.get(), 50ms);
  }
  // Recovery: a last start, the recipient drains everything.
  child_process p;
  auto port = start_tetherd(p, h.dir);
  CAF_REQUIRE(port != 0);
  runtime::ws_client laptop;
  CAF_REQUIRE(
    laptop.connect(h.options(port, "laptop", device_type::desktop)).ok);
  laptop.receive(3s); // welcome
  h.recover(laptop);
  std::set<std::string> unique(h.got.begin(), h.got.end());
  auto lost = h.missing();
  auto duplicates = h.got.size() - unique.size();
  CAF_MESSAGE("kills=" << kills << " sent=" << sent << " acked="
                       << h.acked.size() << " delivered=" << unique.size()
                       << " lost=" << lost << " duplicates=" << duplicates);
  CAF_CHECK_EQUAL(lost, 0u);
  CAF_CHECK(h.acked.size() > 0u);
  p.signal(SIGTERM);
  CAF_CHECK_EQUAL(p.wait(10s), 0);
}

CAF_TEST(a failing store stops tetherd with status 1
         and a restart delivers every ack) {
  harness h;
  size_t sent = 0;
  auto send_burst = [&](runtime::ws_client& phone, const std::string& prefix,
                        int count) {
    for (int i = 0; i < count; ++i) {
      auto m = make_message(prefix + std::to_string(i), "alice", "phone",
                            protocol::target::device);
      m.destination.device_id = "laptop";
      m.optimization.requires_ack = true;
      if (!phone.send(protocol::encode(codec::json, m)))
        return;
      ++sent;
    }
  };
  child_process p;
  auto port = start_tetherd(p, h.dir);
  CAF_REQUIRE(port != 0);
  h.make_known(port, "laptop", device_type::desktop);
  runtime::ws_client phone;
  CAF_REQUIRE(phone.connect(h.options(port, "phone", device_type::mobile)).ok);
  phone.receive(3s); // welcome
  send_burst(phone, "before-", 20);
  for (int i = 0; i < 20 && h.acked.size() < 20; ++i) // bounded: 20 x 250 ms
    h.absorb(phone, nullptr, 250ms);
  CAF_REQUIRE_EQUAL(h.acked.size(), 20u);
  // From now on no file of the process may grow past one byte: SQLite's
  // next write fails (EFBIG; tetherd ignores SIGXFSZ), as on a full disk.
  rlimit tiny{1, RLIM_INFINITY};
  CAF_REQUIRE(::prlimit(p.pid(), RLIMIT_FSIZE, &tiny, nullptr) == 0);
  send_burst(phone, "after-", 20);
  h.absorb(phone, nullptr, 2s);
  CAF_CHECK_EQUAL(p.wait(15s), 1);
  // Frames written before the failure may still be read (a loaded machine
  // answers late); then the session ends with 1011. Bounded: 50 frames,
  // 2 s each.
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i)
    closed = !phone.receive(2s).has_value();
  CAF_CHECK(closed);
  CAF_CHECK_EQUAL(phone.close_code().value_or(0), 1011);
  auto err = p.read_stderr(1s);
  CAF_CHECK(err.find("node failed") != std::string::npos);
  CAF_CHECK(err.find("store commit failed") != std::string::npos);
  // Restarted on the same data dir: every message acked `received` comes.
  child_process again;
  port = start_tetherd(again, h.dir);
  CAF_REQUIRE(port != 0);
  runtime::ws_client laptop;
  CAF_REQUIRE(
    laptop.connect(h.options(port, "laptop", device_type::desktop)).ok);
  laptop.receive(3s); // welcome
  h.recover(laptop);
  auto lost = h.missing();
  CAF_MESSAGE("sent=" << sent << " acked=" << h.acked.size()
                      << " delivered=" << h.got.size() << " lost=" << lost);
  CAF_CHECK_EQUAL(lost, 0u);
  again.signal(SIGTERM);
  CAF_CHECK_EQUAL(again.wait(10s), 0);
}

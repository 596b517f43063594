#define CAF_SUITE cluster.trust
#include <caf/test/unit_test.hpp>

// The cluster port tried as an attacker on the nodes' network would (SPEC
// §14.1, §14.2): two tetherd processes on 127.0.0.1 with mutual TLS, and
// an intruder in this process: a CAF 0.17 actor system with the middleman
// dialling their cluster port through Tether's transport, with no
// certificate, another CA's, an expired one, or a valid one of its own
// (a member gone bad). Outcomes are read where they show: the nodes'
// /healthz and /metrics, their logs, a device's socket.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/others.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/cluster/relay.hpp"
#include "actors/interfaces.hpp"
#include "protocol/token.hpp"
#include "runtime/cluster_transport.hpp"
#include "test/support/cluster_nodes.hpp"
#include "test/support/poll.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace std::chrono_literals;
using test::cluster_node;

namespace {

// The value of one sample of a node's /metrics (UINT64_MAX if absent).
uint64_t metric(cluster_node& n, const std::string& sample) {
  return test::metric_sample(n.http, sample);
}

uint64_t refused(cluster_node& n, const std::string& reason) {
  return metric(n, "tether_cluster_refused_total{reason=\"" + reason + "\"}");
}

// A CAF 0.17 client that is no node of the cluster: its own actor system
// with the middleman, dialling through Tether's transport with these
// credentials (none: plain TCP).
class intruder {
public:
  explicit intruder(runtime::cluster_transport_params p) {
    cfg_.load<caf::io::middleman>();
    cfg_.add_message_types<caf::id_block::tether_types>();
    cfg_.set("logger.console", caf::atom("none"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    p.handshake_timeout = 3s;
    p.connect_timeout = 3s;
    transport_ = std::make_shared<runtime::cluster_transport>(
      p, std::make_shared<actors::node_metrics>());
    load_error = transport_->load();
    mm_ = transport_->start(*sys_);
    self_ = std::make_unique<caf::scoped_actor>(*sys_);
  }

  ~intruder() {
    self_.reset();
    transport_->stop();
    mm_ = nullptr; // a detached actor: the system waits for its last handle
    sys_.reset();
  }

  /// Dials a cluster port: the gate published there, or why not.
  caf::expected<actors::gate_actor> dial(uint16_t port) {
    caf::expected<actors::gate_actor> out{caf::sec::cannot_connect_to_node};
    self()
      ->request(mm_, 10s, caf::connect_atom_v, std::string{"127.0.0.1"}, port)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>&) {
          out = caf::actor_cast<actors::gate_actor>(std::move(ptr));
        },
        [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// Says hello as `id` (at an address nobody listens on): the error, if
  /// refused.
  caf::error hello(const actors::gate_actor& gate, const std::string& id) {
    actors::member_info me;
    me.node_id = id;
    me.host = "127.0.0.1";
    me.port = 1;
    me.incarnation = 1;
    caf::error out;
    self()
      ->request(gate, 5s, atom::hello_v, me)
      .receive([](actors::member_info&, std::vector<actors::member_info>&) {},
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// A request to the gate: the error it was answered with (none if it
  /// was taken).
  template <class... Ts>
  caf::error ask(const actors::gate_actor& gate, Ts&&... xs) {
    caf::error out;
    self()
      ->request(caf::actor_cast<caf::actor>(gate), 5s, std::forward<Ts>(xs)...)
      .receive([&](caf::error& err) { out = std::move(err); },
               caf::others >>
                 [](caf::message_view&) -> caf::result<caf::message> {
                 return caf::message{};
               });
    return out;
  }

  caf::scoped_actor& self() { return *self_; }

  std::string load_error;

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<runtime::cluster_transport> transport_;
  caf::io::middleman_actor mm_;
  std::unique_ptr<caf::scoped_actor> self_;
};

runtime::cluster_transport_params credentials(const std::string& dir) {
  runtime::cluster_transport_params p;
  p.cert_file = dir + "/node.pem";
  p.key_file = dir + "/node-key.pem";
  p.ca_file = dir + "/ca.pem";
  return p;
}

// The forwarded form of a chat from `src` to alice's laptop.
std::string chat_from(const std::string& user, const std::string& device,
                      const std::string& type = "chat") {
  protocol::mobile_message m;
  m.id = "forged-" + type;
  m.timestamp = test::now_ms();
  m.source.user_id = user;
  m.source.device_id = device;
  m.source.type = protocol::device_type::mobile;
  m.destination.to = protocol::target::device;
  m.destination.device_id = "laptop";
  m.type = type;
  m.payload.raw = R"({"text":"hi"})";
  return actors::forwarded_form(m);
}

actors::device_identity identity(const std::string& user,
                                 const std::string& device) {
  actors::device_identity id;
  id.user_id = user;
  id.device_id = device;
  id.type = protocol::device_type::mobile;
  return id;
}

struct trust_fixture {
  test::temp_dir dir;
  test::test_pki pki{dir.path() + "/pki"};
  std::array<cluster_node, 2> nodes;
  std::vector<uint16_t> ports = test::free_ports(2);
  std::string secret_file = dir.path() + "/secret.key";
  std::string secret = std::string(64, 'k');

  trust_fixture() {
    CAF_REQUIRE_EQUAL(ports.size(), 2u);
    // The nodes' RSS is measured: in a sanitizer build, without the
    // allocator's quarantine of freed blocks (it would count them).
    std::string asan = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
    if (asan.find("quarantine_size_mb") == std::string::npos)
      setenv("ASAN_OPTIONS",
             (asan + (asan.empty() ? "" : ":")
              + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0")
               .c_str(),
             1);
    std::ofstream{secret_file} << secret << "\n";
  }

  /// Where node i's certificate, key and CA are.
  std::array<std::string, 2> tls_dirs;

  bool start(size_t i) {
    auto& n = nodes[i];
    n.cluster = ports[i];
    n.reset_log();
    auto args = test::cluster_flags("127.0.0.1", ports[i], pki);
    for (size_t k = 0; k + 1 < args.size(); ++k)
      if (args[k] == "--cluster.tls_cert")
        tls_dirs[i] = std::filesystem::path{args[k + 1]}.parent_path();
    args.insert(args.end(), {"--auth.secret_file", secret_file,
                             "--cluster.handshake_timeout", "1s"});
    if (i != 0)
      args.insert(args.end(),
                  {"--cluster.seeds", "127.0.0.1:" + std::to_string(ports[0])});
    n.http = test::start_tetherd(n.p, dir.path() + "/" + std::to_string(i),
                                 args);
    return n.http != 0;
  }

  void join_both() {
    CAF_REQUIRE(start(0));
    CAF_REQUIRE(start(1));
    CAF_REQUIRE_EQUAL(test::missing_joins(nodes, 10s), "");
  }

  /// Whether node `i` has one member alive: the other node.
  bool only_the_two(size_t i) {
    auto h = nodes[i].healthz();
    auto& other = nodes[1 - i];
    size_t alive = 0;
    for (auto at = h.find(R"("state":"alive")"); at != std::string::npos;
         at = h.find(R"("state":"alive")", at + 1))
      ++alive;
    auto ok = alive == 1
              && h.find(test::member_json(other.id(), "alive"))
                   != std::string::npos;
    if (!ok)
      CAF_MESSAGE("/healthz of " << nodes[i].id() << ": " << h);
    return ok;
  }

  /// A device of alice connected to node 0 over WebSocket.
  std::unique_ptr<test::test_device> laptop() {
    protocol::token_claims c;
    c.user_id = "alice";
    c.device_id = "laptop";
    c.type = protocol::device_type::desktop;
    c.issued_at = test::now_ms() / 1000;
    c.expires_at = c.issued_at + 3600;
    runtime::client_options o;
    o.port = nodes[0].http;
    o.token = protocol::issue_token(c, secret);
    o.timeout = 5s;
    auto d = std::make_unique<test::test_device>();
    d->result = d->client.connect(o);
    if (d->result.ok)
      d->welcome = d->next();
    return d;
  }
};

// 32 bytes of a BASP header (CAF 0.17: operation, 2 padding bytes, flags,
// payload length, operation data, source and destination actor; network
// byte order): a client handshake announcing `payload` bytes.
std::string basp_header(uint32_t payload) {
  std::string h(32, '\0');
  h[0] = 0x01; // client_handshake
  for (int i = 0; i < 4; ++i)
    h[4 + i] = static_cast<char>((payload >> (24 - 8 * i)) & 0xff);
  h[15] = 1; // operation data
  return h;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_trust_tests, trust_fixture)

CAF_TEST(strangers do not join - no certificate or another CA or expired
         or plain) {
  join_both();
  auto& a = nodes[0];
  auto handshakes = refused(a, "handshake");
  // No certificate at all (plain TCP against the TLS port).
  {
    intruder x{{}};
    auto gate = x.dial(a.cluster);
    CAF_CHECK(!gate);
  }
  // A certificate of another CA, for a node id of this cluster.
  {
    test::test_pki other{dir.path() + "/other"};
    intruder x{credentials(other.node_dir(nodes[1].id()))};
    CAF_CHECK_EQUAL(x.load_error, "");
    CAF_CHECK(!x.dial(a.cluster));
  }
  // An expired certificate of this cluster's CA.
  {
    intruder x{credentials(pki.node_dir("mallory", 1, 3))};
    CAF_CHECK_EQUAL(x.load_error, "");
    CAF_CHECK(!x.dial(a.cluster));
  }
  // Bytes that are no TLS: a BASP header.
  {
    test::raw_socket s{a.cluster};
    CAF_REQUIRE(s.connected());
    CAF_CHECK(s.send(basp_header(256u << 20)));
    CAF_CHECK_EQUAL(s.read({}, 5s), ""); // closed, nothing answered
  }
  CAF_CHECK(test::poll_until(
    [&] { return refused(a, "handshake") >= handshakes + 4; }, 5s, 50ms));
  CAF_CHECK(only_the_two(0));
  CAF_CHECK(only_the_two(1));
  CAF_CHECK(a.wait_log("refused a connection", 1s));
}

CAF_TEST(a node with a certificate for another id is refused) {
  join_both();
  auto& a = nodes[0];
  // Its own check: tetherd refuses to start with another node's
  // certificate.
  {
    cluster_node m;
    auto args = test::cluster_flags("127.0.0.1", test::free_ports(1).at(0), pki,
                                    nodes[1].id());
    args.insert(args.end(), {"--auth.secret_file", secret_file});
    CAF_CHECK_EQUAL(test::start_tetherd(m.p, dir.path() + "/m", args), 0);
    CAF_CHECK_EQUAL(m.p.wait(10s), 1);
    auto err = m.p.read_stderr(1s);
    CAF_CHECK(err.find("is the certificate of node '" + nodes[1].id())
              != std::string::npos);
  }
  // A modified node skips that check: a valid certificate for "mallory",
  // a hello as B.
  intruder x{credentials(pki.node_dir("mallory"))};
  auto gate = x.dial(a.cluster);
  CAF_REQUIRE(gate);
  auto err = x.hello(*gate, nodes[1].id());
  CAF_CHECK(err);
  CAF_CHECK_EQUAL(refused(a, "identity"), 1u);
  // Before a hello nothing is taken.
  CAF_CHECK(x.ask(*gate, atom::overview_v));
  CAF_CHECK(test::poll_until([&] { return refused(a, "unauthenticated") >= 1; },
                             5s, 50ms));
  CAF_CHECK(only_the_two(0));
}

CAF_TEST(cluster certificates reload on a hangup and a bad one is not taken) {
  join_both();
  auto& a = nodes[0];
  namespace fs = std::filesystem;
  // A new certificate for the same node id, from the same CA.
  auto fresh = pki.node_dir(a.id());
  for (auto f : {"node.pem", "node-key.pem"})
    fs::copy_file(fresh + "/" + f, tls_dirs[0] + "/" + f,
                  fs::copy_options::overwrite_existing);
  a.mark();
  a.p.signal(SIGHUP);
  CAF_CHECK(a.wait_log("cluster: reloaded", 5s));
  // A key that is no key: refused, the certificate in use kept.
  std::ofstream{tls_dirs[0] + "/node-key.pem"} << "not a key\n";
  a.mark();
  a.p.signal(SIGHUP);
  CAF_CHECK(a.wait_log("cluster: reload failed", 5s));
  // New links still complete with what it kept.
  intruder x{credentials(pki.node_dir("mallory"))};
  auto gate = x.dial(a.cluster);
  CAF_REQUIRE(gate);
  CAF_CHECK_EQUAL(x.hello(*gate, "mallory"), caf::error{});
  CAF_CHECK(only_the_two(0));
}

CAF_TEST(a member can do only what a member does) {
  join_both();
  auto& a = nodes[0];
  auto& b = nodes[1];
  auto dev = laptop();
  CAF_REQUIRE(dev->result.ok);
  auto enqueued = metric(a, "tether_queue_events_total{event=\"enqueued\"}");
  // A certificate of this cluster: it gets in, as itself.
  intruder x{credentials(pki.node_dir("mallory"))};
  auto gate = x.dial(a.cluster);
  CAF_REQUIRE(gate);
  CAF_REQUIRE_EQUAL(x.hello(*gate, "mallory"), caf::error{});
  // A chat for alice's laptop whose source is bob's phone, sent as from
  // alice's phone; a gap notice from the server: forged.
  CAF_CHECK(x.ask(*gate, atom::forward_v, identity("alice", "phone"),
                  std::vector<std::string>{"laptop"},
                  chat_from("bob", "phone")));
  CAF_CHECK(x.ask(*gate, atom::forward_v, identity("system", "server"),
                  std::vector<std::string>{"laptop"},
                  chat_from("system", "server", "tether.gap")));
  // Alice's phone claimed on B, or on mallory by routes mallory is not the
  // home of; the phone's queue handed to this node, which does not hold it.
  actors::remote_device on_b;
  on_b.id = identity("alice", "phone");
  on_b.node_id = b.id();
  on_b.since_ms = test::now_ms();
  x.self()->send(*gate, atom::devices_v, on_b);
  auto on_m = on_b;
  on_m.node_id = "mallory";
  x.self()->send(*gate, atom::routes_v, std::string{"alice"},
                 std::vector<actors::remote_device>{on_m});
  CAF_CHECK(x.ask(*gate, atom::handover_v, identity("alice", "phone"),
                  uint64_t{0},
                  std::vector<std::string>{chat_from("alice", "phone")}));
  // A member "admin" with a custom status over its limits in room ops.
  actors::presence_row row;
  row.user_id = "admin";
  row.device_id = "console";
  row.has_custom = true;
  row.custom_text = "<b>" + std::string(300, 'x') + "</b>";
  x.self()->send(*gate, atom::presence_v, std::string{"ops"},
                 std::vector<actors::presence_row>{row}, true, false);
  // B said down, and an exit: messages no peer may send.
  x.self()->send(caf::actor_cast<caf::actor>(*gate), atom::unlinked_v,
                 std::string{"127.0.0.1:1"}, b.id());
  x.self()->send_exit(*gate, caf::exit_reason::kill);
  CAF_CHECK(test::poll_until(
    [&] {
      return refused(a, "forged") >= 3 && refused(a, "claim") >= 3
             && refused(a, "unexpected") >= 2;
    },
    5s, 50ms));
  CAF_CHECK_EQUAL(refused(a, "forged"), 3u);
  CAF_CHECK_EQUAL(refused(a, "claim"), 3u);
  // Nothing reached a queue or the device; B is alive; the gate still
  // serves (a second hello of mallory is answered).
  CAF_CHECK_EQUAL(metric(a, "tether_queue_events_total{event=\"enqueued\"}"),
                  enqueued);
  CAF_CHECK_EQUAL(dev->next(500ms), "");
  CAF_CHECK(only_the_two(0));
  CAF_CHECK_EQUAL(x.hello(*gate, "mallory"), caf::error{});
  // And A is alive to B (polled: a 200 ms heartbeat on a loaded machine
  // may time out once, and the link comes back).
  CAF_CHECK(test::poll_until([&] { return only_the_two(1); }, 5s, 50ms));
}

// 32-byte BASP headers announcing 256 MiB, `n` connections one after the
// other.
void send_headers(uint16_t port, int n) {
  for (int i = 0; i < n; ++i) {
    test::raw_socket s{port};
    s.send(basp_header(256u << 20));
    s.read({}, 2s);
  }
}

uint64_t rss_of(cluster_node& n) {
  runtime::process_usage u;
  CAF_REQUIRE(runtime::read_usage(n.p.pid(), u));
  return u.rss_bytes;
}

// The node's RSS once it settled (two readings 300 ms apart within 64 KiB;
// at most 10 s): what it grows by while it finishes starting is not what
// strangers cost.
uint64_t settled_rss(cluster_node& n) {
  auto last = rss_of(n);
  uint64_t now = 0;
  test::poll_until(
    [&] {
      now = rss_of(n);
      auto settled = now <= last + (64u << 10);
      last = now;
      return settled;
    },
    10s, 300ms);
  return now;
}

// 200 strangers at node `a`: 100 connections that say nothing (at most 64
// wait for their handshake, for at most 1 s; the rest are closed at once),
// 60 TLS handshakes without a certificate and 40 BASP headers claiming
// 256 MiB. Returns the node's RSS while the silent ones were still open.
uint64_t strangers(cluster_node& a) {
  std::vector<std::unique_ptr<test::raw_socket>> silent;
  for (int i = 0; i < 100; ++i)
    silent.push_back(std::make_unique<test::raw_socket>(a.cluster));
  {
    intruder x{{}};
    for (int i = 0; i < 60; ++i)
      CAF_CHECK(!x.dial(a.cluster));
  }
  send_headers(a.cluster, 40);
  auto during = rss_of(a);
  // The silent ones are closed by the node: at once past the cap, the rest
  // at their handshake deadline (1 s).
  for (auto& s : silent)
    CAF_CHECK_EQUAL(s->read({}, 5s), "");
  return during;
}

CAF_TEST(strangers cost nothing - 200 of them and a header claiming 256 MiB) {
  join_both();
  auto& a = nodes[0];
  // A first round grows the node once (its allocator's caches for as many
  // connections at once, the multiplexer's tables); the second is what
  // strangers cost.
  auto first = strangers(a);
  refused(a, "busy"); // the HTTP side's first /metrics grows it once too
  auto before = settled_rss(a);
  auto during = strangers(a);
  auto after = settled_rss(a);
  CAF_CHECK_GREATER(refused(a, "busy"), 0u);
  CAF_CHECK_GREATER(refused(a, "timeout"), 0u);
  CAF_CHECK_GREATER_OR_EQUAL(refused(a, "handshake"), 120u);
  CAF_MESSAGE("RSS with the first 200 strangers "
              << first / 1024 << " KiB, settled " << before / 1024
              << " KiB, with 200 more " << during / 1024 << " KiB, settled "
              << after / 1024 << " KiB");
  // Flat: no payload is allocated, a stranger holds a TLS session at most
  // while it waits (64 at once at most), and nothing of it stays.
  CAF_CHECK_LESS(static_cast<int64_t>(std::max(during, after))
                   - static_cast<int64_t>(before),
                 1 << 20);
  CAF_CHECK(only_the_two(0));
}

CAF_TEST(in plain mode a header claiming 256 MiB costs nothing either) {
  // A loopback cluster without certificates: BASP is the first thing a
  // stranger sends, and the transport's payload cap holds there too.
  auto& a = nodes[0];
  a.cluster = ports[0];
  a.http = test::start_tetherd(a.p, dir.path() + "/plain",
                               {"--cluster.address", "127.0.0.1",
                                "--cluster.port", std::to_string(ports[0])});
  CAF_REQUIRE(a.http != 0);
  send_headers(a.cluster, 400);
  refused(a, "oversized"); // the HTTP side's first /metrics grows it once
  auto before = settled_rss(a);
  send_headers(a.cluster, 200);
  auto after = settled_rss(a);
  CAF_CHECK(
    test::poll_until([&] { return refused(a, "oversized") == 600; }, 5s, 50ms));
  CAF_MESSAGE("RSS after 400 headers of 256 MiB "
              << before / 1024 << " KiB, after 200 more " << after / 1024
              << " KiB");
  CAF_CHECK_LESS(static_cast<int64_t>(after) - static_cast<int64_t>(before),
                 1 << 20);
}

CAF_TEST_FIXTURE_SCOPE_END()

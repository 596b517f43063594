#define CAF_SUITE integration.tls
#include <caf/test/unit_test.hpp>

#include <filesystem>

#include "protocol/codec.hpp"
#include "runtime/tls.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

// A node serving TLS and plain on one port with a fresh dev certificate.
struct tls_node {
  std::string certs = make_temp_dir();
  std::unique_ptr<test_node> n;

  explicit tls_node(bool tls_only = false) {
    runtime::write_dev_certificate(certs);
    n = std::make_unique<test_node>([this, tls_only](config::settings& s) {
      s.server.tls_cert = certs + "/cert.pem";
      s.server.tls_key = certs + "/key.pem";
      s.server.tls_only = tls_only;
    });
  }

  ~tls_node() {
    n.reset();
    remove_tree(certs);
  }

  runtime::client_options wss(const std::string& device) const {
    auto o = n->options(n->token("alice", device, device_type::mobile));
    o.tls = true;
    o.ca_file = certs + "/cert.pem";
    return o;
  }
};

} // namespace

CAF_TEST(wss carries a session verified against the dev certificate) {
  tls_node t;
  runtime::ws_client phone;
  auto r = phone.connect(t.wss("phone"));
  CAF_REQUIRE(r.ok);
  auto welcome = phone.receive(3s);
  CAF_REQUIRE(welcome.has_value());
  CAF_CHECK(welcome->data.find("tether.welcome") != std::string::npos);
  // A message to itself comes back over TLS.
  auto m = make_message("over-tls", "alice", "phone", protocol::target::device);
  m.destination.device_id = "phone";
  CAF_REQUIRE(phone.send(protocol::encode(protocol::codec::json, m)));
  auto got = read_messages(phone, 1, 3s);
  CAF_REQUIRE_EQUAL(got.messages.size(), 1u);
  CAF_CHECK_EQUAL(got.messages.front().id, "over-tls");
  // Plain WebSocket on the same port: the first bytes decide.
  auto plain = connect_device(*t.n, "alice", "laptop", device_type::desktop);
  CAF_CHECK(plain->result.ok);
  CAF_CHECK(plain->welcome.find("tether.welcome") != std::string::npos);
}

CAF_TEST(with tls_only plain connections get no answer) {
  tls_node t{true};
  runtime::ws_client ok;
  CAF_CHECK(ok.connect(t.wss("phone")).ok);
  auto plain
    = t.n->options(t.n->token("alice", "laptop", device_type::desktop));
  plain.timeout = 2s;
  runtime::ws_client c;
  auto r = c.connect(plain);
  // No HTTP answer comes back (the port answers a TLS alert at most).
  CAF_CHECK(!r.ok);
  CAF_CHECK_NOT_EQUAL(r.status, 101);
  CAF_MESSAGE("plain client: " << r.error);
  CAF_CHECK_EQUAL(http_get(t.n->port(), "/healthz").status, 0);
}

CAF_TEST(a client that does not trust the certificate is refused) {
  tls_node t;
  auto o = t.wss("phone");
  o.ca_file.clear(); // the system store does not know a self-signed cert
  runtime::ws_client c;
  auto r = c.connect(o);
  CAF_CHECK(!r.ok);
  CAF_MESSAGE("refused: " << r.error);
  CAF_CHECK(r.error.find("certificate verify failed") != std::string::npos);
  // --insecure skips the check (development only).
  o.insecure = true;
  runtime::ws_client d;
  CAF_CHECK(d.connect(o).ok);
}

CAF_TEST(a reload with a broken key keeps the old certificate) {
  tls_node t;
  auto before = runtime::certificate_fingerprint(t.certs + "/cert.pem");
  // Another certificate whose key does not match: refused, old one kept.
  auto other = make_temp_dir();
  runtime::write_dev_certificate(other);
  std::filesystem::copy_file(other + "/key.pem", t.certs + "/key.pem",
                             std::filesystem::copy_options::overwrite_existing);
  auto err = t.n->node().reload_tls();
  CAF_CHECK(err.find("key values mismatch") != std::string::npos);
  runtime::ws_client c;
  CAF_CHECK(c.connect(t.wss("phone")).ok);
  // Both files replaced: the reload takes.
  std::filesystem::copy_file(other + "/cert.pem", t.certs + "/cert.pem",
                             std::filesystem::copy_options::overwrite_existing);
  CAF_CHECK_EQUAL(t.n->node().reload_tls(), "");
  CAF_CHECK_NOT_EQUAL(runtime::certificate_fingerprint(t.certs + "/cert.pem"),
                      before);
  // The open session survives, and new clients must trust the new one.
  CAF_CHECK(c.receive(2s).has_value()); // its welcome
  auto fresh = t.wss("tablet");
  fresh.ca_file = other + "/cert.pem";
  runtime::ws_client e;
  CAF_CHECK(e.connect(fresh).ok);
  remove_tree(other);
}

CAF_TEST(tls settings are checked together) {
  config::settings s;
  s.server.tls_cert = "/x/cert.pem";
  auto problems = config::validate(s);
  auto has = [&](const std::string& needle) {
    for (auto& p : problems)
      if (p.find(needle) != std::string::npos)
        return true;
    return false;
  };
  CAF_CHECK(has("server.tls_cert and server.tls_key go together"));
  s.server.tls_cert.clear();
  s.server.tls_port = 8443;
  problems = config::validate(s);
  CAF_CHECK(has("server.tls_port needs"));
}

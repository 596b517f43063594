#define CAF_SUITE integration.push
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>

#include <rapidjson/document.h>

#include "actors/store/durable_log.hpp"
#include "protocol/codec.hpp"
#include "protocol/push.hpp"
#include "test/support/http_get.hpp"
#include "test/support/poll.hpp"
#include "test/support/push_provider.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using namespace std::chrono_literals;

namespace {

struct push_client {
  std::string user;
  std::string device;
  std::unique_ptr<test_device> d;

  // Sends a cloud request with requiresAck; returns "processed", or
  // "failed CODE field" for a refusal, or what else came.
  std::string ask(const std::string& id, const std::string& type,
                  const std::string& payload) {
    auto m = make_message(id, user, device, protocol::target::cloud);
    m.type = type;
    m.payload = payload.empty() ? protocol::raw_value{}
                                : protocol::json_value(payload);
    m.optimization.requires_ack = true;
    if (!d->client.send(protocol::encode(protocol::codec::json, m)))
      return "send failed";
    auto f = protocol::decode(protocol::codec::json, d->next(),
                              protocol::limits{});
    if (!f.ok() || f.kind != protocol::frame_kind::ack
        || f.ack.message_id != id)
      return "no ack";
    if (f.ack.status == protocol::ack_status::processed)
      return "processed";
    if (f.ack.status != protocol::ack_status::failed || !f.ack.error)
      return std::string{to_string(f.ack.status)};
    auto out = "failed " + f.ack.error->code;
    if (auto at = f.ack.error->details.raw.find("\"field\":\"");
        at != std::string::npos) {
      at += 9;
      out += " "
             + f.ack.error->details.raw.substr(
               at, f.ack.error->details.raw.find('"', at) - at);
    }
    return out;
  }
};

push_client connect(test_node& n, const std::string& user,
                    const std::string& device) {
  push_client c{user, device,
                connect_device(n, user, device, device_type::mobile)};
  CAF_REQUIRE(c.d->result.ok);
  return c;
}

} // namespace

CAF_TEST(push addresses are registered on disk and refused when malformed) {
  auto hex = std::string(64, 'c');
  std::string dir;
  {
    test_node n;
    dir = n.data_dir();
    auto alice = connect(n, "alice", "phone");
    CAF_CHECK_EQUAL(
      alice.ask("r1", "tether.push.register",
                R"({"provider":"apns","token":")" + hex
                  + R"(","topic":"com.example.app","environment":"sandbox"})"),
      "processed");
    CAF_CHECK_EQUAL(alice.ask("r2", "tether.push.register",
                              R"({"provider":"fcm","token":"old"})"),
                    "processed");
    CAF_CHECK_EQUAL(alice.ask("r3", "tether.push.register",
                              R"({"provider":"fcm","token":"new-1"})"),
                    "processed");
    CAF_CHECK_EQUAL(alice.ask("r4", "tether.push.register",
                              R"({"provider":"apns","token":"zz"})"),
                    "failed VALIDATION_ERROR payload.token");
    CAF_CHECK_EQUAL(alice.ask("r5", "tether.push.register",
                              R"({"provider":"fcm","token":"a","topic":"x"})"),
                    "failed VALIDATION_ERROR payload.topic");
    CAF_CHECK_EQUAL(alice.ask("r6", "tether.push.unregister",
                              R"({"provider":"sms"})"),
                    "failed VALIDATION_ERROR payload.provider");
    // The same app signed in as bob on the same phone takes the token.
    auto bob = connect(n, "bob", "phone");
    CAF_CHECK_EQUAL(bob.ask("b1", "tether.push.register",
                            R"({"provider":"fcm","token":"new-1"})"),
                    "processed");
    CAF_CHECK_EQUAL(bob.ask("b2", "tether.push.register",
                            R"({"provider":"webhook","token":"bob-7"})"),
                    "processed");
    CAF_CHECK_EQUAL(bob.ask("b3", "tether.push.unregister",
                            R"({"provider":"webhook"})"),
                    "processed");
    // Still a working session after the refusals.
    CAF_CHECK(still_works(*alice.d, "after-push"));
    n.stop();
    actors::durable_log log{dir + "/tether.db"};
    auto a = log.push_addresses("alice", "phone");
    CAF_REQUIRE_EQUAL(a.size(), 1u);
    CAF_CHECK(a[0].provider == protocol::push_provider::apns);
    CAF_CHECK_EQUAL(a[0].token, hex);
    CAF_CHECK_EQUAL(a[0].topic, "com.example.app");
    CAF_CHECK(a[0].sandbox);
    auto b = log.push_addresses("bob", "phone");
    CAF_REQUIRE_EQUAL(b.size(), 1u);
    CAF_CHECK(b[0].provider == protocol::push_provider::fcm);
    CAF_CHECK_EQUAL(b[0].token, "new-1");
  }
}

CAF_TEST(unregistering without a provider removes every address) {
  test_node n;
  auto dir = n.data_dir();
  auto phone = connect(n, "carol", "phone");
  CAF_CHECK_EQUAL(phone.ask("r1", "tether.push.register",
                            R"({"provider":"webhook","token":"c-1"})"),
                  "processed");
  CAF_CHECK_EQUAL(phone.ask("r2", "tether.push.register",
                            R"({"provider":"fcm","token":"c-2"})"),
                  "processed");
  CAF_CHECK_EQUAL(phone.ask("r3", "tether.push.unregister", ""), "processed");
  n.stop();
  actors::durable_log log{dir + "/tether.db"};
  CAF_CHECK(log.push_addresses("carol", "phone").empty());
}

namespace {

constexpr const char* secret = "0123456789abcdef-secret";

// A node whose webhook is `url`, pushes after `delay`.
test_node::tweak_fn push_settings(const std::string& url,
                                  std::chrono::milliseconds delay,
                                  uint32_t max_retries = 5) {
  return [=](config::settings& s) {
    s.push.webhook_url = url;
    // The key in a file, as in production (the node's own dir exists).
    s.push.webhook_secret_file = s.node.data_dir + "/webhook.key";
    std::ofstream{s.push.webhook_secret_file} << secret << "\n";
    s.push.push.delay = delay;
    s.push.max_retries = max_retries;
  };
}

// alice's laptop sends her `device` a message of this priority (durable),
// with `shown` as its notification if given (and notify).
void send_to(push_client& laptop, const std::string& device,
             const std::string& id, protocol::priority prio,
             std::optional<protocol::notification_info> shown = {}) {
  auto m = make_message(id, "alice", "laptop", protocol::target::device,
                        device_type::desktop);
  m.destination.device_id = device;
  m.optimization.prio = prio;
  m.optimization.requires_ack = true;
  if (shown) {
    m.optimization.notify = true;
    m.optimization.notification = std::move(shown);
  }
  CAF_REQUIRE(
    laptop.d->client.send(protocol::encode(protocol::codec::json, m)));
  auto f = protocol::decode(protocol::codec::json, laptop.d->next(),
                            protocol::limits{});
  CAF_REQUIRE(f.ok() && f.kind == protocol::frame_kind::ack);
  CAF_CHECK(f.ack.status == protocol::ack_status::received);
}

void send_to_phone(push_client& laptop, const std::string& id,
                   protocol::priority prio) {
  send_to(laptop, "phone", id, prio);
}

// alice's phone registers a webhook address with `token`, then goes away.
void register_and_leave(test_node& n, const std::string& token) {
  auto phone = connect(n, "alice", "phone");
  CAF_CHECK_EQUAL(
    phone.ask("r1", "tether.push.register",
              R"({"provider":"webhook","token":")" + token + "\"}"),
    "processed");
}

push_client connect_laptop(test_node& n) {
  push_client c{"alice", "laptop",
                connect_device(n, "alice", "laptop", device_type::desktop)};
  CAF_REQUIRE(c.d->result.ok);
  return c;
}

// A header of a request line: "name":"value".
std::string header(const std::string& req, const std::string& name) {
  auto key = "\"" + name + "\":\"";
  auto at = req.find(key);
  if (at == std::string::npos)
    return {};
  at += key.size();
  return req.substr(at, req.find('"', at) - at);
}

// The body of a request line, unescaped enough for these bodies.
std::string body_of(const std::string& req) {
  auto key = std::string{"\"body\":\""};
  auto at = req.find(key);
  if (at == std::string::npos)
    return {};
  at += key.size();
  std::string out;
  for (auto i = at; i < req.size() && req[i] != '"'; ++i) {
    if (req[i] == '\\' && i + 1 < req.size())
      ++i;
    out += req[i];
  }
  return out;
}

uint64_t push_count(test_node& n, const char* outcome) {
  auto m = http_get(n.port(), "/metrics");
  auto key = std::string{"tether_push_total{provider=\"webhook\",outcome=\""}
             + outcome + "\"} ";
  auto at = m.body.find(key);
  return at == std::string::npos ? 0
                                 : std::stoull(m.body.substr(at + key.size()));
}

} // namespace

CAF_TEST(an offline device gets exactly one signed push for three messages) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  test_node n{push_settings(hook.url("/ok", false), 500ms)};
  register_and_leave(n, "phone-tok");
  auto laptop = connect_laptop(n);
  auto sent_at = std::chrono::steady_clock::now();
  send_to_phone(laptop, "h1", protocol::priority::high);
  send_to_phone(laptop, "low1", protocol::priority::low);
  send_to_phone(laptop, "h2", protocol::priority::critical);
  send_to_phone(laptop, "h3", protocol::priority::high);
  auto reqs = hook.requests(1, 5s);
  auto took = std::chrono::steady_clock::now() - sent_at;
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  CAF_CHECK(took >= 450ms);
  auto& r = reqs[0];
  CAF_MESSAGE("webhook got: " << r);
  auto body = body_of(r);
  CAF_CHECK_EQUAL(body,
                  R"({"userId":"alice","deviceId":"phone",)"
                  R"("token":"phone-tok","messageIds":["h2","h1","h3"],)"
                  R"("priority":"critical","count":4,"notification":null})");
  // The signature verifies with the secret, over "<t>.<body>".
  auto sig = header(r, "x-tether-signature");
  CAF_REQUIRE(sig.rfind("t=", 0) == 0);
  auto t = std::stoll(sig.substr(2, sig.find(',') - 2));
  CAF_CHECK_EQUAL(sig, protocol::webhook_signature(secret, t, body));
  CAF_CHECK(std::abs(t - now_ms() / 1000) < 60);
  CAF_CHECK_EQUAL(header(r, "content-type"), "application/json");
  // One push for all of them: nothing more comes.
  CAF_CHECK(hook.requests(1, 1500ms).empty());
  CAF_CHECK_EQUAL(push_count(n, "sent"), 1u);
}

CAF_TEST(a device back within the delay and low messages get no push) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  test_node n{push_settings(hook.url("/ok", false), 1500ms)};
  register_and_leave(n, "tok-2");
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  {
    // Back at once: it takes the message, no push.
    auto phone = connect(n, "alice", "phone");
    auto got = read_messages(phone.d->client, 1, 3s);
    CAF_CHECK_EQUAL(got.messages.size(), 1u);
    phone.d->client.send(
      R"({"messageId":"","status":"received",)"
      R"("timestamp":0,"seq":)"
      + std::to_string(got.messages.empty() ? 0 : got.messages[0].seq) + "}");
    // Connected past the delay: still none.
    CAF_CHECK(hook.requests(1, 2s).empty());
  }
  // Gone again; only low and normal messages: no push either.
  send_to_phone(laptop, "l1", protocol::priority::low);
  send_to_phone(laptop, "n1", protocol::priority::normal);
  CAF_CHECK(hook.requests(1, 2500ms).empty());
  CAF_CHECK_EQUAL(push_count(n, "sent"), 0u);
}

CAF_TEST(a webhook that answers 410 loses the address) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  std::string dir;
  test_node n{push_settings(hook.url("/gone", false), 300ms)};
  dir = n.data_dir();
  register_and_leave(n, "dead-1");
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  CAF_CHECK_EQUAL(hook.requests(1, 5s).size(), 1u);
  CAF_CHECK(poll_until([&] { return push_count(n, "dead") == 1; }, 5s, 50ms));
  n.stop();
  actors::durable_log log{dir + "/tether.db"};
  CAF_CHECK(log.push_addresses("alice", "phone").empty());
}

CAF_TEST(a webhook that answers 429 is tried again after its Retry - After) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  test_node n{push_settings(hook.url("/retry?after=1", false), 300ms, 1)};
  register_and_leave(n, "busy-1");
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  auto first = hook.requests(1, 5s);
  CAF_REQUIRE_EQUAL(first.size(), 1u);
  auto at = std::chrono::steady_clock::now();
  auto second = hook.requests(1, 5s);
  CAF_REQUIRE_EQUAL(second.size(), 1u);
  auto waited = std::chrono::steady_clock::now() - at;
  CAF_CHECK(waited >= 900ms);
  CAF_CHECK_EQUAL(body_of(first[0]), body_of(second[0]));
  // Out of retries (push.max_retries 1): failed, counted.
  CAF_CHECK(poll_until([&] { return push_count(n, "failed") == 1; }, 5s, 50ms));
  CAF_CHECK_EQUAL(push_count(n, "retried"), 1u);
}

CAF_TEST(a node restarted with messages waiting still pushes for them) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  auto dir = make_temp_dir();
  auto settings = [&](std::chrono::milliseconds delay) {
    return [&, delay](config::settings& s) {
      push_settings(hook.url("/ok", false), delay)(s);
      s.node.data_dir = dir;
    };
  };
  {
    test_node n{settings(10s)};
    register_and_leave(n, "re-1");
    auto laptop = connect_laptop(n);
    send_to_phone(laptop, "h1", protocol::priority::high);
    send_to_phone(laptop, "l1", protocol::priority::low);
  } // stopped long before its push was due
  CAF_CHECK(hook.requests(1, 200ms).empty());
  {
    test_node n{settings(500ms)};
    auto reqs = hook.requests(1, 5s);
    CAF_REQUIRE_EQUAL(reqs.size(), 1u);
    CAF_CHECK_EQUAL(body_of(reqs[0]),
                    R"({"userId":"alice","deviceId":"phone","token":"re-1",)"
                    R"("messageIds":["h1"],"priority":"high","count":2,)"
                    R"("notification":null})");
    // The push is on disk with the device: the next start does not push.
    n.stop();
  }
  {
    test_node n{settings(500ms)};
    CAF_CHECK(hook.requests(1, 1500ms).empty());
  }
  remove_tree(dir);
}

CAF_TEST(a webhook key file that is missing or short stops the start) {
  auto dir = make_temp_dir();
  auto start = [&](const std::string& key_file) -> std::string {
    try {
      test_node n{[&](config::settings& s) {
        s.push.webhook_url = "http://127.0.0.1:9/hook";
        s.push.webhook_secret_file = key_file;
      }};
      return "started";
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  auto missing = start(dir + "/nope.key");
  CAF_MESSAGE(missing);
  CAF_CHECK(missing.find("cannot read push.webhook_secret_file")
            != std::string::npos);
  std::ofstream{dir + "/short.key"} << "0123456789\n";
  auto short_key = start(dir + "/short.key");
  CAF_MESSAGE(short_key);
  CAF_CHECK(short_key.find("at least 16") != std::string::npos);
  std::ofstream{dir + "/good.key"} << "0123456789abcdef\n";
  CAF_CHECK_EQUAL(start(dir + "/good.key"), "started");
  remove_tree(dir);
}

namespace {

// A request line's field (a string; empty if absent or not a string) and
// header.
std::string field(const std::string& req, const char* key) {
  rapidjson::Document doc;
  doc.Parse(req.c_str());
  if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString())
    return {};
  return doc[key].GetString();
}

// A node whose APNs and FCM are the stand-in `p` (its credentials, its
// certificate trusted), pushing after `delay`, at most every `interval`.
test_node::tweak_fn
provider_settings(const test::push_provider& p, std::chrono::milliseconds delay,
                  std::chrono::milliseconds interval = 60s) {
  auto base = p.url("");
  return [=, dir = p.dir(), cert = p.cert()](config::settings& s) {
    s.push.apns_key_file = dir + "/apns.p8";
    s.push.apns_key_id = "KEYID12345";
    s.push.apns_team_id = "TEAM123456";
    s.push.apns_topic = "com.example.default";
    s.push.apns_url = base;
    s.push.apns_sandbox_url = base;
    s.push.fcm_service_account_file = dir + "/service-account.json";
    s.push.fcm_url = base;
    s.push.ca_file = cert;
    s.push.push.delay = delay;
    s.push.push.min_interval = interval;
  };
}

// `device` of alice registers this address and, unless `stay`, leaves.
void register_address(test_node& n, const std::string& device,
                      const std::string& payload) {
  auto c = connect(n, "alice", device);
  CAF_CHECK_EQUAL(c.ask("r-" + device, "tether.push.register", payload),
                  "processed");
}

// alice's `device`, connected, with a webhook address `token`, and in the
// background if `background`.
push_client webhook_device(test_node& n, const std::string& device,
                           const std::string& token, bool background) {
  auto c = connect(n, "alice", device);
  CAF_CHECK_EQUAL(c.ask("r-" + device, "tether.push.register",
                        R"({"provider":"webhook","token":")" + token + "\"}"),
                  "processed");
  if (background)
    CAF_CHECK_EQUAL(c.ask("l-" + device, "tether.lifecycle",
                          R"({"state":"background"})"),
                    "processed");
  return c;
}

uint64_t pushes(test_node& n, const char* provider, const char* outcome) {
  auto m = http_get(n.port(), "/metrics");
  auto key = std::string{"tether_push_total{provider=\""} + provider
             + "\",outcome=\"" + outcome + "\"} ";
  auto at = m.body.find(key);
  return at == std::string::npos ? 0
                                 : std::stoull(m.body.substr(at + key.size()));
}

} // namespace

CAF_TEST(apns pushes carry a verified provider token and the headers) {
  test::push_provider apple{false, true};
  CAF_REQUIRE(apple.port() != 0);
  test_node n{provider_settings(apple, 500ms)};
  register_address(n, "phone",
                   R"({"provider":"apns","token":"00aa11bb22cc33dd",)"
                   R"("topic":"com.example.app"})");
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  send_to_phone(laptop, "h2", protocol::priority::high);
  send_to_phone(laptop, "h3", protocol::priority::critical);
  auto reqs = apple.requests(1, 5s);
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  auto& r = reqs[0];
  CAF_MESSAGE("APNs got: " << r);
  CAF_CHECK_EQUAL(field(r, "version"), "2.0");
  CAF_CHECK_EQUAL(field(r, "path"), "/3/device/00aa11bb22cc33dd");
  // The stand-in verified the ES256 signature with the key's public half.
  CAF_CHECK_EQUAL(field(r, "auth"), "ok");
  CAF_CHECK_EQUAL(header(r, "apns-topic"), "com.example.app");
  CAF_CHECK_EQUAL(header(r, "apns-push-type"), "background");
  CAF_CHECK_EQUAL(header(r, "apns-priority"), "5");
  CAF_CHECK_EQUAL(header(r, "apns-collapse-id"),
                  protocol::push_collapse_id("alice", "phone"));
  CAF_CHECK_EQUAL(body_of(r), R"({"aps":{"content-available":1},)"
                              R"("tether":{"count":3,"priority":"critical"}})");
  CAF_CHECK(apple.requests(1, 1500ms).empty());
  CAF_CHECK_EQUAL(pushes(n, "apns", "sent"), 1u);
}

CAF_TEST(fcm pushes buy an access token with a verified assertion) {
  test::push_provider google{false, true};
  CAF_REQUIRE(google.port() != 0);
  test_node n{provider_settings(google, 300ms, 1s)};
  register_address(n, "phone", R"({"provider":"fcm","token":"fcm-tok:1"})");
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  auto reqs = google.requests(2, 5s);
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  CAF_MESSAGE("token request: " << reqs[0]);
  CAF_CHECK_EQUAL(field(reqs[0], "path"), "/token");
  CAF_CHECK_EQUAL(field(reqs[0], "auth"), "ok"); // the RS256 assertion
  CAF_CHECK_EQUAL(header(reqs[0], "content-type"),
                  "application/x-www-form-urlencoded");
  auto& send = reqs[1];
  CAF_MESSAGE("FCM got: " << send);
  CAF_CHECK_EQUAL(field(send, "path"),
                  "/v1/projects/tether-test/messages:send");
  CAF_CHECK_EQUAL(field(send, "auth"), "ok"); // the token it bought
  auto collapse = protocol::push_collapse_id("alice", "phone");
  CAF_CHECK_EQUAL(body_of(send),
                  R"({"message":{"token":"fcm-tok:1","data":{"tether":"1",)"
                  R"("count":"1","priority":"high","messageIds":"[\"h1\"]"},)"
                  R"("android":{"priority":"HIGH","collapse_key":")"
                    + collapse + R"("}}})");
  // A low message its sender marked notify, with a text, a push interval
  // later: the same token, no second exchange, the text shown.
  send_to(laptop, "phone", "n1", protocol::priority::low,
          protocol::notification_info{"Ann", "lunch?"});
  auto next = google.requests(1, 5s);
  CAF_REQUIRE_EQUAL(next.size(), 1u);
  CAF_CHECK_EQUAL(field(next[0], "path"),
                  "/v1/projects/tether-test/messages:send");
  CAF_CHECK_EQUAL(field(next[0], "auth"), "ok");
  CAF_CHECK(
    body_of(next[0]).find(R"("notification":{"title":"Ann","body":"lunch?"})")
    != std::string::npos);
  // (Counted once the node read the answer, just after the stand-in sent it.)
  CAF_CHECK(
    poll_until([&] { return pushes(n, "fcm", "sent") == 2; }, 5s, 50ms));
}

CAF_TEST(refused credentials are renewed and the push sent again) {
  test::push_provider p{false, true};
  CAF_REQUIRE(p.port() != 0);
  test_node n{provider_settings(p, 300ms)};
  register_address(n, "phone",
                   R"({"provider":"apns","token":"e0e000aa11bb22cc"})");
  register_address(n, "tablet", R"({"provider":"fcm","token":"revoke-1"})");
  auto laptop = connect_laptop(n);
  send_to(laptop, "phone", "h1", protocol::priority::high);
  send_to(laptop, "tablet", "h2", protocol::priority::high);
  // APNs: refused as expired, then a new provider token, taken. FCM: a
  // token bought, revoked at its first use, a new one bought, taken.
  auto reqs = p.requests(6, 8s);
  CAF_REQUIRE_EQUAL(reqs.size(), 6u);
  std::vector<std::string> apns;
  std::vector<std::string> fcm;
  for (auto& r : reqs) {
    auto path = field(r, "path");
    (path.rfind("/3/device/", 0) == 0 ? apns : fcm).push_back(r);
  }
  CAF_REQUIRE_EQUAL(apns.size(), 2u);
  CAF_CHECK_NOT_EQUAL(header(apns[0], "authorization"),
                      header(apns[1], "authorization"));
  CAF_CHECK_EQUAL(field(apns[1], "auth"), "ok");
  CAF_REQUIRE_EQUAL(fcm.size(), 4u);
  CAF_CHECK_EQUAL(field(fcm[0], "path"), "/token");
  CAF_CHECK_EQUAL(field(fcm[2], "path"), "/token");
  CAF_CHECK_NOT_EQUAL(header(fcm[1], "authorization"),
                      header(fcm[3], "authorization"));
  CAF_CHECK(poll_until(
    [&] {
      return pushes(n, "apns", "sent") == 1 && pushes(n, "fcm", "sent") == 1;
    },
    5s, 50ms));
  CAF_CHECK_EQUAL(pushes(n, "apns", "retried"), 1u);
  CAF_CHECK_EQUAL(pushes(n, "fcm", "retried"), 1u);
}

CAF_TEST(dead tokens lose their address at apns and fcm) {
  test::push_provider p{false, true};
  CAF_REQUIRE(p.port() != 0);
  test_node n{provider_settings(p, 300ms)};
  auto dir = n.data_dir();
  {
    register_address(n, "phone",
                     R"({"provider":"apns","token":"dead00aa11bb22cc"})");
    register_address(n, "phone", R"({"provider":"fcm","token":"dead-1"})");
    register_address(n, "tablet",
                     R"({"provider":"apns","token":"bad000aa11bb22cc"})");
    auto laptop = connect_laptop(n);
    send_to(laptop, "phone", "h1", protocol::priority::high);
    send_to(laptop, "tablet", "h2", protocol::priority::high);
    CAF_CHECK(poll_until(
      [&] {
        return pushes(n, "apns", "dead") == 2 && pushes(n, "fcm", "dead") == 1;
      },
      8s, 50ms));
  }
  n.stop();
  actors::durable_log log{dir + "/tether.db"};
  CAF_CHECK(log.push_addresses("alice", "phone").empty());
  CAF_CHECK(log.push_addresses("alice", "tablet").empty());
}

CAF_TEST(a background device gets one push and a foreground one none) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  test_node n{push_settings(hook.url("/ok", false), 500ms)};
  // Both stay connected; the phone's app goes to the background.
  auto phone = webhook_device(n, "phone", "bg-phone", true);
  auto tablet = webhook_device(n, "tablet", "fg-tablet", false);
  CAF_CHECK_EQUAL(phone.ask("l2", "tether.lifecycle", R"({"state":"later"})"),
                  "failed VALIDATION_ERROR payload.state");
  auto laptop = connect_laptop(n);
  send_to(laptop, "phone", "h1", protocol::priority::high);
  send_to(laptop, "tablet", "h2", protocol::priority::high);
  auto reqs = hook.requests(2, 2500ms);
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  CAF_CHECK(body_of(reqs[0]).find(R"("token":"bg-phone")")
            != std::string::npos);
  // Both got their message over the socket all the same (unacked).
  CAF_CHECK_EQUAL(read_messages(phone.d->client, 1, 2s).messages.size(), 1u);
  CAF_CHECK_EQUAL(read_messages(tablet.d->client, 1, 2s).messages.size(), 1u);
  // Back in the foreground: the next message calls for no push.
  CAF_CHECK_EQUAL(phone.ask("l3", "tether.lifecycle",
                            R"({"state":"foreground"})"),
                  "processed");
  send_to(laptop, "phone", "h3", protocol::priority::high);
  CAF_CHECK(hook.requests(1, 2s).empty());
  CAF_CHECK_EQUAL(push_count(n, "sent"), 1u);
}

CAF_TEST(a message acked before the delay calls for no push) {
  test::push_provider hook{true};
  CAF_REQUIRE(hook.port() != 0);
  test_node n{push_settings(hook.url("/ok", false), 1s)};
  auto phone = webhook_device(n, "phone", "ack-phone", true);
  auto laptop = connect_laptop(n);
  send_to_phone(laptop, "h1", protocol::priority::high);
  auto got = read_messages(phone.d->client, 1, 2s);
  CAF_REQUIRE_EQUAL(got.messages.size(), 1u);
  phone.d->client.send(R"({"messageId":"h1","status":"received",)"
                       R"("timestamp":0})");
  CAF_CHECK(hook.requests(1, 2s).empty());
  CAF_CHECK_EQUAL(push_count(n, "sent"), 0u);
}

CAF_TEST(a provider that hangs does not slow delivery) {
  test::push_provider apple{false, true};
  CAF_REQUIRE(apple.port() != 0);
  test_node n{[&](config::settings& s) {
    provider_settings(apple, 200ms)(s);
    s.push.timeout = 60s; // the posts stay open all through the test
  }};
  auto laptop = connect_laptop(n);
  auto tablet = connect(n, "alice", "tablet");
  // The median time from the laptop's send until the tablet read the
  // message, over 60 messages one at a time.
  auto median_ms = [&](const std::string& tag) {
    std::vector<double> ms;
    for (int i = 0; i < 60; ++i) {
      auto m = make_message(tag + std::to_string(i), "alice", "laptop",
                            protocol::target::device, device_type::desktop);
      m.destination.device_id = "tablet";
      auto t0 = std::chrono::steady_clock::now();
      laptop.d->client.send(protocol::encode(protocol::codec::json, m));
      auto got = read_messages(tablet.d->client, 1, 2s);
      if (got.messages.size() != 1)
        return -1.0;
      ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  auto before = median_ms("b");
  // 20 offline phones whose pushes APNs never answers.
  for (int i = 0; i < 20; ++i)
    register_address(n, "p" + std::to_string(i),
                     R"({"provider":"apns","token":"0ff1)"
                       + std::string(12, static_cast<char>('a' + i % 6))
                       + std::to_string(1000 + i) + "\"}");
  for (int i = 0; i < 20; ++i)
    send_to(laptop, "p" + std::to_string(i), "x" + std::to_string(i),
            protocol::priority::high);
  CAF_REQUIRE_EQUAL(apple.requests(20, 10s).size(), 20u); // all hanging now
  auto during = median_ms("d");
  CAF_MESSAGE("delivery median before: " << before << " ms, with 20 pushes "
                                         << "hanging: " << during << " ms");
  CAF_REQUIRE(before >= 0 && during >= 0);
  // Blocking on a post would cost push.timeout (60 s); a noisy machine a
  // few ms.
  auto bound = std::max(3 * before, before + 20);
  CAF_CHECK_LESS(during, bound);
  CAF_CHECK_EQUAL(pushes(n, "apns", "sent"), 0u);
}

CAF_TEST(provider credentials of the wrong kind stop the start) {
  test::push_provider p{false, true};
  CAF_REQUIRE(p.port() != 0);
  auto start = [&](std::function<void(config::settings&)> f) -> std::string {
    try {
      test_node n{[&](config::settings& s) {
        provider_settings(p, 1s)(s);
        f(s);
      }};
      return "started";
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  CAF_CHECK_EQUAL(start([](config::settings&) {}), "started");
  // The service account's RSA key given as the APNs key.
  auto rsa = start([&](config::settings& s) {
    std::ifstream in{p.dir() + "/service-account.json"};
    std::string json{std::istreambuf_iterator<char>{in}, {}};
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    s.push.apns_key_file = p.dir() + "/rsa.pem";
    std::ofstream{s.push.apns_key_file} << doc["private_key"].GetString();
  });
  CAF_MESSAGE(rsa);
  CAF_CHECK(rsa.find("an RSA key; an APNs key is EC P-256")
            != std::string::npos);
  auto not_sa = start([&](config::settings& s) {
    s.push.fcm_service_account_file = p.dir() + "/apns.p8";
  });
  CAF_MESSAGE(not_sa);
  CAF_CHECK(not_sa.find("is not a JSON object") != std::string::npos);
  auto no_team = start([](config::settings& s) { s.push.apns_team_id = ""; });
  CAF_MESSAGE(no_team);
  CAF_CHECK(no_team.find("push.apns_team_id") != std::string::npos);
}

#define CAF_SUITE integration.push
#include <caf/test/unit_test.hpp>

#include "actors/store/durable_log.hpp"
#include "protocol/codec.hpp"
#include "protocol/push.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::device_type;
using protocol::push_provider;

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
    CAF_CHECK(a[0].provider == push_provider::apns);
    CAF_CHECK_EQUAL(a[0].token, hex);
    CAF_CHECK_EQUAL(a[0].topic, "com.example.app");
    CAF_CHECK(a[0].sandbox);
    auto b = log.push_addresses("bob", "phone");
    CAF_REQUIRE_EQUAL(b.size(), 1u);
    CAF_CHECK(b[0].provider == push_provider::fcm);
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

#define CAF_SUITE integration.routing
#include <caf/test/unit_test.hpp>

#include "protocol/codec.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using protocol::target;

namespace {

using namespace std::chrono_literals;

protocol::decoded_frame decode(const std::string& bytes,
                               codec c = codec::json) {
  return protocol::decode(c, bytes, protocol::limits{});
}

std::string send(test_device& d, const protocol::mobile_message& m,
                 codec c = codec::json) {
  CAF_CHECK(d.client.send(protocol::encode(c, m), c == codec::msgpack));
  return d.next();
}

// The id of the message a frame carries, or "" for anything else.
std::string id_of(const protocol::decoded_frame& f) {
  if (!f.ok() || f.messages.empty())
    return {};
  return f.messages.front().msg.id;
}

// Nothing arrives within a short quiet period.
bool silent(test_device& d) {
  return !d.client.receive(300ms).has_value();
}

// Two devices of alice exchange a direct message with ack and one without.
void exchange_direct(test_node& n) {
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  CAF_REQUIRE(phone->result.ok);
  CAF_REQUIRE(laptop->result.ok);
  auto welcome = decode(phone->welcome);
  CAF_REQUIRE(welcome.ok());
  CAF_CHECK_EQUAL(welcome.messages.front().msg.type, "tether.welcome");
  auto m = make_message("m1", "alice", "phone", target::device);
  m.destination.device_id = "laptop";
  auto ack = decode(send(*phone, m));
  CAF_REQUIRE(ack.ok());
  CAF_CHECK(ack.kind == protocol::frame_kind::ack);
  CAF_CHECK_EQUAL(ack.ack.message_id, "m1");
  CAF_CHECK(ack.ack.status == protocol::ack_status::received);
  CAF_CHECK_EQUAL(ack.ack.recipients.value_or(0), 1u);
  auto got = decode(laptop->next());
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got.messages.front().msg.id, "m1");
  CAF_CHECK_EQUAL(got.messages.front().msg.payload.raw,
                  R"({"command":"status"})");
  // And back.
  auto reply = make_message("r1", "alice", "laptop", target::device,
                            device_type::desktop);
  reply.destination.device_id = "phone";
  reply.optimization.requires_ack = false;
  CAF_CHECK(laptop->client.send(protocol::encode(codec::json, reply)));
  auto back = decode(phone->next());
  CAF_CHECK_EQUAL(id_of(back), "r1");
  // No ack was requested, so none arrives.
  CAF_CHECK(silent(*laptop));
}

} // namespace

CAF_TEST(two devices of one user exchange a direct message with ack) {
  test_node n;
  exchange_direct(n);
}

CAF_TEST(actors may run on CAF worker threads instead of the loops) {
  test_node n{[](config::settings& s) { s.caf.scheduler_policy = "sharing"; }};
  exchange_direct(n);
}

CAF_TEST(devices on different event loops exchange a direct message) {
  // Connections go round the loops: the two devices get different ones.
  test_node n{[](config::settings& s) { s.server.io_threads = 3; }};
  exchange_direct(n);
}

CAF_TEST(extension bound messages reach the extension role only) {
  test_node n;
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto ext = connect_device(n, "alice", "vscode", device_type::desktop,
                            "extension");
  auto tablet = connect_device(n, "alice", "tablet", device_type::tablet);
  auto m = make_message("e1", "alice", "phone", target::extension);
  auto ack = decode(send(*phone, m));
  CAF_CHECK(ack.ack.status == protocol::ack_status::received);
  CAF_CHECK_EQUAL(id_of(decode(ext->next())), "e1");
  CAF_CHECK(silent(*tablet));
}

CAF_TEST(user broadcast reaches the other devices and device_type filters) {
  test_node n;
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto tablet = connect_device(n, "alice", "tablet", device_type::tablet);
  auto m = make_message("b1", "alice", "phone", target::broadcast);
  m.destination.broadcast = protocol::broadcast_info{};
  auto ack = decode(send(*phone, m));
  CAF_CHECK_EQUAL(ack.ack.recipients.value_or(0), 2u);
  CAF_CHECK_EQUAL(id_of(decode(laptop->next())), "b1");
  CAF_CHECK_EQUAL(id_of(decode(tablet->next())), "b1");
  auto t = make_message("b2", "alice", "phone", target::broadcast);
  t.destination.broadcast = protocol::broadcast_info{
    protocol::broadcast_scope::device_type,
    std::nullopt,
    protocol::json_value(R"({"deviceType":"tablet"})"),
    {device_type::tablet}};
  ack = decode(send(*phone, t));
  CAF_CHECK_EQUAL(ack.ack.recipients.value_or(0), 1u);
  CAF_CHECK_EQUAL(id_of(decode(tablet->next())), "b2");
  CAF_CHECK(silent(*laptop));
}

CAF_TEST(a device can never reach the devices of another user) {
  test_node n;
  auto alice = connect_device(n, "alice", "phone", device_type::mobile);
  auto bob = connect_device(n, "bob", "laptop", device_type::desktop,
                            "extension");
  // Bob addresses alice's device id: it is not one of bob's devices.
  auto m = make_message("x1", "bob", "laptop", target::device,
                        device_type::desktop);
  m.destination.device_id = "phone";
  auto ack = decode(send(*bob, m));
  CAF_CHECK(ack.ack.status == protocol::ack_status::failed);
  CAF_CHECK_EQUAL(ack.ack.error->code, "UNKNOWN_DEVICE");
  // Naming alice as the destination user is forbidden.
  m.id = "x2";
  m.destination.user_id = "alice";
  ack = decode(send(*bob, m));
  CAF_CHECK_EQUAL(ack.ack.error->code, "FORBIDDEN");
  // Alice's extension-bound message does not reach bob's extension.
  auto a = make_message("x3", "alice", "phone", target::extension);
  ack = decode(send(*alice, a));
  CAF_CHECK_EQUAL(ack.ack.error->code, "NO_RECIPIENTS");
  auto b = make_message("x4", "alice", "phone", target::broadcast);
  b.destination.broadcast = protocol::broadcast_info{};
  ack = decode(send(*alice, b));
  CAF_CHECK_EQUAL(ack.ack.recipients.value_or(99), 0u);
  CAF_CHECK(silent(*bob));
}

CAF_TEST(a source claiming another identity is refused) {
  test_node n;
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto m = make_message("s1", "alice", "laptop", target::device,
                        device_type::desktop);
  m.destination.device_id = "laptop";
  auto ack = decode(send(*phone, m));
  CAF_CHECK(ack.ack.status == protocol::ack_status::failed);
  CAF_CHECK_EQUAL(ack.ack.error->code, "SOURCE_MISMATCH");
  CAF_CHECK(ack.ack.error->details.raw.find("source.deviceId")
            != std::string::npos);
  m.source.user_id = "bob";
  m.source.device_id = "phone";
  m.source.type = device_type::mobile;
  ack = decode(send(*phone, m));
  CAF_CHECK_EQUAL(ack.ack.error->code, "SOURCE_MISMATCH");
  CAF_CHECK(silent(*laptop));
}

CAF_TEST(json and msgpack devices talk to each other) {
  test_node n;
  auto phone = connect_device(n, "alice", "phone", device_type::mobile, "",
                              codec::msgpack);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  CAF_REQUIRE(phone->result.ok);
  CAF_CHECK_EQUAL(phone->result.subprotocol, "tether.v1.msgpack");
  auto welcome = decode(phone->welcome, codec::msgpack);
  CAF_REQUIRE(welcome.ok());
  auto m = make_message("mp1", "alice", "phone", target::device);
  m.destination.device_id = "laptop";
  m.payload = protocol::json_value(R"({"n":[1,2.5,"x",{"y":null}]})");
  auto ack = decode(send(*phone, m, codec::msgpack), codec::msgpack);
  CAF_REQUIRE(ack.ok());
  CAF_CHECK(ack.ack.status == protocol::ack_status::received);
  auto got = decode(laptop->next());
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got.messages.front().msg.payload.raw,
                  R"({"n":[1,2.5,"x",{"y":null}]})");
  auto r = make_message("mp2", "alice", "laptop", target::device,
                        device_type::desktop);
  r.destination.device_id = "phone";
  r.optimization.requires_ack = false;
  CAF_CHECK(laptop->client.send(protocol::encode(codec::json, r)));
  auto f = phone->client.receive(3s);
  CAF_REQUIRE(f.has_value());
  CAF_CHECK(f->binary);
  auto back = decode(f->data, codec::msgpack);
  CAF_REQUIRE(back.ok());
  CAF_CHECK_EQUAL(id_of(back), "mp2");
}

CAF_TEST(a batch is acked per message with its batch id) {
  test_node n;
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  protocol::batch_message b;
  b.id = "batch-1";
  b.timestamp = now_ms();
  for (auto id : {"b1", "b2"}) {
    auto m = make_message(id, "alice", "phone", target::device);
    m.destination.device_id = "laptop";
    b.messages.push_back(m);
  }
  b.messages[1].destination.device_id.reset(); // invalid: device w/o id
  b.metadata.message_count = 2;
  CAF_CHECK(phone->client.send(protocol::encode(codec::json, b)));
  std::vector<protocol::message_ack> acks;
  for (int i = 0; i < 2; ++i)
    acks.push_back(decode(phone->next()).ack);
  CAF_REQUIRE_EQUAL(acks.size(), 2u);
  for (auto& a : acks)
    CAF_CHECK_EQUAL(a.batch_id.value_or(""), "batch-1");
  auto ok = acks[0].message_id == "b1" ? acks[0] : acks[1];
  auto bad = acks[0].message_id == "b2" ? acks[0] : acks[1];
  CAF_CHECK(ok.status == protocol::ack_status::received);
  CAF_CHECK(bad.status == protocol::ack_status::failed);
  CAF_CHECK_EQUAL(bad.error->code, "VALIDATION_ERROR");
  CAF_CHECK_EQUAL(id_of(decode(laptop->next())), "b1");
}

CAF_TEST(a newer connection of the same device replaces the older one) {
  test_node n;
  auto first = connect_device(n, "alice", "phone", device_type::mobile);
  auto second = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_REQUIRE(second->result.ok);
  CAF_CHECK(!first->client.receive(3s).has_value());
  CAF_CHECK_EQUAL(first->client.close_code().value_or(0), 4500);
  // The new connection works.
  auto m = make_message("r1", "alice", "phone", target::device);
  m.destination.device_id = "phone";
  CAF_CHECK(second->client.send(protocol::encode(codec::json, m)));
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto f = decode(second->next());
    ids.push_back(f.kind == protocol::frame_kind::ack
                    ? "ack:" + f.ack.message_id
                    : id_of(f));
  }
  std::sort(ids.begin(), ids.end());
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"ack:r1", "r1"}));
}

#define CAF_SUITE integration.delivery
#include <caf/test/unit_test.hpp>

#include "protocol/codec.hpp"
#include "protocol/compression.hpp"
#include "test/support/http_get.hpp"
#include "test/support/test_node.hpp"

using namespace tether;
using namespace tether::test;
using protocol::codec;
using protocol::device_type;
using protocol::priority;
using protocol::target;
using namespace std::chrono_literals;

namespace {

// Generous inbound limits: these tests send fast on purpose.
void fast(config::settings& s) {
  s.limits.guard.rate_per_second = 1e6;
  s.limits.guard.burst = 1e6;
}

protocol::mobile_message to(const std::string& id, const std::string& device,
                            priority p = priority::normal,
                            const std::string& from = "phone") {
  auto m = make_message(id, "alice", from, target::device);
  m.destination.device_id = device;
  m.optimization.prio = p;
  return m;
}

// Sends and waits for the received ack.
bool send_acked(test_device& d, const protocol::mobile_message& m) {
  if (!d.client.send(protocol::encode(codec::json, m)))
    return false;
  for (int i = 0; i < 10; ++i) {
    auto f = protocol::decode(codec::json, d.next(), protocol::limits{});
    if (f.ok() && f.kind == protocol::frame_kind::ack
        && f.ack.message_id == m.id)
      return f.ack.status == protocol::ack_status::received;
  }
  return false;
}

std::vector<std::string> ids(const reading& r) {
  std::vector<std::string> out;
  for (auto& m : r.messages)
    out.push_back(m.id);
  return out;
}

// Makes `device` known to the node (it connected once), then offline.
void register_device(const test_node& n, const std::string& device) {
  auto d = connect_device(n, "alice", device, device_type::desktop);
  CAF_REQUIRE(d->result.ok);
  d->client.close();
}

} // namespace

CAF_TEST(an offline device gets its backlog in priority order) {
  test_node n{fast};
  register_device(n, "laptop");
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto sends = std::vector<std::pair<std::string, priority>>{
    {"l1", priority::low},      {"n1", priority::normal},
    {"c1", priority::critical}, {"h1", priority::high},
    {"n2", priority::normal},   {"l2", priority::low},
    {"c2", priority::critical}};
  for (auto& [id, p] : sends)
    CAF_CHECK(send_acked(*phone, to(id, "laptop", p)));
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  CAF_REQUIRE(laptop->result.ok);
  auto r = read_messages(laptop->client, sends.size());
  CAF_CHECK_EQUAL(ids(r), (std::vector<std::string>{"c1", "c2", "h1", "n1",
                                                    "n2", "l1", "l2"}));
  for (size_t i = 1; i < r.messages.size(); ++i)
    CAF_CHECK_EQUAL(r.messages[i].seq, r.messages[i - 1].seq + 1);
}

CAF_TEST(expired messages are not delivered and the device is told) {
  test_node n{fast};
  register_device(n, "laptop");
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto short_lived = to("brief", "laptop");
  short_lived.optimization.ttl_ms = 1000;
  CAF_CHECK(send_acked(*phone, short_lived));
  CAF_CHECK(send_acked(*phone, to("lasting", "laptop")));
  // Two seconds pass for the queues (test clock hook, no sleeping).
  n.node().advance_clock(2s);
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto r = read_messages(laptop->client, 2);
  CAF_REQUIRE_EQUAL(r.messages.size(), 2u);
  CAF_CHECK_EQUAL(r.messages[0].type, "tether.gap");
  CAF_CHECK(r.messages[0].payload.find(R"("reason":"expired","count":1)")
            != std::string::npos);
  CAF_CHECK(r.messages[0].payload.find("brief") != std::string::npos);
  CAF_CHECK_EQUAL(r.messages[1].id, "lasting");
  auto metrics = http_get(n.port(), "/metrics").body;
  CAF_CHECK(metrics.find(R"(tether_queue_events_total{event="expired"} 1)")
            != std::string::npos);
}

CAF_TEST(overflow follows the policy and the sender learns QUEUE_OVERFLOW) {
  test_node n{[](config::settings& s) {
    fast(s);
    s.queue.queue.max_items = 3;
  }};
  register_device(n, "laptop");
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_CHECK(send_acked(*phone, to("low", "laptop", priority::low)));
  CAF_CHECK(send_acked(*phone, to("c1", "laptop", priority::critical)));
  CAF_CHECK(send_acked(*phone, to("c2", "laptop", priority::critical)));
  // A high message evicts the low one; a critical one evicts the high one.
  CAF_CHECK(send_acked(*phone, to("high", "laptop", priority::high)));
  CAF_CHECK(send_acked(*phone, to("c3", "laptop", priority::critical)));
  // Critical messages are never evicted: the next one is refused.
  auto m = to("c4", "laptop", priority::critical);
  CAF_REQUIRE(phone->client.send(protocol::encode(codec::json, m)));
  auto f = protocol::decode(codec::json, phone->next(), protocol::limits{});
  CAF_REQUIRE(f.kind == protocol::frame_kind::ack);
  CAF_CHECK(f.ack.status == protocol::ack_status::failed);
  CAF_CHECK(f.ack.error && f.ack.error->code == "QUEUE_OVERFLOW");
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto r = read_messages(laptop->client, 4);
  CAF_REQUIRE_EQUAL(r.messages.size(), 4u);
  CAF_CHECK_EQUAL(r.messages[0].type, "tether.gap");
  CAF_CHECK(r.messages[0].payload.find(R"("reason":"evicted","count":2)")
            != std::string::npos);
  CAF_CHECK(r.messages[0].payload.find(R"(["low","high"])")
            != std::string::npos);
  CAF_CHECK_EQUAL(r.messages[1].id, "c1");
  CAF_CHECK_EQUAL(r.messages[2].id, "c2");
  CAF_CHECK_EQUAL(r.messages[3].id, "c3");
}

CAF_TEST(an unacked message is redelivered after the ack timeout) {
  test_node n{[](config::settings& s) {
    fast(s);
    s.queue.queue.ack_timeout = 300ms;
  }};
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  CAF_CHECK(send_acked(*phone, to("once", "laptop")));
  auto first = read_messages(laptop->client, 1);
  // Not acked: it comes again with the same seq.
  auto second = read_messages(laptop->client, 1, 3s);
  CAF_REQUIRE_EQUAL(first.messages.size(), 1u);
  CAF_REQUIRE_EQUAL(second.messages.size(), 1u);
  CAF_CHECK_EQUAL(second.messages[0].id, "once");
  CAF_CHECK_EQUAL(second.messages[0].seq, first.messages[0].seq);
  // Acked by seq: no third delivery.
  CAF_CHECK(laptop->client.send(
    R"({"messageId":"once","status":"received","timestamp":1,"seq":)"
    + std::to_string(first.messages[0].seq) + "}"));
  CAF_CHECK(read_messages(laptop->client, 1, 800ms).messages.empty());
}

CAF_TEST(a resent message id is delivered once) {
  test_node n{fast};
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  auto m = to("dup-1", "laptop");
  CAF_CHECK(send_acked(*phone, m));
  CAF_CHECK(send_acked(*phone, m)); // the sender never saw the first ack
  auto r = read_messages(laptop->client, 2, 1s);
  CAF_CHECK_EQUAL(ids(r), std::vector<std::string>{"dup-1"});
}

CAF_TEST(a device resuming with its token gets only what it did not ack) {
  test_node n{fast};
  register_device(n, "laptop");
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  for (auto id : {"a", "b", "c"})
    CAF_CHECK(send_acked(*phone, to(id, "laptop")));
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto w = protocol::decode(codec::json, laptop->welcome, protocol::limits{});
  auto token = json_field(w.messages.front().msg.payload.raw, "resumeToken");
  CAF_REQUIRE_EQUAL(token.size(), 16u);
  auto r = read_messages(laptop->client, 3);
  CAF_REQUIRE_EQUAL(r.messages.size(), 3u);
  // The link drops after the device processed a and b, before acking.
  laptop->client.abort();
  runtime::ws_client again;
  auto opts = n.options(n.token("alice", "laptop", device_type::desktop));
  opts.target = "/ws?resume=" + token
                + "&lastSeq=" + std::to_string(r.messages[1].seq);
  CAF_REQUIRE(again.connect(opts).ok);
  auto welcome = again.receive(3s);
  CAF_REQUIRE(welcome.has_value());
  CAF_CHECK(welcome->data.find(R"("resumed":true)") != std::string::npos);
  auto rest = read_messages(again, 1);
  CAF_CHECK_EQUAL(ids(rest), std::vector<std::string>{"c"});
  CAF_CHECK_EQUAL(rest.messages[0].seq, r.messages[2].seq);
}

CAF_TEST(batching cuts frames at a high send rate) {
  test_node n{[](config::settings& s) {
    fast(s);
    // Room for the whole burst: this test counts frames, not evictions.
    s.queue.queue.max_items = 10000;
  }};
  auto laptop = connect_device(n, "alice", "laptop", device_type::desktop);
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  constexpr size_t total = 2000;
  // The sender batches too (100 per frame), as fast as it can.
  for (size_t b = 0; b < total / 100; ++b) {
    protocol::batch_message batch;
    batch.id = "sb" + std::to_string(b);
    for (size_t i = 0; i < 100; ++i) {
      auto m = to("m" + std::to_string(b * 100 + i), "laptop");
      m.optimization.requires_ack = false;
      batch.messages.push_back(std::move(m));
    }
    CAF_REQUIRE(phone->client.send(protocol::encode(codec::json, batch)));
  }
  auto r = read_messages(laptop->client, total, 5s);
  CAF_CHECK_EQUAL(r.messages.size(), total);
  CAF_MESSAGE("frames for " << total << " messages: " << r.frames);
  // At least 80% fewer frames than one per message.
  CAF_CHECK(r.frames * 5 <= total);
  // Order of one sender within a priority is kept.
  bool ordered = true;
  for (size_t i = 0; i < r.messages.size(); ++i)
    ordered = ordered && r.messages[i].id == "m" + std::to_string(i);
  CAF_CHECK(ordered);
}

CAF_TEST(app level compression for a client without permessage deflate) {
  test_node n{fast};
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  runtime::ws_client laptop;
  auto opts = n.options(n.token("alice", "laptop", device_type::desktop));
  opts.target = "/ws?compress=deflate";
  CAF_REQUIRE(laptop.connect(opts).ok);
  auto welcome = laptop.receive(3s);
  CAF_REQUIRE(welcome.has_value());
  CAF_CHECK(welcome->data.find(R"("frameCompression":"deflate")")
            != std::string::npos);
  auto m = to("big", "laptop");
  m.payload
    = protocol::json_value(R"({"log":")" + std::string(20000, 'a') + R"("})");
  CAF_CHECK(send_acked(*phone, m));
  auto f = laptop.receive(3s);
  CAF_REQUIRE(f.has_value());
  CAF_CHECK(f->binary);
  CAF_CHECK(protocol::is_compressed_frame(f->data));
  CAF_CHECK(f->data.size() < 1000);
  std::string raw;
  CAF_REQUIRE(protocol::open_compressed_frame(f->data, 1 << 20, raw)
              == protocol::inflate_error::none);
  auto d = protocol::decode(codec::json, raw, protocol::limits{});
  CAF_REQUIRE(d.ok());
  CAF_CHECK_EQUAL(d.messages.front().msg.id, "big");
  // The client may send compressed frames too.
  auto up = to("up", "laptop");
  CAF_REQUIRE(phone->client.send(
    protocol::make_compressed_frame(protocol::encode(codec::json, up),
                                    protocol::zip_format::gzip),
    true));
  auto ack = protocol::decode(codec::json, phone->next(), protocol::limits{});
  CAF_CHECK(ack.ack.status == protocol::ack_status::received);
}

CAF_TEST(decompression bombs are refused on both layers) {
  test_node n{[](config::settings& s) {
    fast(s);
    s.limits.max_message_bytes = 1 << 20;
    s.limits.protocol.max_payload_bytes = 1 << 19;
  }};
  auto phone = connect_device(n, "alice", "phone", device_type::mobile);
  // App level: 64 MiB of zeros in a small frame.
  std::string zeros(64 << 20, '\0');
  auto bomb = protocol::make_compressed_frame(zeros,
                                              protocol::zip_format::deflate, 9);
  CAF_REQUIRE(phone->client.send(bomb, true));
  auto f = protocol::decode(codec::json, phone->next(), protocol::limits{});
  CAF_REQUIRE(f.kind == protocol::frame_kind::ack);
  CAF_CHECK(f.ack.error && f.ack.error->code == "DECOMPRESSION_ERROR");
  // The connection keeps working.
  auto m = to("after", "phone");
  CAF_CHECK(send_acked(*phone, m));
  // permessage-deflate: the inflated size counts against the limit.
  auto d = connect_device(n, "alice", "tablet", device_type::tablet, "",
                          codec::json, true);
  CAF_REQUIRE(d->result.deflate);
  d->client.send(std::string(8 << 20, ' '));
  CAF_CHECK(!d->client.receive(3s).has_value());
  // (Beast's client may lose the close frame after its write failed; the
  // interop test checks the code on the client side. Here: the server's.)
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = http_get(n.port(), "/metrics").body;
    if (metrics.find(R"(tether_connections_closed_total{code="1009"} 1)")
        != std::string::npos)
      break;
    d->client.receive(20ms);
  }
  CAF_CHECK(metrics.find(R"(tether_connections_closed_total{code="1009"} 1)")
            != std::string::npos);
}

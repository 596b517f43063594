#define CAF_SUITE protocol.client
#include <caf/test/unit_test.hpp>

#include "protocol/client.hpp"
#include "protocol/codec.hpp"

using namespace tether::protocol;

CAF_TEST(session targets carry the resume token and last seq) {
  CAF_CHECK_EQUAL(session_target("/ws", "", 7), "/ws");
  CAF_CHECK_EQUAL(session_target("/ws", "ab12", 7),
                  "/ws?resume=ab12&lastSeq=7");
  CAF_CHECK_EQUAL(session_target("/ws?x=1", "ab12", 0),
                  "/ws?x=1&resume=ab12&lastSeq=0");
  CAF_CHECK_EQUAL(subprotocol(codec::json), "tether.v1.json");
  CAF_CHECK_EQUAL(subprotocol(codec::msgpack), "tether.v1.msgpack");
  auto c = codec::json;
  CAF_CHECK(from_subprotocol("tether.v1.msgpack", c) && c == codec::msgpack);
  CAF_CHECK(from_subprotocol("tether.v1.json", c) && c == codec::json);
  CAF_CHECK(!from_subprotocol("tether.v2.json", c));
}

CAF_TEST(welcome and gap notices read back in both codecs) {
  welcome_info w;
  w.session_id = "s1";
  w.user_id = "alice";
  w.device_id = "phone";
  w.type = device_type::tablet;
  w.resume_token = "feed";
  w.resumed = true;
  w.heartbeat_interval_ms = 20000;
  w.max_batch_messages = 100;
  gap_info g;
  g.reason = "evicted";
  g.count = 3;
  g.message_ids = {"m1", "m2"};
  for (auto c : {codec::json, codec::msgpack}) {
    auto f = decode(c, encode(c, make_welcome(w, 1)), limits{});
    CAF_REQUIRE(f.ok());
    welcome_info r;
    CAF_REQUIRE(read_welcome(f.messages[0].msg.payload, r));
    CAF_CHECK_EQUAL(r.session_id, "s1");
    CAF_CHECK_EQUAL(r.resume_token, "feed");
    CAF_CHECK(r.resumed);
    CAF_CHECK(r.type == device_type::tablet);
    CAF_CHECK_EQUAL(r.heartbeat_interval_ms, 20000);
    CAF_CHECK_EQUAL(r.max_batch_messages, 100u);
    auto gf = decode(c, encode(c, make_gap("alice", "phone", g, 1)), limits{});
    CAF_REQUIRE(gf.ok());
    gap_info rg;
    CAF_REQUIRE(read_gap(gf.messages[0].msg.payload, rg));
    CAF_CHECK_EQUAL(rg.count, 3u);
    CAF_CHECK_EQUAL(rg.message_ids.size(), 2u);
    CAF_CHECK(!read_welcome(gf.messages[0].msg.payload, r));
  }
}

CAF_TEST(probe times survive both codecs and transcoding) {
  for (uint64_t t :
       {0ull, 5ull, 200ull, 70000ull, 5000000000ull, 18446744073709551615ull}) {
    auto p = make_probe_payload(t, 64);
    CAF_CHECK_EQUAL(p.raw.size(), 64u);
    uint64_t got = 1;
    CAF_CHECK(read_probe_time(p, got));
    CAF_CHECK_EQUAL(got, t);
    raw_value mp;
    CAF_REQUIRE(convert(p, codec::msgpack, mp));
    got = 1;
    CAF_CHECK(read_probe_time(mp, got));
    CAF_CHECK_EQUAL(got, t);
  }
  uint64_t t = 0;
  CAF_CHECK(!read_probe_time(json_value(R"({"x":1})"), t));
  CAF_CHECK(!read_probe_time(json_value("[1]"), t));
  raw_value junk{codec::msgpack, std::string{"\x81\xa1t", 3}};
  CAF_CHECK(!read_probe_time(junk, t)); // truncated
}

CAF_TEST(device acks and requests are well formed) {
  auto ack = make_delivery_ack(42, 1);
  CAF_CHECK_EQUAL(
    encode(codec::json, ack),
    R"({"messageId":"","status":"received","timestamp":1,"seq":42})");
  auto f = decode(codec::json, encode(codec::json, ack), limits{});
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.kind == frame_kind::ack);
  CAF_CHECK_EQUAL(*f.ack.seq, 42u);
  source_info src;
  src.user_id = "alice";
  src.device_id = "phone";
  auto m = make_request(src, "r1", "tether.join", R"({"room":"team"})", true,
                        9);
  auto rf = decode(codec::msgpack, encode(codec::msgpack, m), limits{});
  CAF_REQUIRE(rf.ok());
  CAF_REQUIRE(rf.messages.size() == 1 && rf.messages[0].ok());
  CAF_CHECK(rf.messages[0].msg.destination.to == target::cloud);
  CAF_CHECK(rf.messages[0].msg.optimization.requires_ack);
}

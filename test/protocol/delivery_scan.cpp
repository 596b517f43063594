#define CAF_SUITE protocol.delivery_scan
#include <caf/test/unit_test.hpp>

#include <string>

#include "protocol/client.hpp"
#include "protocol/codec.hpp"
#include "protocol/delivery_scan.hpp"

using namespace tether::protocol;

namespace {

// A delivered message as tetherd writes it (SPEC §3.1, keys in table
// order), with `extra` spliced in before `seq`.
std::string delivered(const std::string& id, const std::string& extra = {}) {
  return R"({"id":")" + id
         + R"(","timestamp":1,"protocolVersion":"1.0.0",)"
           R"("source":{"deviceId":"d0","userId":"pub-0","deviceType":"mobile","timestamp":1},)"
           R"("destination":{"target":"broadcast","broadcast":{"scope":"room","room":"r"}},)"
           R"("type":"chat","payload":{"t":123456789012,"pad":"xx"},)"
           R"("optimization":{"priority":"high","requiresAck":true},)"
         + extra + R"("seq":7})";
}

} // namespace

CAF_TEST(a delivered message is read without a DOM) {
  delivery_scan s;
  CAF_REQUIRE(s.scan(delivered("pub-0/d0~r#12")));
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  auto& m = s[0];
  CAF_CHECK_EQUAL(m.id, "pub-0/d0~r#12");
  CAF_CHECK(m.has_seq);
  CAF_CHECK_EQUAL(m.seq, 7u);
  CAF_CHECK(m.requires_ack);
  CAF_CHECK(m.prio == priority::high);
  CAF_CHECK(m.has_probe);
  CAF_CHECK_EQUAL(m.probe, 123456789012u);
}

CAF_TEST(what the codec writes reads back the same) {
  mobile_message m;
  m.id = "a/b~r#1";
  m.timestamp = 5;
  m.source.user_id = "a";
  m.source.device_id = "b";
  m.destination.to = target::device;
  m.destination.device_id = "c";
  m.type = "chat";
  m.payload = make_probe_payload(42, 64);
  m.optimization.prio = priority::low;
  delivery_scan s;
  CAF_REQUIRE(s.scan(encode(codec::json, m)));
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  CAF_CHECK_EQUAL(s[0].id, "a/b~r#1");
  CAF_CHECK(!s[0].has_seq);
  CAF_CHECK(!s[0].requires_ack);
  CAF_CHECK(s[0].prio == priority::low);
  CAF_CHECK(s[0].has_probe && s[0].probe == 42u);
}

CAF_TEST(a batch gives its messages in order) {
  delivery_scan s;
  auto batch = R"({"id":"b1","timestamp":1,"messages":[)" + delivered("m1")
               + "," + delivered("m2") + R"(],"metadata":{"messageCount":2}})";
  CAF_REQUIRE(s.scan(batch));
  CAF_REQUIRE_EQUAL(s.size(), 2u);
  CAF_CHECK_EQUAL(s[0].id, "m1");
  CAF_CHECK_EQUAL(s[1].id, "m2");
  // The scratch is reused: a single message after the batch.
  CAF_REQUIRE(s.scan(delivered("m3")));
  CAF_REQUIRE_EQUAL(s.size(), 1u);
  CAF_CHECK_EQUAL(s[0].id, "m3");
}

CAF_TEST(a payload without a leading t has no probe) {
  delivery_scan s;
  auto text = delivered("m1");
  auto at = text.find(R"("t":)");
  text.replace(at, 4, R"("u":)");
  CAF_REQUIRE(s.scan(text));
  CAF_CHECK(!s[0].has_probe);
  CAF_REQUIRE(s.scan(R"({"id":"m","timestamp":1,"protocolVersion":"1.0.0",)"
                     R"("source":{"userId":"u"},"destination":{},)"
                     R"("type":"x","payload":[1,{"t":2}],)"
                     R"("optimization":{"priority":"normal"}})"));
  CAF_CHECK(!s[0].has_probe);
}

CAF_TEST(everything else is left to the decoder) {
  delivery_scan s;
  // Acks, heartbeats, control messages of the server.
  CAF_CHECK(!s.scan(R"({"messageId":"m1","status":"received","timestamp":1})"));
  CAF_CHECK(!s.scan(R"({"type":"pong","timestamp":42,"serverTime":1})"));
  welcome_info w;
  w.session_id = "s";
  CAF_CHECK(!s.scan(encode(codec::json, make_welcome(w, 1))));
  // A user's own tether.* type is not the server's.
  auto user_typed = delivered("m1");
  user_typed.replace(user_typed.find(R"("chat")"), 6, R"("tether.x")");
  CAF_CHECK(s.scan(user_typed));
  // Not an object, broken, truncated, not UTF-8.
  CAF_CHECK(!s.scan("[1,2]"));
  CAF_CHECK(!s.scan("\"m\""));
  CAF_CHECK(!s.scan(""));
  auto full = delivered("m1");
  CAF_CHECK(!s.scan(full.substr(0, full.size() - 1)));
  CAF_CHECK(!s.scan(delivered("m\xff")));
  // A key read twice, at the top or nested.
  CAF_CHECK(!s.scan(delivered("m1", R"("id":"m2",)")));
  auto twice = delivered("m1");
  twice.replace(twice.find(R"("requiresAck":true)"), 18,
                R"("priority":"low","requiresAck":true)");
  CAF_CHECK(!s.scan(twice));
  // Required fields, and their types.
  auto no_prio = delivered("m1");
  no_prio.replace(no_prio.find(R"("priority":"high",)"), 18, "");
  CAF_CHECK(!s.scan(no_prio));
  CAF_CHECK(!s.scan(delivered("")));
  auto bad_seq = delivered("m1");
  bad_seq.replace(bad_seq.find(R"("seq":7)"), 7, R"("seq":-7)");
  CAF_CHECK(!s.scan(bad_seq));
  auto bad_prio = delivered("m1");
  bad_prio.replace(bad_prio.find(R"("high")"), 6, R"("urgent")");
  CAF_CHECK(!s.scan(bad_prio));
  // A batch member that claims to be a batch or an ack; an empty batch.
  CAF_CHECK(!s.scan(R"({"id":"b","messages":[)"
                    + delivered("m1", R"("messages":[],)") + "]}"));
  CAF_CHECK(!s.scan(R"({"id":"b","messages":[)"
                    + delivered("m1", R"("status":"received",)") + "]}"));
  CAF_CHECK(!s.scan(R"({"id":"b","messages":[]})"));
  CAF_CHECK(!s.scan(R"({"id":"b","messages":[1]})"));
  CAF_CHECK_EQUAL(s.size(), 0u);
}

CAF_TEST(nesting is bounded) {
  delivery_scan s;
  std::string deep = delivered("m1");
  auto at = deep.find(R"("pad":"xx")");
  deep.replace(at, 10,
               R"("pad":)" + std::string(100, '[') + std::string(100, ']'));
  CAF_CHECK(!s.scan(deep, 64));
  CAF_CHECK(s.scan(deep, 128));
}

#define CAF_SUITE protocol.codec
#include <caf/test/unit_test.hpp>

#include "protocol/codec.hpp"
#include "protocol/validate.hpp"
#include "test/support/hex.hpp"

using namespace tether::protocol;
using tether::test::hex;
using tether::test::unhex;

namespace {

// An envelope as the original mobile client writes it, in the server's key
// order (so that re-encoding must reproduce it byte for byte).
constexpr std::string_view example_json
  = R"({"id":"m1","timestamp":1700000000000,"protocolVersion":"1.0.0",)"
    R"("source":{"deviceId":"p","userId":"a","deviceType":"mobile",)"
    R"("timestamp":1},"destination":{"target":"device","deviceId":"l"},)"
    R"("type":"t","payload":{"k":[1,-1,true,null,1.5]},)"
    R"("optimization":{"priority":"high","requiresAck":true}})";

// The same envelope packed by an independent implementation (python-msgpack
// 1.0.4: msgpack.packb(m).hex()), annotated:
constexpr std::string_view example_msgpack
  = "88"                                              // map, 8 keys
    "a2 6964 a2 6d31"                                 // "id": "m1"
    "a9 74696d657374616d70 cf 0000018bcfe56800"       // "timestamp": uint64
    "af 70726f746f636f6c56657273696f6e a5 312e302e30" // "protocolVersion"
    "a6 736f75726365 84"                              // "source": map 4
    "a8 6465766963654964 a1 70"                       //   "deviceId": "p"
    "a6 757365724964 a1 61"                           //   "userId": "a"
    "aa 64657669636554797065 a6 6d6f62696c65" //   "deviceType": "mobile"
    "a9 74696d657374616d70 01"                //   "timestamp": 1
    "ab 64657374696e6174696f6e 82"            // "destination": map 2
    "a6 746172676574 a6 646576696365"         //   "target": "device"
    "a8 6465766963654964 a1 6c"               //   "deviceId": "l"
    "a4 74797065 a1 74"                       // "type": "t"
    "a7 7061796c6f6164 81 a1 6b"              // "payload": {"k":
    "95 01 ff c3 c0 cb 3ff8000000000000"      //   [1,-1,true,nil,1.5]}
    "ac 6f7074696d697a6174696f6e 82"          // "optimization": map 2
    "a8 7072696f72697479 a4 68696768"         //   "priority": "high"
    "ab 726571756972657341636b c3";           //   "requiresAck": true

decoded_frame decode_json(std::string_view text) {
  return decode(codec::json, text, limits{});
}

decoded_frame decode_mp(std::string_view bytes) {
  return decode(codec::msgpack, bytes, limits{});
}

bool has_error(const decoded_message& dm, const std::string& field) {
  for (auto& e : dm.errors)
    if (e.field == field)
      return true;
  return false;
}

} // namespace

CAF_TEST(a json message round trips byte for byte) {
  auto f = decode_json(example_json);
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE(f.kind == frame_kind::message);
  auto& dm = f.messages.front();
  CAF_CHECK(dm.ok());
  CAF_CHECK_EQUAL(dm.msg.id, "m1");
  CAF_CHECK_EQUAL(dm.msg.timestamp, 1700000000000);
  CAF_CHECK(dm.msg.destination.to == target::device);
  CAF_CHECK(dm.msg.optimization.prio == priority::high);
  CAF_CHECK(dm.msg.optimization.requires_ack);
  CAF_CHECK_EQUAL(dm.msg.payload.raw, R"({"k":[1,-1,true,null,1.5]})");
  CAF_CHECK_EQUAL(encode(codec::json, dm.msg), example_json);
}

CAF_TEST(msgpack encoding matches an independent implementation) {
  auto f = decode_json(example_json);
  CAF_REQUIRE(f.ok());
  auto packed = encode(codec::msgpack, f.messages.front().msg);
  CAF_CHECK_EQUAL(hex(packed), hex(unhex(example_msgpack)));
}

CAF_TEST(a msgpack message decodes to the same model and back) {
  auto f = decode_mp(unhex(example_msgpack));
  CAF_REQUIRE(f.ok());
  auto& dm = f.messages.front();
  CAF_CHECK(dm.ok());
  CAF_CHECK(dm.msg.payload.format == codec::msgpack);
  CAF_CHECK_EQUAL(hex(encode(codec::msgpack, dm.msg)),
                  hex(unhex(example_msgpack)));
  // And across codecs: the msgpack payload is transcoded to JSON.
  CAF_CHECK_EQUAL(encode(codec::json, dm.msg), example_json);
}

CAF_TEST(acks encode byte exact in both codecs) {
  message_ack ack;
  ack.message_id = "m1";
  ack.status = ack_status::received;
  ack.timestamp = 5;
  CAF_CHECK_EQUAL(encode(codec::json, ack),
                  R"({"messageId":"m1","status":"received","timestamp":5})");
  // python: msgpack.packb({'messageId':'m1','status':'received',
  // 'timestamp':5})
  CAF_CHECK_EQUAL(hex(encode(codec::msgpack, ack)),
                  "83 a9 6d 65 73 73 61 67 65 49 64 a2 6d 31 a6 73 74 61 74 "
                  "75 73 a8 72 65 63 65 69 76 65 64 a9 74 69 6d 65 73 74 61 "
                  "6d 70 05");
  auto f = decode_mp(encode(codec::msgpack, ack));
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.kind == frame_kind::ack);
  CAF_CHECK_EQUAL(f.ack.message_id, "m1");
  CAF_CHECK(f.ack.status == ack_status::received);
}

CAF_TEST(a failed ack carries code message and details) {
  message_ack ack;
  ack.message_id = "m9";
  ack.batch_id = "b1";
  ack.status = ack_status::failed;
  ack.timestamp = 7;
  ack.error = ack_error{"VALIDATION_ERROR", "bad",
                        json_value(R"({"errors":[]})")};
  CAF_CHECK_EQUAL(encode(codec::json, ack),
                  R"({"messageId":"m9","batchId":"b1","status":"failed",)"
                  R"("timestamp":7,"error":{"code":"VALIDATION_ERROR",)"
                  R"("message":"bad","details":{"errors":[]}}})");
  auto f = decode_json(encode(codec::json, ack));
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE(f.ack.error.has_value());
  CAF_CHECK_EQUAL(f.ack.error->code, "VALIDATION_ERROR");
  CAF_CHECK_EQUAL(f.ack.error->details.raw, R"({"errors":[]})");
}

CAF_TEST(heartbeat frames of the original client are recognized) {
  auto f = decode_json(R"({"type":"ping","timestamp":42})");
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.kind == frame_kind::heartbeat);
  CAF_CHECK(!f.hb.pong);
  CAF_CHECK_EQUAL(f.hb.timestamp, 42);
  heartbeat pong{true, 42, 43};
  CAF_CHECK_EQUAL(encode(codec::json, pong),
                  R"({"type":"pong","timestamp":42,"serverTime":43})");
  CAF_CHECK_EQUAL(hex(encode(codec::msgpack, heartbeat{true, 5, 7})),
                  "83 a4 74 79 70 65 a4 70 6f 6e 67 a9 74 69 6d 65 73 74 61 "
                  "6d 70 05 aa 73 65 72 76 65 72 54 69 6d 65 07");
}

CAF_TEST(a ping with an id is an envelope not a heartbeat) {
  auto f = decode_json(R"({"id":"x","type":"ping"})");
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.kind == frame_kind::message);
  CAF_CHECK(!f.messages.front().ok());
}

CAF_TEST(a batch decodes each message with its own errors) {
  std::string batch = R"({"id":"b1","timestamp":1,"messages":[)";
  batch += example_json;
  batch += R"(,{"id":"bad"}],"metadata":{"totalSize":1,"messageCount":2,)"
           R"("priority":"high"}})";
  auto f = decode_json(batch);
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.kind == frame_kind::batch);
  CAF_CHECK_EQUAL(f.batch_id, "b1");
  CAF_REQUIRE_EQUAL(f.messages.size(), 2u);
  CAF_CHECK(f.messages[0].ok());
  CAF_CHECK(!f.messages[1].ok());
  CAF_CHECK_EQUAL(f.messages[1].msg.id, "bad");
  CAF_CHECK(has_error(f.messages[1], "source"));
}

CAF_TEST(batch encoding follows the original BatchMessage shape) {
  batch_message b;
  b.id = "b1";
  b.timestamp = 2;
  b.metadata.total_size = 10;
  b.metadata.message_count = 0;
  b.metadata.prio = priority::low;
  CAF_CHECK_EQUAL(encode(codec::json, b),
                  R"({"id":"b1","timestamp":2,"messages":[],"metadata":)"
                  R"({"totalSize":10,"messageCount":0,"priority":"low"}})");
}

CAF_TEST(a batch over the message cap is refused as a whole) {
  limits lim;
  lim.max_batch_messages = 1;
  std::string batch = R"({"id":"b","messages":[)";
  batch += example_json;
  batch += ",";
  batch += example_json;
  batch += "]}";
  auto f = decode(codec::json, batch, lim);
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.messages.empty());
  CAF_REQUIRE_EQUAL(f.batch_errors.size(), 1u);
  CAF_CHECK_EQUAL(f.batch_errors.front().field, "messages");
}

CAF_TEST(malformed input is an error not an exception) {
  for (auto text :
       {"", "not json", "[1,2]", "{\"id\":", "{} trailing", "42", "\"str\""}) {
    auto f = decode_json(text);
    CAF_CHECK(!f.ok());
    CAF_CHECK(f.error == errc::malformed_frame);
  }
  // 100k nested arrays: the iterative parser does not recurse.
  std::string deep(100000, '[');
  CAF_CHECK(!decode_json(deep).ok());
}

CAF_TEST(a lone surrogate escape is not unicode and is refused) {
  // Found by the decode_json fuzzer: rapidjson turned "\udc80" into bytes
  // that are not UTF-8, which were forwarded in text frames (browsers close
  // on them) and could not be transcoded to msgpack.
  auto with = [](const std::string& text) {
    return std::string{R"({"id":"m","timestamp":1,"protocolVersion":"1.0.0",)"
                       R"("source":{"deviceId":"d","userId":"u",)"
                       R"("deviceType":"mobile","timestamp":1},)"
                       R"("destination":{"target":"extension"},"type":"t",)"
                       R"("optimization":{"priority":"normal"},"payload":)"}
           + text + "}";
  };
  for (auto bad : {R"("\udc80")", R"({"k\uDFFF":1})",
                   R"(["a\ud83d\ude00\udc00"])", R"("\ud83dx\ude00")"}) {
    auto f = decode_json(with(bad));
    CAF_CHECK(!f.ok());
    CAF_CHECK(f.error == errc::malformed_frame);
  }
  // A pair is one character; an escaped backslash is no escape.
  for (auto good : {R"("\ud83d\ude00")", R"("\\udc80")", R"("\\\ud83d\ude00")",
                    R"("\u00e9\n\udbff\udfff")"}) {
    auto f = decode_json(with(good));
    CAF_REQUIRE(f.ok());
    CAF_CHECK(f.messages.front().ok());
  }
}

CAF_TEST(msgpack resource bombs are refused) {
  // array32 header claiming 2^32-1 elements in 5 bytes.
  auto f = decode_mp(unhex("dd ff ff ff ff"));
  CAF_CHECK(f.error == errc::malformed_frame);
  // map32 claiming 2^32-1 pairs.
  CAF_CHECK(decode_mp(unhex("df ff ff ff ff")).error == errc::malformed_frame);
  // str32 claiming 4 GiB.
  CAF_CHECK(decode_mp(unhex("db ff ff ff ff 61")).error
            == errc::malformed_frame);
  // ext types are refused outright.
  CAF_CHECK(decode_mp(unhex("d4 01 00")).error == errc::malformed_frame);
  // 1000 nested arrays exceed the depth limit.
  CAF_CHECK(decode_mp(std::string(1000, '\x91') + '\x01').error
            == errc::malformed_frame);
  // Trailing bytes after one object.
  CAF_CHECK(decode_mp(unhex("80 80")).error == errc::malformed_frame);
  // Truncated input.
  CAF_CHECK(decode_mp(unhex("82 a1")).error == errc::malformed_frame);
}

CAF_TEST(payload nesting beyond max_depth is a field error) {
  limits lim;
  lim.max_depth = 4;
  std::string text{example_json};
  std::string_view payload = R"({"k":[1,-1,true,null,1.5]})";
  text.replace(text.find(payload), payload.size(),
               R"({"a":{"b":{"c":{"d":{"e":1}}}}})");
  auto f = decode(codec::json, text, lim);
  CAF_REQUIRE(f.ok());
  CAF_CHECK(has_error(f.messages.front(), "payload"));
}

CAF_TEST(msgpack payloads must be representable in json) {
  auto f = decode_json(example_json);
  auto packed = encode(codec::msgpack, f.messages.front().msg);
  // Replace 1.5 (cb 3ff8...) with NaN (cb 7ff8...).
  auto nan_at = packed.find(unhex("cb 3f f8"));
  CAF_REQUIRE(nan_at != std::string::npos);
  auto with_nan = packed;
  with_nan[nan_at + 1] = '\x7f';
  auto g = decode_mp(with_nan);
  CAF_REQUIRE(g.ok());
  CAF_CHECK(has_error(g.messages.front(), "payload"));
  // Invalid UTF-8 in a payload string: "a" -> 0xff.
  auto bad = packed;
  auto key = bad.find(unhex("a1 6b"));
  bad[key + 1] = '\xff';
  auto h = decode_mp(bad);
  CAF_REQUIRE(h.ok());
  CAF_CHECK(has_error(h.messages.front(), "payload"));
}

CAF_TEST(an unknown top level key that is not utf8 is refused) {
  // Found by the decode_msgpack fuzzer: the key was forwarded to JSON
  // devices as bytes that are not UTF-8.
  std::string text{example_json};
  text.insert(text.size() - 1, R"(,"traceId":"abc")");
  auto packed = encode(codec::msgpack, decode_json(text).messages.front().msg);
  auto at = packed.find("traceId");
  CAF_REQUIRE(at != std::string::npos);
  packed[at + 2] = '\x91'; // "tr\x91ceId"
  auto f = decode_mp(packed);
  CAF_REQUIRE(f.ok());
  auto& dm = f.messages.front();
  CAF_CHECK(!dm.ok());
  CAF_CHECK(has_error(dm, "(unknown key)"));
  CAF_CHECK(dm.msg.extra.empty());
}

CAF_TEST(unknown top level fields are forwarded unchanged) {
  std::string text{example_json};
  text.insert(text.size() - 1, R"(,"traceId":"abc","x":{"n":1})");
  auto f = decode_json(text);
  CAF_REQUIRE(f.ok());
  auto& m = f.messages.front().msg;
  CAF_REQUIRE_EQUAL(m.extra.size(), 2u);
  CAF_CHECK_EQUAL(m.extra[0].name, "traceId");
  CAF_CHECK_EQUAL(encode(codec::json, m), text);
  // Through msgpack and back, too.
  auto g = decode_mp(encode(codec::msgpack, m));
  CAF_REQUIRE(g.ok());
  CAF_CHECK_EQUAL(encode(codec::json, g.messages.front().msg), text);
}

CAF_TEST(the server assigned seq is written last and read back) {
  auto f = decode_json(example_json);
  auto m = f.messages.front().msg;
  m.seq = 17;
  auto text = encode(codec::json, m);
  CAF_CHECK(text.find(R"("seq":17})") != std::string::npos);
  auto g = decode_json(text);
  CAF_CHECK_EQUAL(g.messages.front().msg.seq.value_or(0), 17u);
}

CAF_TEST(binary values become base64 strings for json peers) {
  raw_value v{codec::msgpack, unhex("c4 03 01 02 03")};
  raw_value out;
  CAF_REQUIRE(convert(v, codec::json, out));
  CAF_CHECK_EQUAL(out.raw, R"("AQID")");
}

CAF_TEST(splicing a seq equals encoding with it in both codecs) {
  auto f = decode_json(example_json);
  auto m = f.messages.front().msg;
  m.extra.push_back({"traceId", json_value(R"("t1")")});
  for (auto c : {codec::json, codec::msgpack}) {
    auto plain = encode(c, m);
    for (uint64_t seq : {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 65535ull,
                         65536ull, 4294967295ull, 4294967296ull}) {
      std::string spliced;
      CAF_REQUIRE(splice_seq(c, plain, seq, spliced));
      std::string direct;
      encode_to(c, m, seq, direct);
      CAF_CHECK_EQUAL(hex(spliced), hex(direct));
    }
  }
  // A map that grows from 15 to 16 keys switches to map16.
  auto big = m;
  while (big.extra.size() < 7)
    big.extra.push_back(
      {"x" + std::to_string(big.extra.size()), json_value("1")});
  auto plain = encode(codec::msgpack, big);
  CAF_REQUIRE_EQUAL(static_cast<unsigned char>(plain[0]), 0x8f);
  std::string spliced;
  CAF_REQUIRE(splice_seq(codec::msgpack, plain, 9, spliced));
  std::string direct;
  encode_to(codec::msgpack, big, 9, direct);
  CAF_CHECK_EQUAL(hex(spliced), hex(direct));
  CAF_CHECK(!splice_seq(codec::json, "[1]", 1, spliced));
}

// -- duplicate keys and nesting (attacker probe) ------------------------------

namespace {

// example_json with `insert` placed before the key `before` (at top level or
// in a nested object: the first occurrence of "<before>":).
std::string with_before(std::string_view before, std::string_view insert) {
  std::string text{example_json};
  auto at = text.find("\"" + std::string{before} + "\":");
  CAF_REQUIRE(at != std::string::npos);
  text.insert(at, insert);
  return text;
}

const field_error* error_on(const decoded_message& dm,
                            const std::string& field) {
  for (auto& e : dm.errors)
    if (e.field == field)
      return &e;
  return nullptr;
}

} // namespace

CAF_TEST(a key given twice is a validation error naming it) {
  // Found by the attacker probe: with a second "source" the recipient saw
  // the sender's second identity; readers disagree on which copy counts.
  struct probe {
    std::string text;
    std::string field;
  };
  std::vector<probe> probes{
    // A second identity, before and after the first.
    {with_before("source", R"("source":{"deviceId":"p","userId":"mallory",)"
                           R"("deviceType":"mobile","timestamp":1},)"),
     "source"},
    {std::string{example_json}.insert(
       example_json.size() - 1,
       R"(,"source":{"deviceId":"p","userId":"mallory",)"
       R"("deviceType":"mobile","timestamp":1})"),
     "source"},
    // Nested: inside source, destination, optimization, the payload, an
    // array in the payload, an unknown top-level key.
    {with_before("userId", R"("userId":"mallory",)"), "source.userId"},
    {with_before("target", R"("target":"extension",)"), "destination.target"},
    {with_before("priority", R"("priority":"low",)"), "optimization.priority"},
    {with_before("k", R"("k":1,)"), "payload.k"},
    {with_before("k", R"("a":[{"x":1},{"y":1,"y":2}],)"), "payload.a[1].y"},
    {std::string{example_json}.insert(example_json.size() - 1,
                                      R"(,"trace":{"id":1,"id":2})"),
     "trace.id"},
  };
  for (auto& p : probes) {
    auto f = decode_json(p.text);
    CAF_REQUIRE(f.ok());
    CAF_REQUIRE(f.kind == frame_kind::message);
    auto& dm = f.messages.front();
    CAF_CHECK(dm.error == errc::validation_error);
    auto e = error_on(dm, p.field);
    CAF_CHECK(e != nullptr);
    if (e != nullptr)
      CAF_CHECK_EQUAL(e->message, "is given more than once");
  }
  // A key that only looks alike is no duplicate.
  auto f = decode_json(with_before("k", R"("K":1,"k ":2,)"));
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.messages.front().ok());
}

CAF_TEST(a key given twice in a large object is found) {
  // Over 16 keys the finder sorts instead of comparing pairs.
  std::string payload = "{";
  for (int i = 0; i < 200; ++i)
    payload += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  auto unique = payload.substr(0, payload.size() - 1) + "}";
  payload += "\"k117\":0}";
  std::string text{example_json};
  std::string_view old = R"({"k":[1,-1,true,null,1.5]})";
  auto dup = text;
  dup.replace(dup.find(old), old.size(), payload);
  auto f = decode_json(dup);
  CAF_REQUIRE(f.ok());
  CAF_CHECK(error_on(f.messages.front(), "payload.k117") != nullptr);
  text.replace(text.find(old), old.size(), unique);
  CAF_CHECK(decode_json(text).messages.front().ok());
}

CAF_TEST(a key given twice in a batch refuses that message or the batch) {
  // In one message: that message is refused, the others stand.
  std::string batch = R"({"id":"b1","messages":[)";
  batch += example_json;
  batch += ",";
  batch += with_before("source", R"("source":{},)");
  batch += "]}";
  auto f = decode_json(batch);
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE(f.kind == frame_kind::batch);
  CAF_CHECK(f.batch_errors.empty());
  CAF_REQUIRE_EQUAL(f.messages.size(), 2u);
  CAF_CHECK(f.messages[0].ok());
  CAF_CHECK(error_on(f.messages[1], "source") != nullptr);
  // In the batch's own fields: refused as a whole.
  for (auto [text, field] :
       {std::pair{R"({"id":"b1","id":"b2","messages":[]})", "id"},
        std::pair{R"({"id":"b1","messages":[],"messages":[]})", "messages"},
        std::pair{R"({"id":"b1","messages":[],"metadata":{"n":1,"n":2}})",
                  "metadata.n"}}) {
    auto g = decode_json(text);
    CAF_REQUIRE(g.ok());
    CAF_REQUIRE(g.kind == frame_kind::batch);
    CAF_REQUIRE_EQUAL(g.batch_errors.size(), 1u);
    CAF_CHECK_EQUAL(g.batch_errors.front().field, field);
  }
}

CAF_TEST(a key given twice in an ack or a heartbeat refuses the frame) {
  for (auto text :
       {R"({"messageId":"m1","status":"received","seq":1,"seq":99})",
        R"({"messageId":"m1","status":"received","status":"failed"})",
        R"({"type":"ping","timestamp":1,"timestamp":2})"}) {
    auto f = decode_json(text);
    CAF_CHECK(f.error == errc::validation_error);
    CAF_CHECK(f.error_message.find("given more than once")
              != std::string::npos);
  }
}

CAF_TEST(a msgpack map with a key twice is a validation error naming it) {
  // {"messageId":"m1","status":"received","status":"failed"}
  auto ack = decode_mp(unhex("83 a9 6d 65 73 73 61 67 65 49 64 a2 6d 31"
                             " a6 73 74 61 74 75 73 a8 72 65 63 65 69 76 65 64"
                             " a6 73 74 61 74 75 73 a6 66 61 69 6c 65 64"));
  CAF_CHECK(ack.error == errc::validation_error);
  CAF_CHECK_EQUAL(ack.error_message,
                  "invalid ack: status is given more than once");
  // The example envelope with "userId" of source given twice (the map
  // grows from 4 to 5 pairs): source.userId named.
  auto packed = unhex(example_msgpack);
  auto src = packed.find(unhex("a6 736f75726365 84"));
  CAF_REQUIRE(src != std::string::npos);
  auto map_at = src + 7;
  packed[map_at] = '\x85';
  packed.insert(map_at + 1, unhex("a6 757365724964 a7 6d616c6c6f7279"));
  auto f = decode_mp(packed);
  CAF_REQUIRE(f.ok());
  CAF_CHECK(error_on(f.messages.front(), "source.userId") != nullptr);
  // A key that is not UTF-8, twice in the payload: named, not echoed.
  auto p = unhex(example_msgpack);
  auto payload = p.find(unhex("81 a1 6b"));
  CAF_REQUIRE(payload != std::string::npos);
  p.replace(payload, 3, unhex("82 a1 ff 01 a1 ff"));
  auto g = decode_mp(p);
  CAF_REQUIRE(g.ok());
  auto& dm = g.messages.front();
  CAF_CHECK(!dm.ok());
  for (auto& e : dm.errors)
    CAF_CHECK(valid_utf8(e.field));
}

CAF_TEST(a json frame nested beyond the frame cap is malformed) {
  // Depth is bounded for the whole frame, not only for opaque values:
  // an unknown key of source (dropped, never checked) 1000 levels deep.
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  auto f = decode_json(with_before("userId", "\"x\":" + deep + ","));
  CAF_CHECK(f.error == errc::malformed_frame);
  CAF_CHECK(f.error_message.find("deeper") != std::string::npos);
  // 270,000 levels, as the probe sent: an error, not a crash.
  CAF_CHECK(decode_json(std::string(270000, '[')).error
            == errc::malformed_frame);
  // A filter at the depth limit is accepted in a batch as in a message:
  // the frame may nest max_depth + 5 levels (batch, messages, message,
  // destination, broadcast, then the filter's own).
  limits lim;
  std::string filter = "{}";
  for (size_t i = 1; i < lim.max_depth; ++i)
    filter = R"({"a":)" + filter + "}";
  std::string msg{example_json};
  std::string_view old = R"({"target":"device","deviceId":"l"})";
  msg.replace(msg.find(old), old.size(),
              R"({"target":"broadcast","broadcast":{"scope":"user",)"
              R"("filter":)"
                + filter + "}}");
  auto one = decode(codec::json, msg, lim);
  CAF_REQUIRE(one.ok());
  CAF_CHECK(one.messages.front().ok());
  auto g = decode(codec::json, R"({"id":"b","messages":[)" + msg + "]}", lim);
  CAF_REQUIRE(g.ok());
  CAF_REQUIRE_EQUAL(g.messages.size(), 1u);
  CAF_CHECK(g.messages.front().ok());
  // The same in msgpack.
  auto packed = encode(codec::msgpack, one.messages.front().msg);
  // {"id":"b","messages":[<the message>]}
  auto h = decode(codec::msgpack,
                  unhex("82 a2 6964 a1 62 a8 6d65737361676573 91") + packed,
                  lim);
  CAF_REQUIRE(h.ok());
  CAF_CHECK(h.messages.front().ok());
}

CAF_TEST(notify and notification round trip in both codecs) {
  const std::string json
    = R"({"id":"n1","timestamp":1,"protocolVersion":"1.0.0",)"
      R"("source":{"deviceId":"d","userId":"u","deviceType":"mobile",)"
      R"("timestamp":1},"destination":{"target":"device","deviceId":"e"},)"
      R"("type":"chat","optimization":{"priority":"low","notify":true,)"
      R"("notification":{"title":"Ann","body":"Lunch?"}}})";
  auto f = decode(codec::json, json, limits{});
  CAF_REQUIRE(f.ok() && f.messages.front().ok());
  auto& m = f.messages.front().msg;
  CAF_CHECK(m.optimization.notify);
  CAF_REQUIRE(m.optimization.notification);
  CAF_CHECK_EQUAL(m.optimization.notification->title, "Ann");
  CAF_CHECK_EQUAL(encode(codec::json, m), json);
  auto g = decode(codec::msgpack, encode(codec::msgpack, m), limits{});
  CAF_REQUIRE(g.ok() && g.messages.front().ok());
  CAF_CHECK_EQUAL(encode(codec::json, g.messages.front().msg), json);
  // Refused, with the field named: a title alone, a number, a text too long.
  auto refused = [](const std::string& notification) {
    auto h = decode(
      codec::json,
      R"({"id":"n2","timestamp":1,"source":{"deviceId":"d","userId":"u",)"
      R"("deviceType":"mobile"},"destination":{"target":"device",)"
      R"("deviceId":"e"},"type":"t","optimization":{"priority":"low",)"
      R"("notification":)"
        + notification + "}}",
      limits{});
    if (!h.ok())
      return std::string{"not a frame"};
    for (auto& e : h.messages.front().errors)
      if (e.field.rfind("optimization", 0) == 0)
        return e.field;
    return std::string{"accepted"};
  };
  CAF_CHECK_EQUAL(refused(R"({"title":"Ann"})"),
                  "optimization.notification.body");
  CAF_CHECK_EQUAL(refused(R"({"title":1,"body":""})"),
                  "optimization.notification.title");
  CAF_CHECK_EQUAL(refused(R"("Ann")"), "optimization.notification");
  CAF_CHECK_EQUAL(
    refused(R"({"title":"","body":")" + std::string(1025, 'x') + "\"}"),
    "optimization.notification.body");
}

CAF_TEST(withdrawable false round trips in both codecs) {
  const std::string json
    = R"({"id":"w1","timestamp":1,"protocolVersion":"1.0.0",)"
      R"("source":{"deviceId":"d","userId":"u","deviceType":"mobile",)"
      R"("timestamp":1},"destination":{"target":"broadcast",)"
      R"("broadcast":{"scope":"user"}},"type":"note",)"
      R"("optimization":{"priority":"high","withdrawable":false}})";
  auto f = decode(codec::json, json, limits{});
  CAF_REQUIRE(f.ok());
  auto& m = f.messages.front().msg;
  CAF_CHECK(!m.optimization.withdrawable);
  CAF_CHECK_EQUAL(encode(codec::json, m), json);
  auto g = decode(codec::msgpack, encode(codec::msgpack, m), limits{});
  CAF_REQUIRE(g.ok());
  CAF_CHECK(!g.messages.front().msg.optimization.withdrawable);
  // Absent means true, and true is not written.
  auto h = decode(
    codec::json,
    R"({"id":"w2","timestamp":1,"source":{"deviceId":"d","userId":"u",)"
    R"("deviceType":"mobile"},"destination":{"target":"device","deviceId":)"
    R"("e"},"type":"t","optimization":{"priority":"low","withdrawable":true}})",
    limits{});
  CAF_REQUIRE(h.ok());
  CAF_CHECK(h.messages.front().msg.optimization.withdrawable);
  CAF_CHECK(encode(codec::json, h.messages.front().msg).find("withdrawable")
            == std::string::npos);
  auto bad = decode(
    codec::json,
    R"({"id":"w3","timestamp":1,"source":{"deviceId":"d","userId":"u",)"
    R"("deviceType":"mobile"},"destination":{"target":"device","deviceId":)"
    R"("e"},"type":"t","optimization":{"priority":"low","withdrawable":"no"}})",
    limits{});
  CAF_REQUIRE(bad.ok());
  CAF_CHECK(!bad.messages.front().ok());
}

#define CAF_SUITE protocol.control
#include <caf/test/unit_test.hpp>

#include "protocol/control.hpp"
#include "protocol/presence.hpp"
#include "protocol/validate.hpp"

using namespace tether::protocol;

CAF_TEST(the welcome message is a valid envelope) {
  welcome_info w;
  w.session_id = "s1";
  w.user_id = "alice";
  w.device_id = "phone";
  w.negotiated_codec = codec::msgpack;
  w.compression = "permessage-deflate";
  w.heartbeat_interval_ms = 20000;
  w.server_version = "0.1.0";
  auto m = make_welcome(w, 1000);
  std::vector<field_error> errors;
  validate(m, limits{}, errors);
  CAF_CHECK(errors.empty());
  CAF_CHECK_EQUAL(m.type, "tether.welcome");
  CAF_CHECK_EQUAL(
    m.payload.raw,
    R"({"sessionId":"s1","userId":"alice","deviceId":"phone",)"
    R"("deviceType":"mobile","protocolVersion":"1.0.0",)"
    R"("codec":"tether.v1.msgpack","compression":"permessage-deflate",)"
    R"("heartbeatIntervalMs":20000,"pongTimeoutMs":0,"serverVersion":"0.1.0",)"
    R"("resumeToken":"","resumed":false,"frameCompression":"none",)"
    R"("limits":{"maxMessageBytes":0,"maxBatchMessages":0,)"
    R"("ratePerSecond":0.0}})");
  // It decodes as a message in the other codec, too.
  auto f = decode(codec::msgpack, encode(codec::msgpack, m), limits{});
  CAF_REQUIRE(f.ok());
  CAF_CHECK(f.messages.front().ok());
}

CAF_TEST(gap notices name the reason count and ids) {
  gap_info g{"expired", 2, {"m1", "m2"}};
  auto m = make_gap("alice", "phone", g, 7);
  CAF_CHECK_EQUAL(m.type, "tether.gap");
  CAF_CHECK(m.optimization.prio == priority::critical);
  CAF_CHECK_EQUAL(m.payload.raw,
                  R"({"reason":"expired","count":2,"messageIds":["m1","m2"]})");
  std::vector<field_error> errors;
  validate(m, limits{}, errors);
  CAF_CHECK(errors.empty());
}

CAF_TEST(device registrations declare compression capabilities) {
  std::vector<compression> algos;
  std::vector<field_error> errors;
  CAF_CHECK(read_capabilities(
    json_value(
      R"({"deviceInfo":{"deviceId":"p","capabilities":)"
      R"({"compression":["gzip","deflate"],"supportsBatching":true}}})"),
    algos, errors));
  CAF_CHECK_EQUAL(algos.size(), 2u);
  CAF_CHECK(algos[0] == compression::gzip);
  algos.clear();
  CAF_CHECK(
    !read_capabilities(json_value(R"({"deviceInfo":5})"), algos, errors));
  CAF_CHECK_EQUAL(errors.back().field, "payload.deviceInfo");
  CAF_CHECK(!read_capabilities(
    json_value(R"({"deviceInfo":{"capabilities":{"compression":["zstd"]}}})"),
    algos, errors));
}

CAF_TEST(failed acks list field errors in details) {
  auto ack = make_failed_ack("m1", errc::validation_error, "invalid",
                             {{"id", "is required"}}, 5);
  CAF_CHECK_EQUAL(encode(codec::json, ack),
                  R"({"messageId":"m1","status":"failed","timestamp":5,)"
                  R"("error":{"code":"VALIDATION_ERROR","message":"invalid",)"
                  R"("details":{"errors":[{"field":"id","message":)"
                  R"("is required"}]}}})");
}

CAF_TEST(error codes and close codes) {
  CAF_CHECK_EQUAL(to_code(errc::source_mismatch), "SOURCE_MISMATCH");
  CAF_CHECK(retryable(errc::device_offline));
  CAF_CHECK(!retryable(errc::validation_error));
  CAF_CHECK(is_terminal(1008));
  CAF_CHECK(is_terminal(4500));
  CAF_CHECK(!is_terminal(1001));
  CAF_CHECK(!is_terminal(4000));
  CAF_CHECK(!is_terminal(1009));
}

CAF_TEST(room and presence requests are read with field errors) {
  room_request r;
  std::vector<field_error> errors;
  CAF_CHECK(read_room_request(
    json_value(R"({"room":"team-1","presence":true,"filter":)"
               R"({"status":["online","busy"],"deviceType":"mobile"},)"
               R"("page":2,"pageSize":50})"),
    r, errors));
  CAF_CHECK_EQUAL(r.room, "team-1");
  CAF_CHECK(r.presence);
  CAF_CHECK_EQUAL(r.status_filter.size(), 2u);
  CAF_CHECK_EQUAL(r.type_filter.size(), 1u);
  CAF_CHECK_EQUAL(r.page, 2u);
  CAF_CHECK_EQUAL(r.page_size, 50u);
  room_request bad;
  CAF_CHECK(
    !read_room_request(json_value(R"({"room":"has space"})"), bad, errors));
  CAF_CHECK_EQUAL(errors.back().field, "payload.room");
  CAF_CHECK(!read_room_request(json_value(R"({"room":"x","pageSize":0})"), bad,
                               errors));
  status_request s;
  CAF_CHECK(read_status_request(
    json_value(R"({"status":"busy","custom":{"text":"Meeting","emoji":"M",)"
               R"("expiresAt":5}})"),
    s, errors));
  CAF_CHECK(s.status == presence_status::busy);
  CAF_REQUIRE(s.custom.has_value());
  CAF_CHECK_EQUAL(s.custom->expires_ms, 5);
  status_request clear;
  CAF_CHECK(
    read_status_request(json_value(R"({"custom":null})"), clear, errors));
  CAF_CHECK(clear.clear_custom);
  status_request off;
  CAF_CHECK(
    !read_status_request(json_value(R"({"status":"offline"})"), off, errors));
  CAF_CHECK(!read_status_request(json_value(R"({})"), off, errors));
}

CAF_TEST(presence diffs and snapshots carry entries and aggregates) {
  presence_entry e;
  e.user_id = "alice";
  e.device_id = "phone";
  e.status = presence_status::away;
  e.last_seen_ms = 9;
  e.event = "update";
  auto d = make_presence_diff("team-1", {e},
                              {{"alice", presence_status::away, 9}}, 10);
  CAF_CHECK_EQUAL(d.type, "tether.presence.diff");
  CAF_CHECK_EQUAL(d.payload.raw,
                  R"({"room":"team-1","changes":[{"userId":"alice",)"
                  R"("deviceId":"phone","deviceType":"mobile","status":"away",)"
                  R"("lastSeen":9,"event":"update"}],"users":[{"userId":)"
                  R"("alice","status":"away","lastSeen":9}]})");
  std::vector<field_error> errors;
  validate(d, limits{}, errors);
  CAF_CHECK(errors.empty());
  auto s = make_presence_snapshot("bob", "tab", "team-1", {}, {}, 0, 1, 0, 10);
  CAF_CHECK_EQUAL(s.type, "tether.presence.snapshot");
  CAF_CHECK_EQUAL(*s.destination.device_id, "tab");
}

CAF_TEST(failed acks list at most twenty errors and clip what they echo) {
  std::vector<field_error> errors;
  for (int i = 0; i < 500; ++i)
    errors.push_back(
      {std::string(1000, 'k') + std::to_string(i), "too many unknown fields"});
  auto ack = make_failed_ack(std::string(300000, 'i'), errc::validation_error,
                             "invalid", errors, 5);
  auto text = encode(codec::json, ack);
  // 20 entries of at most 2 x 255 bytes, an id of 255: a few KiB, not the
  // 1.3 MiB an unbounded list reached.
  CAF_CHECK_LESS(text.size(), 12u * 1024);
  CAF_CHECK(text.find(R"("omitted":480)") != std::string::npos);
  CAF_CHECK(text.find(R"("messageId":")" + std::string(255, 'i') + "\"")
            != std::string::npos);
  // A cut never splits a UTF-8 character: 254 ASCII bytes, then "é".
  auto utf8 = make_ack(std::string(254, 'a') + "\xc3\xa9", ack_status::failed,
                       1);
  CAF_CHECK_EQUAL(utf8.message_id, std::string(254, 'a'));
}

CAF_TEST(handled requests name 1 to 100 message ids) {
  std::vector<std::string> ids;
  std::vector<field_error> errors;
  CAF_CHECK(read_message_ids(json_value(R"({"messageIds":["a","b","a"]})"),
                             max_handled_ids, ids, errors));
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"a", "b"}));
  CAF_CHECK(errors.empty());
  // The same from msgpack: {"messageIds": ["x"]}.
  std::string mp = "\x81\xaamessageIds\x91\xa1x";
  raw_value packed;
  packed.format = codec::msgpack;
  packed.raw = mp;
  CAF_CHECK(read_message_ids(packed, max_handled_ids, ids, errors));
  CAF_CHECK_EQUAL(ids, std::vector<std::string>{"x"});
  std::string many = R"({"messageIds":[)";
  for (int i = 0; i <= 100; ++i)
    many += (i ? ",\"m" : "\"m") + std::to_string(i) + "\"";
  many += "]}";
  for (const char* bad :
       {R"({"messageIds":[]})", R"({"messageIds":"a"})", R"({"ids":["a"]})",
        R"({"messageIds":[""]})", R"({"messageIds":[7]})", "[1]",
        R"({"messageIds":["a"],"messageIds":["b"]})"}) {
    errors.clear();
    CAF_CHECK(!read_message_ids(json_value(bad), max_handled_ids, ids, errors));
    CAF_CHECK_EQUAL(errors.size(), 1u);
  }
  errors.clear();
  CAF_CHECK(!read_message_ids(json_value(many), max_handled_ids, ids, errors));
  CAF_CHECK_EQUAL(errors.front().field, "payload.messageIds");
  CAF_CHECK(read_message_ids(json_value(many), max_withdrawn_ids, ids, errors));
  CAF_CHECK_EQUAL(ids.size(), 101u);
  errors.clear();
  auto too_long = R"({"messageIds":[")" + std::string(256, 'x') + "\"]}";
  CAF_CHECK(
    !read_message_ids(json_value(too_long), max_handled_ids, ids, errors));
  CAF_CHECK(!read_message_ids(raw_value{}, max_handled_ids, ids, errors));
}

CAF_TEST(withdrawn notices list the ids and are durable) {
  auto m = make_withdrawn("alice", "phone", {"m1", "m\"2"}, 9, 7);
  CAF_CHECK_EQUAL(m.type, "tether.withdrawn");
  CAF_CHECK_EQUAL(m.id, "withdrawn-7-9");
  CAF_CHECK(m.optimization.prio == priority::high);
  CAF_CHECK(m.optimization.offline_capable);
  CAF_CHECK_EQUAL(m.payload.raw, R"({"messageIds":["m1","m\"2"]})");
  std::vector<field_error> errors;
  validate(m, limits{}, errors);
  CAF_CHECK(errors.empty());
  std::vector<std::string> ids;
  CAF_CHECK(read_message_ids(m.payload, max_withdrawn_ids, ids, errors));
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"m1", "m\"2"}));
}

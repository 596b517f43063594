#define CAF_SUITE protocol.validate
#include <caf/test/unit_test.hpp>

#include "protocol/codec.hpp"
#include "protocol/validate.hpp"

using namespace tether::protocol;

// Scenarios from the original's mobile-validation.test.ts (inventory §4.2),
// adapted, plus the defects it had (§3.3 #7): rules keyed by `type`, a
// single accepted version.

namespace {

std::string envelope(std::string_view type, std::string_view version = "1.0.0",
                     std::string_view extra_source = "",
                     std::string_view destination = R"({"target":"extension"})",
                     std::string_view optimization = R"({"priority":"high"})") {
  std::string s = R"({"id":"msg-123","timestamp":1750000000000,)";
  s += R"("protocolVersion":")" + std::string{version} + R"(",)";
  s += R"("source":{"deviceId":"device-1","userId":"user-1",)";
  s += extra_source.empty() ? R"("deviceType":"mobile")"
                            : std::string{extra_source};
  s += R"(,"timestamp":1750000000000},)";
  s += R"("destination":)" + std::string{destination} + ",";
  s += R"("type":")" + std::string{type} + R"(",)";
  s += R"("payload":{"command":"status"},)";
  s += R"("optimization":)" + std::string{optimization} + "}";
  return s;
}

decoded_message check(const std::string& text) {
  auto f = decode(codec::json, text, limits{});
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE(f.kind == frame_kind::message);
  return f.messages.front();
}

bool has_error(const decoded_message& dm, const std::string& field) {
  for (auto& e : dm.errors)
    if (e.field == field)
      return true;
  return false;
}

} // namespace

CAF_TEST(scenario 17 : a well formed envelope is valid whatever its type) {
  for (auto type : {"mobile_message", "command", "user_input",
                    "presence_update", "file_operation"}) {
    auto dm = check(envelope(type));
    CAF_CHECK(dm.ok());
    CAF_CHECK(dm.errors.empty());
  }
}

CAF_TEST(scenario 18
         : a message with only a timestamp names every missing field) {
  auto dm = check(R"({"timestamp":1})");
  CAF_CHECK(dm.error == errc::validation_error);
  for (auto field : {"id", "protocolVersion", "source", "destination", "type",
                     "optimization"})
    CAF_CHECK(has_error(dm, field));
}

CAF_TEST(scenario 19 : bad enums are reported on their own fields) {
  auto dm
    = check(envelope("command", "1.0.0", R"("deviceType":"invalid-type")"));
  CAF_CHECK(has_error(dm, "source.deviceType"));
  auto dm2 = check(envelope("command", "1.0.0", "", R"({"target":"extension"})",
                            R"({"priority":"invalid-priority"})"));
  CAF_CHECK(has_error(dm2, "optimization.priority"));
  CAF_CHECK_EQUAL(dm2.errors.size(), 1u);
}

CAF_TEST(scenario 22 : versions 1.x are accepted and others refused by range) {
  CAF_CHECK(check(envelope("t", "1.0.0")).ok());
  CAF_CHECK(check(envelope("t", "1.0.1")).ok());
  CAF_CHECK(check(envelope("t", "1.9.0")).ok());
  CAF_CHECK(check(envelope("t", "1.10.0")).ok());
  for (auto v : {"0.9.0", "2.0.0"}) {
    auto dm = check(envelope("t", v));
    CAF_CHECK(dm.error == errc::unsupported_version);
    CAF_REQUIRE_EQUAL(dm.errors.size(), 1u);
    CAF_CHECK(dm.errors[0].message.find("1.x") != std::string::npos);
  }
  auto bad = check(envelope("t", "v1"));
  CAF_CHECK(bad.error == errc::validation_error);
  CAF_CHECK(has_error(bad, "protocolVersion"));
}

CAF_TEST(scenario 23 : an empty object is invalid with a list of errors) {
  auto dm = check("{}");
  CAF_CHECK(!dm.ok());
  CAF_CHECK(dm.errors.size() >= 6u);
}

CAF_TEST(wrong json types are reported per field) {
  auto dm = check(R"({"id":5,"timestamp":"now","protocolVersion":"1.0.0",)"
                  R"("source":[],"destination":{"target":"device",)"
                  R"("deviceId":"x"},"type":"t","optimization":)"
                  R"({"priority":"low","requiresAck":"yes","ttl":"1s"}})");
  CAF_CHECK(has_error(dm, "id"));
  CAF_CHECK(has_error(dm, "timestamp"));
  CAF_CHECK(has_error(dm, "source"));
  CAF_CHECK(has_error(dm, "optimization.requiresAck"));
  CAF_CHECK(has_error(dm, "optimization.ttl"));
}

CAF_TEST(conditional rules of destination) {
  auto dm = check(envelope("t", "1.0.0", "", R"({"target":"device"})"));
  CAF_CHECK(has_error(dm, "destination.deviceId"));
  auto dm2 = check(envelope("t", "1.0.0", "", R"({"target":"broadcast"})"));
  CAF_CHECK(has_error(dm2, "destination.broadcast"));
  auto dm3 = check(envelope("t", "1.0.0", "",
                            R"({"target":"broadcast","broadcast":)"
                            R"({"scope":"device_type"}})"));
  CAF_CHECK(has_error(dm3, "destination.broadcast.filter.deviceType"));
  auto dm4 = check(envelope("t", "1.0.0", "",
                            R"({"target":"broadcast","broadcast":)"
                            R"({"scope":"device_type","filter":)"
                            R"({"deviceType":["tablet","web"]}}})"));
  CAF_CHECK(dm4.ok());
  CAF_CHECK_EQUAL(dm4.msg.destination.broadcast->device_types.size(), 2u);
  auto dm5 = check(envelope("t", "1.0.0", "",
                            R"({"target":"broadcast","broadcast":)"
                            R"({"scope":"device_type","filter":)"
                            R"({"deviceType":"toaster"}}})"));
  CAF_CHECK(has_error(dm5, "destination.broadcast.filter.deviceType"));
}

CAF_TEST(lengths and ranges) {
  std::string long_id(256, 'x');
  auto text = envelope("t");
  text.replace(text.find("msg-123"), 7, long_id);
  CAF_CHECK(has_error(check(text), "id"));
  CAF_CHECK(has_error(check(envelope(std::string(101, 't'))), "type"));
  CAF_CHECK(has_error(check(envelope("")), "type"));
  CAF_CHECK(has_error(check(envelope("t", "1.0.0", "", R"({"target":"cloud"})",
                                     R"({"priority":"low","ttl":-1})")),
                      "optimization.ttl"));
  limits lim;
  lim.max_payload_bytes = 10;
  auto f = decode(codec::json, envelope("t"), lim);
  CAF_CHECK_EQUAL(f.messages.front().errors.size(), 1u);
  CAF_CHECK_EQUAL(f.messages.front().errors.front().field, "payload");
}

CAF_TEST(the original device registration scenario validates device info) {
  device_info d;
  d.device_id = "device-1";
  d.user_id = "user-1";
  d.platform = "ios";
  d.version = "1.2.3-beta";
  std::vector<field_error> errors;
  validate(d, "payload.deviceInfo.", errors);
  CAF_CHECK(errors.empty());
  d.version = "x";
  d.platform = std::string(51, 'p');
  validate(d, "payload.deviceInfo.", errors);
  CAF_CHECK_EQUAL(errors.size(), 2u);
  CAF_CHECK_EQUAL(errors[0].field, "payload.deviceInfo.platform");
}

CAF_TEST(utf8 validation) {
  CAF_CHECK(valid_utf8("plain"));
  CAF_CHECK(valid_utf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  CAF_CHECK(!valid_utf8("\xc0\xaf"));         // overlong '/'
  CAF_CHECK(!valid_utf8("\xed\xa0\x80"));     // surrogate
  CAF_CHECK(!valid_utf8("\xe2\x82"));         // truncated
  CAF_CHECK(!valid_utf8("\xf4\x90\x80\x80")); // > U+10FFFF
  CAF_CHECK(!valid_utf8("\xff"));
}

CAF_TEST(keys that decide a frame kind are refused inside a message) {
  // Forwarded as unknown keys they made recipients read the delivered
  // message as a batch or an ack (a forged ack for another user's message).
  for (auto key : {"messages", "messageId", "status"}) {
    auto text = envelope("chat");
    text.insert(1, "\"" + std::string{key} + R"(":"x",)");
    // A top-level `messages`/`messageId`+`status` makes it another kind;
    // inside a batch it is a message and must be refused there.
    auto batch = R"({"id":"b1","messages":[)" + text + "]}";
    auto f = decode(codec::json, batch, limits{});
    CAF_REQUIRE(f.ok());
    CAF_REQUIRE_EQUAL(f.messages.size(), 1u);
    auto& dm = f.messages.front();
    CAF_CHECK(!dm.ok());
    CAF_CHECK(dm.error == errc::validation_error);
    CAF_CHECK(has_error(dm, key));
    CAF_CHECK(dm.msg.extra.empty());
  }
  // Other unknown keys are still forwarded.
  auto text = envelope("chat");
  text.insert(1, R"("futureField":[1,2],)");
  auto dm = check(text);
  CAF_CHECK(dm.ok());
  CAF_REQUIRE_EQUAL(dm.msg.extra.size(), 1u);
  CAF_CHECK_EQUAL(dm.msg.extra.front().name, "futureField");
}

CAF_TEST(tether types are reserved for requests to the server) {
  auto dm = check(envelope("tether.gap"));
  CAF_CHECK(!dm.ok());
  CAF_CHECK(has_error(dm, "type"));
  dm = check(envelope("tether.presence.diff", "1.0.0", "",
                      R"({"target":"broadcast","broadcast":)"
                      R"({"scope":"room","room":"team-1"}})"));
  CAF_CHECK(has_error(dm, "type"));
  dm = check(envelope("tether.join", "1.0.0", "", R"({"target":"cloud"})"));
  CAF_CHECK(!has_error(dm, "type"));
  // Only the namespace: "tetherish" is an application type.
  CAF_CHECK(check(envelope("tetherish")).ok());
}

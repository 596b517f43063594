#define CAF_SUITE protocol.push
#include <caf/test/unit_test.hpp>

#include "protocol/push.hpp"

using namespace tether::protocol;

namespace {

// The one error of a refused payload, as "field: message".
std::string refusal(const char* json) {
  push_address a;
  std::vector<field_error> errors;
  if (read_push_register(json_value(json), a, errors) || errors.size() != 1)
    return "accepted";
  return errors.front().field + ": " + errors.front().message;
}

} // namespace

CAF_TEST(registrations name a provider and its token) {
  push_address a;
  std::vector<field_error> errors;
  auto hex = std::string(64, 'a');
  CAF_REQUIRE(read_push_register(
    json_value(R"({"provider":"apns","token":")" + hex
               + R"(","topic":"com.example.app","environment":"sandbox"})"),
    a, errors));
  CAF_CHECK(a.provider == push_provider::apns);
  CAF_CHECK_EQUAL(a.token, hex);
  CAF_CHECK_EQUAL(a.topic, "com.example.app");
  CAF_CHECK(a.sandbox);
  push_address f;
  CAF_REQUIRE(read_push_register(
    json_value(R"({"provider":"fcm","token":"dX3k:APA91b-Ab_c.d"})"), f,
    errors));
  CAF_CHECK(f.provider == push_provider::fcm);
  CAF_CHECK(f.topic.empty());
  CAF_CHECK(!f.sandbox);
  push_address w;
  CAF_REQUIRE(read_push_register(
    json_value(R"({"provider":"webhook","token":"user-7/device#2"})"), w,
    errors));
  CAF_CHECK_EQUAL(w.token, "user-7/device#2");
  CAF_CHECK(errors.empty());
  // The same from msgpack: {"provider": "webhook", "token": "x"}.
  raw_value packed;
  packed.format = codec::msgpack;
  packed.raw = "\x82\xa8provider\xa7webhook\xa5token\xa1x";
  CAF_CHECK(read_push_register(packed, w, errors));
  CAF_CHECK_EQUAL(w.token, "x");
}

CAF_TEST(bad registrations are refused with the field at fault) {
  auto hex = std::string(64, 'b');
  CAF_CHECK_EQUAL(refusal(R"({"token":"x"})"),
                  "payload.provider: must be apns, fcm or webhook");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"hms","token":"x"})"),
                  "payload.provider: must be apns, fcm or webhook");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"fcm"})"),
                  "payload.token: is required: a string");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"fcm","token":7})"),
                  "payload.token: is required: a string");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"apns","token":"xyz"})"),
                  "payload.token: must be an APNs device token: 16-200 hex "
                  "digits");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"apns","token":"abc"})"),
                  "payload.token: must be an APNs device token: 16-200 hex "
                  "digits");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"fcm","token":"a b"})"),
                  "payload.token: must be an FCM registration token: 1-1024 "
                  "characters of A-Z a-z 0-9 _ - : .");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"webhook","token":""})"),
                  "payload.token: must be 1-1024 visible ASCII characters");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"webhook","token":"a\nb"})"),
                  "payload.token: must be 1-1024 visible ASCII characters");
  auto long_token = R"({"provider":"webhook","token":")"
                    + std::string(1025, 'x') + "\"}";
  CAF_CHECK_EQUAL(refusal(long_token.c_str()),
                  "payload.token: must be 1-1024 visible ASCII characters");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"fcm","token":"x","topic":"a"})"),
                  "payload.topic: is for provider apns only");
  CAF_CHECK_EQUAL(
    refusal(R"({"provider":"fcm","token":"x","environment":"sandbox"})"),
    "payload.environment: is for provider apns only");
  auto apns = R"({"provider":"apns","token":")" + hex + "\"";
  CAF_CHECK_EQUAL(refusal((apns + R"(,"topic":"a b"})").c_str()),
                  "payload.topic: must be a bundle id: 1-255 characters of "
                  "A-Z a-z 0-9 . - _");
  CAF_CHECK_EQUAL(refusal((apns + R"(,"environment":"dev"})").c_str()),
                  "payload.environment: must be production or sandbox");
  // A misspelt key must not silently mean production.
  CAF_CHECK_EQUAL(refusal((apns + R"(,"enviroment":"sandbox"})").c_str()),
                  "payload.enviroment: is not a field of tether.push.register");
  CAF_CHECK_EQUAL(refusal("[1]"), "payload: must be an object");
  CAF_CHECK_EQUAL(refusal(R"({"provider":"fcm","provider":"apns"})"),
                  "payload.provider: is given more than once");
}

CAF_TEST(unregistering names a provider or none) {
  std::optional<push_provider> p;
  std::vector<field_error> errors;
  CAF_CHECK(read_push_unregister(raw_value{}, p, errors));
  CAF_CHECK(!p);
  CAF_CHECK(read_push_unregister(json_value("{}"), p, errors));
  CAF_CHECK(!p);
  CAF_CHECK(
    read_push_unregister(json_value(R"({"provider":"fcm"})"), p, errors));
  CAF_CHECK(p == push_provider::fcm);
  CAF_CHECK(errors.empty());
  CAF_CHECK(
    !read_push_unregister(json_value(R"({"provider":"x"})"), p, errors));
  CAF_CHECK(!read_push_unregister(json_value(R"({"token":"x"})"), p, errors));
  CAF_CHECK_EQUAL(errors.size(), 2u);
}

CAF_TEST(lifecycle requests name the app state) {
  app_state s = app_state::foreground;
  std::vector<field_error> errors;
  CAF_CHECK(read_lifecycle(json_value(R"({"state":"background"})"), s, errors));
  CAF_CHECK(s == app_state::background);
  CAF_CHECK(read_lifecycle(json_value(R"({"state":"foreground"})"), s, errors));
  CAF_CHECK(s == app_state::foreground);
  CAF_CHECK(!read_lifecycle(json_value(R"({"state":"asleep"})"), s, errors));
  CAF_CHECK(!read_lifecycle(raw_value{}, s, errors));
  CAF_CHECK_EQUAL(errors.size(), 2u);
  CAF_CHECK_EQUAL(errors.front().field, "payload.state");
  for (auto p :
       {push_provider::apns, push_provider::fcm, push_provider::webhook}) {
    push_provider back;
    CAF_CHECK(from_string(to_string(p), back) && back == p);
  }
}

CAF_TEST(webhook pushes carry the waiting messages and a signature) {
  webhook_push p;
  p.user_id = "alice";
  p.device_id = "phone";
  p.token = "t\"1";
  p.message_ids = {"m1", "m2"};
  p.top = priority::critical;
  p.count = 3;
  auto body = webhook_body(p);
  CAF_CHECK_EQUAL(body,
                  R"({"userId":"alice","deviceId":"phone","token":"t\"1",)"
                  R"("messageIds":["m1","m2"],"priority":"critical",)"
                  R"("count":3})");
  // The reference value: printf '%s' '1700000000.{"a":1}' |
  //   openssl dgst -sha256 -hmac 0123456789abcdef
  CAF_CHECK_EQUAL(
    webhook_signature("0123456789abcdef", 1700000000, R"({"a":1})"),
    "t=1700000000,v1="
    "9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23");
  std::vector<std::string> many(150, "x");
  p.message_ids = many;
  auto capped = webhook_body(p);
  size_t n = 0;
  for (auto at = capped.find("\"x\""); at != std::string::npos;
       at = capped.find("\"x\"", at + 1))
    ++n;
  CAF_CHECK_EQUAL(n, max_webhook_ids);
}

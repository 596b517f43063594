#define CAF_SUITE protocol.push
#include <caf/test/unit_test.hpp>

#include <algorithm>

#include "protocol/base64.hpp"
#include "protocol/push.hpp"
#include "protocol/push_auth.hpp"
#include "test/support/keys.hpp"

using namespace tether::protocol;
using tether::test::new_key_pem;

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
  push_notice p;
  p.user_id = "alice";
  p.device_id = "phone";
  p.address.provider = push_provider::webhook;
  p.address.token = "t\"1";
  p.message_ids = {"m1", "m2"};
  p.top = priority::critical;
  p.count = 3;
  auto body = webhook_body(p);
  CAF_CHECK_EQUAL(body,
                  R"({"userId":"alice","deviceId":"phone","token":"t\"1",)"
                  R"("messageIds":["m1","m2"],"priority":"critical",)"
                  R"("count":3,"notification":null})");
  p.notification = notification_info{"Ann", "hi"};
  CAF_CHECK(
    webhook_body(p).find(R"("notification":{"title":"Ann","body":"hi"})")
    != std::string::npos);
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

namespace {

bool has(const std::vector<std::string>& headers, const std::string& h) {
  return std::find(headers.begin(), headers.end(), h) != headers.end();
}

} // namespace

CAF_TEST(apns requests are background wake ups unless a text is shown) {
  push_notice p;
  p.user_id = "alice";
  p.device_id = "phone";
  p.address.provider = push_provider::apns;
  p.address.token = "00aa11bb22cc33dd";
  p.top = priority::high;
  p.count = 2;
  auto collapse = push_collapse_id("alice", "phone");
  CAF_CHECK_EQUAL(collapse.size(), 7u + 32u);
  CAF_CHECK_EQUAL(collapse.rfind("tether-", 0), 0u);
  CAF_CHECK_NOT_EQUAL(collapse, push_collapse_id("alice", "tablet"));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  CAF_CHECK_NOT_EQUAL(push_collapse_id("ab", "c"), push_collapse_id("a", "bc"));
  auto r = apns_request(p, "com.example.app", "JWT", 1700086400);
  CAF_CHECK_EQUAL(r.path, "/3/device/00aa11bb22cc33dd");
  CAF_CHECK(has(r.headers, "authorization: bearer JWT"));
  CAF_CHECK(has(r.headers, "apns-topic: com.example.app"));
  CAF_CHECK(has(r.headers, "apns-push-type: background"));
  CAF_CHECK(has(r.headers, "apns-priority: 5"));
  CAF_CHECK(has(r.headers, "apns-collapse-id: " + collapse));
  CAF_CHECK(has(r.headers, "apns-expiration: 1700086400"));
  CAF_CHECK_EQUAL(r.body, R"({"aps":{"content-available":1},)"
                          R"("tether":{"count":2,"priority":"high"}})");
  p.address.topic = "org.other";
  p.notification = notification_info{"Ann", "hi \"there\""};
  r = apns_request(p, "com.example.app", "JWT", 0);
  CAF_CHECK(has(r.headers, "apns-topic: org.other"));
  CAF_CHECK(has(r.headers, "apns-push-type: alert"));
  CAF_CHECK(has(r.headers, "apns-priority: 10"));
  CAF_CHECK_EQUAL(r.body,
                  R"({"aps":{"alert":{"title":"Ann","body":"hi \"there\""},)"
                  R"("sound":"default"},"tether":{"count":2,)"
                  R"("priority":"high"}})");
}

CAF_TEST(fcm requests are high priority data messages with one collapse key) {
  push_notice p;
  p.user_id = "alice";
  p.device_id = "phone";
  p.address.provider = push_provider::fcm;
  p.address.token = "tok:1";
  p.message_ids = {"m1"};
  p.top = priority::critical;
  p.count = 4;
  auto r = fcm_request(p, "proj-1", "ya29.x");
  CAF_CHECK_EQUAL(r.path, "/v1/projects/proj-1/messages:send");
  CAF_CHECK(has(r.headers, "authorization: Bearer ya29.x"));
  CAF_CHECK_EQUAL(r.body,
                  R"({"message":{"token":"tok:1","data":{"tether":"1",)"
                  R"("count":"4","priority":"critical",)"
                  R"("messageIds":"[\"m1\"]"},"android":{"priority":"HIGH",)"
                  R"("collapse_key":")"
                    + push_collapse_id("alice", "phone") + R"("}}})");
  p.notification = notification_info{"Ann", ""};
  CAF_CHECK(fcm_request(p, "proj-1", "t")
              .body.find(R"("notification":{"title":"Ann","body":""})")
            != std::string::npos);
}

CAF_TEST(provider answers decide what becomes of a push and its address) {
  using v = push_verdict;
  auto apns = push_provider::apns;
  auto fcm = push_provider::fcm;
  auto web = push_provider::webhook;
  CAF_CHECK(judge_answer(apns, 200, "") == v::sent);
  CAF_CHECK(judge_answer(apns, 410, R"({"reason":"Unregistered"})") == v::dead);
  CAF_CHECK(judge_answer(apns, 400, R"({"reason":"BadDeviceToken"})")
            == v::dead);
  CAF_CHECK(judge_answer(apns, 400, R"({"reason":"BadTopic"})") == v::failed);
  CAF_CHECK(judge_answer(apns, 403, R"({"reason":"ExpiredProviderToken"})")
            == v::renew);
  CAF_CHECK(judge_answer(apns, 429, R"({"reason":"TooManyRequests"})")
            == v::retry);
  CAF_CHECK(judge_answer(apns, 503, "") == v::retry);
  CAF_CHECK(judge_answer(apns, 0, "") == v::retry);
  CAF_CHECK(judge_answer(apns, 400, "not json") == v::failed);
  auto unregistered
    = R"({"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":)"
      R"("type.googleapis.com/google.firebase.fcm.v1.FcmError",)"
      R"("errorCode":"UNREGISTERED"}]}})";
  CAF_CHECK(judge_answer(fcm, 404, unregistered) == v::dead);
  CAF_CHECK(judge_answer(fcm, 404, R"({"error":{"status":"NOT_FOUND"}})")
            == v::failed);
  CAF_CHECK(judge_answer(fcm, 401, R"({"error":{"status":"UNAUTHENTICATED"}})")
            == v::renew);
  CAF_CHECK(judge_answer(fcm, 400, R"({"error":{"status":"INVALID_ARGUMENT"}})")
            == v::failed);
  CAF_CHECK(judge_answer(fcm, 429, "") == v::retry);
  CAF_CHECK(judge_answer(web, 410, "") == v::dead);
  CAF_CHECK(judge_answer(web, 401, "") == v::failed);
  CAF_CHECK(judge_answer(web, 204, "") == v::sent);
}

namespace {

std::vector<std::string> split_jwt(const std::string& jwt) {
  std::vector<std::string> parts;
  size_t at = 0;
  for (auto dot = jwt.find('.'); dot != std::string::npos;
       at = dot + 1, dot = jwt.find('.', at))
    parts.push_back(jwt.substr(at, dot - at));
  parts.push_back(jwt.substr(at));
  return parts;
}

} // namespace

CAF_TEST(provider credentials are signed with the right algorithm) {
  std::string why;
  auto ec = private_key::read(new_key_pem("EC", "P-256", 0), why);
  CAF_REQUIRE(ec);
  CAF_CHECK(ec.type() == private_key::kind::ec_p256);
  auto jwt = apns_provider_token(ec, "KEY123", "TEAM45", 1700000000);
  auto parts = split_jwt(jwt);
  CAF_REQUIRE_EQUAL(parts.size(), 3u);
  CAF_CHECK_EQUAL(base64url_decode(parts[0]).value_or(""),
                  R"({"alg":"ES256","kid":"KEY123"})");
  CAF_CHECK_EQUAL(base64url_decode(parts[1]).value_or(""),
                  R"({"iss":"TEAM45","iat":1700000000})");
  // JWS's ES256 signature is r||s, 64 bytes (not OpenSSL's DER).
  CAF_CHECK_EQUAL(base64url_decode(parts[2]).value_or("").size(), 64u);
  auto rsa = private_key::read(new_key_pem("RSA", nullptr, 2048), why);
  CAF_REQUIRE(rsa);
  CAF_CHECK(rsa.type() == private_key::kind::rsa);
  auto assertion = google_assertion(rsa, "svc@p.iam.gserviceaccount.com",
                                    "https://oauth2.googleapis.com/token", 100);
  parts = split_jwt(assertion);
  CAF_REQUIRE_EQUAL(parts.size(), 3u);
  CAF_CHECK_EQUAL(base64url_decode(parts[1]).value_or(""),
                  R"({"iss":"svc@p.iam.gserviceaccount.com",)"
                  R"("sub":"svc@p.iam.gserviceaccount.com",)"
                  R"("aud":"https://oauth2.googleapis.com/token",)"
                  R"("scope":"https://www.googleapis.com/auth/)"
                  R"(firebase.messaging","iat":100,"exp":3700})");
  CAF_CHECK_EQUAL(base64url_decode(parts[2]).value_or("").size(), 256u);
  CAF_CHECK_EQUAL(google_token_request("a.b-c_d"),
                  "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-"
                  "bearer&assertion=a.b-c_d");
  // Keys the providers would not take are refused at start, with a reason.
  CAF_CHECK(!private_key::read(new_key_pem("EC", "P-384", 0), why));
  CAF_CHECK(why.find("P-256") != std::string::npos);
  CAF_CHECK(!private_key::read(new_key_pem("RSA", nullptr, 1024), why));
  CAF_CHECK(why.find("2048") != std::string::npos);
  CAF_CHECK(!private_key::read("-----BEGIN PRIVATE KEY-----\nAAAA\n", why));
  CAF_CHECK(!private_key{});
}

CAF_TEST(service accounts and token answers are read strictly) {
  service_account sa;
  std::string why;
  CAF_CHECK(read_service_account(
    R"({"type":"service_account","project_id":"p1","private_key_id":"k",)"
    R"("private_key":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE )"
    R"(KEY-----\n","client_email":"s@p1.iam.gserviceaccount.com",)"
    R"("token_uri":"https://oauth2.googleapis.com/token"})",
    sa, why));
  CAF_CHECK_EQUAL(sa.project_id, "p1");
  CAF_CHECK_EQUAL(sa.private_key_pem.find("-----BEGIN PRIVATE KEY-----\nX\n"),
                  0u);
  CAF_CHECK_EQUAL(sa.token_uri, "https://oauth2.googleapis.com/token");
  CAF_CHECK(!read_service_account(R"({"type":"authorized_user"})", sa, why));
  CAF_CHECK(why.find("service_account") != std::string::npos);
  CAF_CHECK(!read_service_account(R"({"type":"service_account"})", sa, why));
  CAF_CHECK_EQUAL(why, R"(has no "project_id")");
  CAF_CHECK(!read_service_account("[]", sa, why));
  std::string token;
  int64_t expires = 0;
  CAF_CHECK(read_access_token(
    R"({"access_token":"ya29.a","expires_in":3599,"token_type":"Bearer"})",
    token, expires));
  CAF_CHECK_EQUAL(token, "ya29.a");
  CAF_CHECK_EQUAL(expires, 3599);
  CAF_CHECK(!read_access_token(R"({"access_token":"","expires_in":1})", token,
                               expires));
  CAF_CHECK(!read_access_token(R"({"access_token":"x"})", token, expires));
  CAF_CHECK(!read_access_token(R"({"error":"invalid_grant"})", token, expires));
}

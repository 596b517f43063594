#include "protocol/push.hpp"

#include <algorithm>
#include <array>

#include <openssl/evp.h>

#include "protocol/base64.hpp"
#include "protocol/detail/json_payload.hpp"
#include "protocol/token.hpp"

namespace tether::protocol {

namespace {

constexpr std::array<std::string_view, 3> provider_names{"apns", "fcm",
                                                         "webhook"};

using detail::parse_payload;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F');
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
         || (c >= 'A' && c <= 'Z');
}

// What a provider's tokens look like; empty when `token` is one.
std::string token_problem(push_provider p, std::string_view token) {
  switch (p) {
    case push_provider::apns:
      if (token.size() < 16 || token.size() > 200 || token.size() % 2 != 0
          || !std::all_of(token.begin(), token.end(), is_hex))
        return "must be an APNs device token: 16-200 hex digits";
      return {};
    case push_provider::fcm:
      if (token.empty() || token.size() > max_push_token
          || !std::all_of(token.begin(), token.end(), [](char c) {
               return is_alnum(c) || c == '_' || c == '-' || c == ':'
                      || c == '.';
             }))
        return "must be an FCM registration token: 1-1024 characters of "
               "A-Z a-z 0-9 _ - : .";
      return {};
    case push_provider::webhook:
      if (token.empty() || token.size() > max_push_token
          || !std::all_of(token.begin(), token.end(),
                          [](char c) { return c > ' ' && c < 0x7f; }))
        return "must be 1-1024 visible ASCII characters";
      return {};
  }
  return "names no provider";
}

bool read_provider(const rapidjson::Value& v, push_provider& out) {
  return v.IsString() && from_string({v.GetString(), v.GetStringLength()}, out);
}

} // namespace

std::string_view to_string(push_provider x) noexcept {
  return provider_names[static_cast<size_t>(x) % provider_names.size()];
}

bool from_string(std::string_view s, push_provider& x) noexcept {
  for (size_t i = 0; i < provider_names.size(); ++i)
    if (provider_names[i] == s) {
      x = static_cast<push_provider>(i);
      return true;
    }
  return false;
}

bool read_push_register(const raw_value& payload, push_address& out,
                        std::vector<field_error>& errors) {
  rapidjson::Document doc;
  if (!parse_payload(payload, doc, errors))
    return false;
  for (auto& m : doc.GetObject()) {
    std::string_view key{m.name.GetString(), m.name.GetStringLength()};
    if (key != "provider" && key != "token" && key != "topic"
        && key != "environment") {
      errors.push_back({"payload." + std::string{key},
                        "is not a field of tether.push.register"});
      return false;
    }
  }
  auto provider = doc.FindMember("provider");
  if (provider == doc.MemberEnd()
      || !read_provider(provider->value, out.provider)) {
    errors.push_back({"payload.provider", "must be apns, fcm or webhook"});
    return false;
  }
  auto token = doc.FindMember("token");
  if (token == doc.MemberEnd() || !token->value.IsString()) {
    errors.push_back({"payload.token", "is required: a string"});
    return false;
  }
  std::string_view t{token->value.GetString(), token->value.GetStringLength()};
  if (auto why = token_problem(out.provider, t); !why.empty()) {
    errors.push_back({"payload.token", std::move(why)});
    return false;
  }
  out.token.assign(t);
  auto apns = out.provider == push_provider::apns;
  if (auto topic = doc.FindMember("topic"); topic != doc.MemberEnd()) {
    if (!apns) {
      errors.push_back({"payload.topic", "is for provider apns only"});
      return false;
    }
    std::string_view s;
    if (topic->value.IsString())
      s = {topic->value.GetString(), topic->value.GetStringLength()};
    if (s.empty() || s.size() > 255
        || !std::all_of(s.begin(), s.end(), [](char c) {
             return is_alnum(c) || c == '.' || c == '-' || c == '_';
           })) {
      errors.push_back({"payload.topic", "must be a bundle id: 1-255 "
                                         "characters of A-Z a-z 0-9 . - _"});
      return false;
    }
    out.topic.assign(s);
  }
  if (auto env = doc.FindMember("environment"); env != doc.MemberEnd()) {
    if (!apns) {
      errors.push_back({"payload.environment", "is for provider apns only"});
      return false;
    }
    std::string_view s;
    if (env->value.IsString())
      s = {env->value.GetString(), env->value.GetStringLength()};
    if (s != "production" && s != "sandbox") {
      errors.push_back(
        {"payload.environment", "must be production or sandbox"});
      return false;
    }
    out.sandbox = s == "sandbox";
  }
  return true;
}

bool read_push_unregister(const raw_value& payload,
                          std::optional<push_provider>& out,
                          std::vector<field_error>& errors) {
  out.reset();
  if (payload.empty())
    return true;
  rapidjson::Document doc;
  if (!parse_payload(payload, doc, errors))
    return false;
  for (auto& m : doc.GetObject()) {
    std::string_view key{m.name.GetString(), m.name.GetStringLength()};
    if (key != "provider") {
      errors.push_back({"payload." + std::string{key},
                        "is not a field of tether.push.unregister"});
      return false;
    }
    push_provider p;
    if (!read_provider(m.value, p)) {
      errors.push_back({"payload.provider", "must be apns, fcm or webhook"});
      return false;
    }
    out = p;
  }
  return true;
}

std::string push_collapse_id(const std::string& user_id,
                             const std::string& device_id) {
  std::string input = user_id;
  input += '\0';
  input += device_id;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  return "tether-" + hex_encode({reinterpret_cast<const char*>(digest), 16});
}

namespace {

using detail::json_writer;

void put_ids(json_writer& w, const push_notice& p) {
  w.StartArray();
  for (size_t i = 0; i < p.message_ids.size() && i < max_webhook_ids; ++i)
    w.String(p.message_ids[i].data(),
             static_cast<rapidjson::SizeType>(p.message_ids[i].size()));
  w.EndArray();
}

void put_notification(json_writer& w, const notification_info& n) {
  w.StartObject();
  detail::put(w, "title", n.title);
  detail::put(w, "body", n.body);
  w.EndObject();
}

// The reason an APNs error names ({"reason": "..."}), or empty.
std::string apns_reason(std::string_view body) {
  rapidjson::Document doc;
  if (parse_json(body, 4, doc).refusal != json_refusal::none || !doc.IsObject())
    return {};
  auto r = doc.FindMember("reason");
  if (r == doc.MemberEnd() || !r->value.IsString())
    return {};
  return {r->value.GetString(), r->value.GetStringLength()};
}

// Whether an FCM error names `code` as its status or as the errorCode of
// one of its details.
bool fcm_error_is(std::string_view body, std::string_view code) {
  rapidjson::Document doc;
  if (parse_json(body, 8, doc).refusal != json_refusal::none || !doc.IsObject())
    return false;
  auto e = doc.FindMember("error");
  if (e == doc.MemberEnd() || !e->value.IsObject())
    return false;
  auto is = [&](const rapidjson::Value& v, const char* key) {
    auto m = v.FindMember(key);
    return m != v.MemberEnd() && m->value.IsString()
           && std::string_view{m->value.GetString(), m->value.GetStringLength()}
                == code;
  };
  if (is(e->value, "status"))
    return true;
  auto d = e->value.FindMember("details");
  if (d != e->value.MemberEnd() && d->value.IsArray())
    for (auto& x : d->value.GetArray())
      if (x.IsObject() && is(x, "errorCode"))
        return true;
  return false;
}

} // namespace

std::string webhook_body(const push_notice& p) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  detail::put(w, "userId", p.user_id);
  detail::put(w, "deviceId", p.device_id);
  detail::put(w, "token", p.address.token);
  w.Key("messageIds");
  put_ids(w, p);
  detail::put(w, "priority", to_string(p.top));
  detail::put(w, "count", uint64_t{p.count});
  w.Key("notification");
  if (p.notification)
    put_notification(w, *p.notification);
  else
    w.Null();
  w.EndObject();
  return detail::text(buf);
}

provider_request apns_request(const push_notice& p,
                              const std::string& default_topic,
                              const std::string& bearer, int64_t expires_s) {
  provider_request r;
  r.path = "/3/device/" + p.address.token;
  auto alert = p.notification.has_value();
  r.headers
    = {"authorization: bearer " + bearer,
       "apns-topic: "
         + (p.address.topic.empty() ? default_topic : p.address.topic),
       std::string{"apns-push-type: "} + (alert ? "alert" : "background"),
       std::string{"apns-priority: "} + (alert ? "10" : "5"),
       "apns-collapse-id: " + push_collapse_id(p.user_id, p.device_id),
       "apns-expiration: " + std::to_string(expires_s)};
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("aps");
  w.StartObject();
  if (alert) {
    w.Key("alert");
    put_notification(w, *p.notification);
    detail::put(w, "sound", "default");
  } else {
    detail::put(w, "content-available", uint64_t{1});
  }
  w.EndObject();
  w.Key("tether");
  w.StartObject();
  detail::put(w, "count", uint64_t{p.count});
  detail::put(w, "priority", to_string(p.top));
  w.EndObject();
  w.EndObject();
  r.body = detail::text(buf);
  return r;
}

provider_request fcm_request(const push_notice& p,
                             const std::string& project_id,
                             const std::string& access_token) {
  provider_request r;
  r.path = "/v1/projects/" + project_id + "/messages:send";
  r.headers = {"authorization: Bearer " + access_token};
  std::string ids;
  {
    rapidjson::StringBuffer b;
    json_writer w{b};
    put_ids(w, p);
    ids = detail::text(b);
  }
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("message");
  w.StartObject();
  detail::put(w, "token", p.address.token);
  w.Key("data");
  w.StartObject();
  detail::put(w, "tether", "1");
  detail::put(w, "count", std::to_string(p.count));
  detail::put(w, "priority", to_string(p.top));
  detail::put(w, "messageIds", ids);
  w.EndObject();
  if (p.notification) {
    w.Key("notification");
    put_notification(w, *p.notification);
  }
  w.Key("android");
  w.StartObject();
  detail::put(w, "priority", "HIGH");
  detail::put(w, "collapse_key", push_collapse_id(p.user_id, p.device_id));
  w.EndObject();
  w.EndObject();
  w.EndObject();
  r.body = detail::text(buf);
  return r;
}

push_verdict judge_answer(push_provider provider, long status,
                          std::string_view body) {
  if (status >= 200 && status < 300)
    return push_verdict::sent;
  if (status == 0 || status == 429 || status >= 500)
    return push_verdict::retry;
  switch (provider) {
    case push_provider::apns: {
      auto reason = apns_reason(body);
      if (status == 410 || reason == "BadDeviceToken"
          || reason == "DeviceTokenNotForTopic")
        return push_verdict::dead;
      if (status == 403
          && (reason == "ExpiredProviderToken"
              || reason == "InvalidProviderToken"))
        return push_verdict::renew;
      return push_verdict::failed;
    }
    case push_provider::fcm:
      if (fcm_error_is(body, "UNREGISTERED")
          || fcm_error_is(body, "SENDER_ID_MISMATCH"))
        return push_verdict::dead;
      if (status == 401)
        return push_verdict::renew;
      return push_verdict::failed;
    case push_provider::webhook:
      return status == 410 ? push_verdict::dead : push_verdict::failed;
  }
  return push_verdict::failed;
}

std::string webhook_signature(const std::string& secret, int64_t unix_seconds,
                              const std::string& body) {
  auto t = std::to_string(unix_seconds);
  return "t=" + t + ",v1=" + hex_encode(hmac_sha256(secret, t + "." + body));
}

bool read_lifecycle(const raw_value& payload, app_state& out,
                    std::vector<field_error>& errors) {
  rapidjson::Document doc;
  if (!parse_payload(payload, doc, errors))
    return false;
  auto state = doc.FindMember("state");
  std::string_view s;
  if (state != doc.MemberEnd() && state->value.IsString())
    s = {state->value.GetString(), state->value.GetStringLength()};
  if (s == "foreground")
    out = app_state::foreground;
  else if (s == "background")
    out = app_state::background;
  else {
    errors.push_back({"payload.state", "must be foreground or background"});
    return false;
  }
  return true;
}

} // namespace tether::protocol

#include "protocol/push.hpp"

#include <algorithm>
#include <array>

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

std::string webhook_body(const webhook_push& p) {
  rapidjson::StringBuffer buf;
  detail::json_writer w{buf};
  w.StartObject();
  detail::put(w, "userId", p.user_id);
  detail::put(w, "deviceId", p.device_id);
  detail::put(w, "token", p.token);
  w.Key("messageIds");
  w.StartArray();
  for (size_t i = 0; i < p.message_ids.size() && i < max_webhook_ids; ++i)
    w.String(p.message_ids[i].data(),
             static_cast<rapidjson::SizeType>(p.message_ids[i].size()));
  w.EndArray();
  detail::put(w, "priority", to_string(p.top));
  detail::put(w, "count", uint64_t{p.count});
  w.EndObject();
  return detail::text(buf);
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

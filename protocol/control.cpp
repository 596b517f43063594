#include "protocol/control.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "protocol/detail/json_payload.hpp"
#include "protocol/validate.hpp"

namespace tether::protocol {

using detail::json_writer;
using detail::put;
using detail::text;

mobile_message server_message(const std::string& user_id,
                              const std::string& device_id, std::string type,
                              std::string id, int64_t now_ms) {
  mobile_message m;
  m.id = std::move(id);
  m.timestamp = now_ms;
  m.protocol_version = std::string{protocol_version};
  m.source.device_id = std::string{server_device_id};
  m.source.user_id = std::string{server_user_id};
  m.source.type = device_type::desktop;
  m.source.timestamp = now_ms;
  m.destination.to = target::device;
  m.destination.device_id = device_id;
  m.destination.user_id = user_id;
  m.type = std::move(type);
  m.optimization.prio = priority::critical;
  return m;
}

namespace {

/// `s` cut to at most `max` bytes, at a UTF-8 character boundary.
std::string clip(std::string s, size_t max) {
  if (s.size() <= max)
    return s;
  auto n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  s.resize(n);
  return s;
}

} // namespace

message_ack make_ack(std::string message_id, ack_status status,
                     int64_t now_ms) {
  message_ack ack;
  // An id over the limit is refused; its ack names the first 255 bytes so
  // that a refusal never echoes a frame-sized id.
  ack.message_id = clip(std::move(message_id), max_id_length);
  ack.status = status;
  ack.timestamp = now_ms;
  return ack;
}

message_ack
make_failed_ack(std::string message_id, errc code, std::string message,
                const std::vector<field_error>& errors, int64_t now_ms) {
  std::string details;
  if (!errors.empty()) {
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    w.Key("errors");
    w.StartArray();
    auto listed = std::min(errors.size(), max_listed_errors);
    for (size_t i = 0; i < listed; ++i) {
      w.StartObject();
      put(w, "field", clip(errors[i].field, max_id_length));
      put(w, "message", clip(errors[i].message, max_id_length));
      w.EndObject();
    }
    w.EndArray();
    if (errors.size() > listed) {
      w.Key("omitted");
      w.Uint64(errors.size() - listed);
    }
    w.EndObject();
    details = text(buf);
  }
  return make_failed_ack(std::move(message_id), code, std::move(message),
                         std::move(details), now_ms);
}

message_ack make_failed_ack(std::string message_id, errc code,
                            std::string message, std::string details_json,
                            int64_t now_ms) {
  auto ack = make_ack(std::move(message_id), ack_status::failed, now_ms);
  ack_error err;
  err.code = std::string{to_code(code)};
  err.message = std::move(message);
  if (!details_json.empty())
    err.details = json_value(std::move(details_json));
  ack.error = std::move(err);
  return ack;
}

mobile_message make_welcome(const welcome_info& info, int64_t now_ms) {
  auto m = server_message(info.user_id, info.device_id, "tether.welcome",
                          "welcome-" + info.session_id, now_ms);
  m.optimization.prio = priority::high;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "sessionId", info.session_id);
  put(w, "userId", info.user_id);
  put(w, "deviceId", info.device_id);
  put(w, "deviceType", to_string(info.type));
  put(w, "protocolVersion", protocol_version);
  put(w, "codec", subprotocol(info.negotiated_codec));
  put(w, "compression", info.compression);
  put(w, "heartbeatIntervalMs",
      static_cast<uint64_t>(info.heartbeat_interval_ms));
  put(w, "pongTimeoutMs", static_cast<uint64_t>(info.pong_timeout_ms));
  put(w, "serverVersion", info.server_version);
  put(w, "resumeToken", info.resume_token);
  w.Key("resumed");
  w.Bool(info.resumed);
  put(w, "frameCompression", info.frame_compression);
  w.Key("limits");
  w.StartObject();
  put(w, "maxMessageBytes", info.max_message_bytes);
  put(w, "maxBatchMessages", info.max_batch_messages);
  w.Key("ratePerSecond");
  w.Double(info.rate_per_second);
  w.EndObject();
  w.EndObject();
  m.payload = json_value(text(buf));
  return m;
}

mobile_message make_gap(const std::string& user_id,
                        const std::string& device_id, const gap_info& gap,
                        int64_t now_ms) {
  auto m = server_message(
    user_id, device_id, "tether.gap",
    "gap-" + std::to_string(now_ms) + "-" + std::to_string(gap.count), now_ms);
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "reason", gap.reason);
  put(w, "count", gap.count);
  w.Key("messageIds");
  w.StartArray();
  for (size_t i = 0; i < gap.message_ids.size() && i < 100; ++i)
    w.String(gap.message_ids[i]);
  w.EndArray();
  w.EndObject();
  m.payload = json_value(text(buf));
  return m;
}

bool read_message_ids(const raw_value& payload, size_t max,
                      std::vector<std::string>& ids,
                      std::vector<field_error>& errors) {
  rapidjson::Document doc;
  if (!detail::parse_payload(payload, doc, errors))
    return false;
  auto list = doc.FindMember("messageIds");
  if (list == doc.MemberEnd() || !list->value.IsArray() || list->value.Empty()
      || list->value.Size() > max) {
    errors.push_back({"payload.messageIds", "is required: an array of 1 to "
                                              + std::to_string(max)
                                              + " message ids"});
    return false;
  }
  ids.clear();
  std::unordered_set<std::string_view> seen;
  for (auto& x : list->value.GetArray()) {
    if (!x.IsString() || x.GetStringLength() == 0
        || x.GetStringLength() > max_id_length) {
      errors.push_back(
        {"payload.messageIds", "must hold message ids: strings of 1 to "
                                 + std::to_string(max_id_length) + " bytes"});
      return false;
    }
    // (The views point into the document, which outlives the loop.)
    if (seen.emplace(x.GetString(), x.GetStringLength()).second)
      ids.emplace_back(x.GetString(), x.GetStringLength());
  }
  return true;
}

mobile_message make_withdrawn(const std::string& user_id,
                              const std::string& device_id,
                              const std::vector<std::string>& ids,
                              uint64_t serial, int64_t now_ms) {
  auto m = server_message(user_id, device_id, "tether.withdrawn",
                          "withdrawn-" + std::to_string(now_ms) + "-"
                            + std::to_string(serial),
                          now_ms);
  m.optimization.prio = priority::high;
  m.optimization.offline_capable = true;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("messageIds");
  w.StartArray();
  for (auto& id : ids)
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
  w.EndArray();
  w.EndObject();
  m.payload = json_value(text(buf));
  return m;
}

bool read_capabilities(const raw_value& payload,
                       std::vector<compression>& algorithms,
                       std::vector<field_error>& errors) {
  auto fail = [&](const char* field, const char* what) {
    errors.push_back({field, what});
    return false;
  };
  rapidjson::Document doc;
  std::string twice;
  switch (detail::read_object(payload, doc, &twice)) {
    case detail::object_read::missing:
      return fail("payload.deviceInfo", "is required");
    case detail::object_read::not_object:
      return fail("payload", "must be an object");
    case detail::object_read::duplicate_key:
      errors.push_back({"payload." + twice, "is given more than once"});
      return false;
    case detail::object_read::ok:
      break;
  }
  auto info = doc.FindMember("deviceInfo");
  if (info == doc.MemberEnd() || !info->value.IsObject())
    return fail("payload.deviceInfo", "must be an object");
  auto caps = info->value.FindMember("capabilities");
  if (caps == info->value.MemberEnd() || !caps->value.IsObject())
    return fail("payload.deviceInfo.capabilities", "must be an object");
  auto list = caps->value.FindMember("compression");
  if (list == caps->value.MemberEnd())
    return true;
  if (!list->value.IsArray())
    return fail("payload.deviceInfo.capabilities.compression",
                "must be an array of algorithm names");
  for (auto& x : list->value.GetArray()) {
    compression c;
    if (x.IsString() && from_string({x.GetString(), x.GetStringLength()}, c))
      algorithms.push_back(c);
    else
      return fail("payload.deviceInfo.capabilities.compression",
                  "must name none, gzip, brotli or deflate");
  }
  return true;
}

heartbeat make_pong(int64_t ping_timestamp, int64_t now_ms) {
  heartbeat hb;
  hb.pong = true;
  hb.timestamp = ping_timestamp;
  hb.server_time = now_ms;
  return hb;
}

} // namespace tether::protocol

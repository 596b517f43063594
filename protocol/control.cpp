#include "protocol/control.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace tether::protocol {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(json_writer& w, std::string_view key, uint64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Uint64(value);
}

std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

} // namespace

message_ack make_ack(std::string message_id, ack_status status,
                     int64_t now_ms) {
  message_ack ack;
  ack.message_id = std::move(message_id);
  ack.status = status;
  ack.timestamp = now_ms;
  return ack;
}

message_ack make_failed_ack(std::string message_id, errc code,
                            std::string message,
                            const std::vector<field_error>& errors,
                            int64_t now_ms) {
  std::string details;
  if (!errors.empty()) {
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    w.Key("errors");
    w.StartArray();
    for (auto& e : errors) {
      w.StartObject();
      put(w, "field", e.field);
      put(w, "message", e.message);
      w.EndObject();
    }
    w.EndArray();
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
  mobile_message m;
  m.id = "welcome-" + info.session_id;
  m.timestamp = now_ms;
  m.protocol_version = std::string{protocol_version};
  m.source.device_id = std::string{server_device_id};
  m.source.user_id = std::string{server_user_id};
  m.source.type = device_type::desktop;
  m.source.timestamp = now_ms;
  m.destination.to = target::device;
  m.destination.device_id = info.device_id;
  m.destination.user_id = info.user_id;
  m.type = "tether.welcome";
  m.optimization.prio = priority::high;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "sessionId", info.session_id);
  put(w, "userId", info.user_id);
  put(w, "deviceId", info.device_id);
  put(w, "deviceType", to_string(info.type));
  put(w, "protocolVersion", protocol_version);
  put(w, "codec", info.negotiated_codec == codec::json ? "tether.v1.json"
                                                        : "tether.v1.msgpack");
  put(w, "compression", info.compression);
  put(w, "heartbeatIntervalMs",
      static_cast<uint64_t>(info.heartbeat_interval_ms));
  put(w, "pongTimeoutMs", static_cast<uint64_t>(info.pong_timeout_ms));
  put(w, "serverVersion", info.server_version);
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

heartbeat make_pong(int64_t ping_timestamp, int64_t now_ms) {
  heartbeat hb;
  hb.pong = true;
  hb.timestamp = ping_timestamp;
  hb.server_time = now_ms;
  return hb;
}

} // namespace tether::protocol

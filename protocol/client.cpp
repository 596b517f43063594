#include "protocol/client.hpp"

#include "protocol/codec.hpp"
#include "protocol/detail/json_payload.hpp"

namespace tether::protocol {

namespace {

bool parse_object(const raw_value& payload, rapidjson::Document& doc) {
  return detail::read_object(payload, doc) == detail::object_read::ok;
}

template <class Value>
std::string get_string(const Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

template <class Value>
uint64_t get_uint(const Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsUint64() ? i->value.GetUint64() : 0;
}

// Big-endian unsigned of `n` bytes at `p`.
uint64_t be(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

std::string session_target(std::string_view path, std::string_view resume_token,
                           uint64_t last_seq) {
  std::string out{path};
  if (resume_token.empty())
    return out;
  out += out.find('?') == std::string::npos ? '?' : '&';
  out += "resume=";
  out += resume_token; // hex: needs no escaping
  out += "&lastSeq=" + std::to_string(last_seq);
  return out;
}

bool read_welcome(const raw_value& payload, welcome_info& out) {
  rapidjson::Document doc;
  if (!parse_object(payload, doc) || !doc.HasMember("sessionId"))
    return false;
  out.session_id = get_string(doc, "sessionId");
  out.user_id = get_string(doc, "userId");
  out.device_id = get_string(doc, "deviceId");
  from_string(get_string(doc, "deviceType"), out.type);
  if (!from_subprotocol(get_string(doc, "codec"), out.negotiated_codec))
    out.negotiated_codec = codec::json;
  out.compression = get_string(doc, "compression");
  out.heartbeat_interval_ms
    = static_cast<int64_t>(get_uint(doc, "heartbeatIntervalMs"));
  out.pong_timeout_ms = static_cast<int64_t>(get_uint(doc, "pongTimeoutMs"));
  out.server_version = get_string(doc, "serverVersion");
  out.resume_token = get_string(doc, "resumeToken");
  auto resumed = doc.FindMember("resumed");
  out.resumed = resumed != doc.MemberEnd() && resumed->value.IsBool()
                && resumed->value.GetBool();
  out.frame_compression = get_string(doc, "frameCompression");
  auto lim = doc.FindMember("limits");
  if (lim != doc.MemberEnd() && lim->value.IsObject()) {
    out.max_message_bytes = get_uint(lim->value, "maxMessageBytes");
    out.max_batch_messages = get_uint(lim->value, "maxBatchMessages");
    auto rate = lim->value.FindMember("ratePerSecond");
    if (rate != lim->value.MemberEnd() && rate->value.IsNumber())
      out.rate_per_second = rate->value.GetDouble();
  }
  return true;
}

bool read_gap(const raw_value& payload, gap_info& out) {
  rapidjson::Document doc;
  if (!parse_object(payload, doc) || !doc.HasMember("reason"))
    return false;
  out.reason = get_string(doc, "reason");
  out.count = get_uint(doc, "count");
  auto ids = doc.FindMember("messageIds");
  if (ids != doc.MemberEnd() && ids->value.IsArray())
    for (auto& x : ids->value.GetArray())
      if (x.IsString())
        out.message_ids.emplace_back(x.GetString(), x.GetStringLength());
  return true;
}

message_ack make_delivery_ack(uint64_t seq, int64_t now_ms) {
  auto ack = make_ack("", ack_status::received, now_ms);
  ack.seq = seq;
  return ack;
}

mobile_message make_request(const source_info& src, std::string id,
                            std::string type, std::string payload_json,
                            bool requires_ack, int64_t now_ms) {
  mobile_message m;
  m.id = std::move(id);
  m.timestamp = now_ms;
  m.protocol_version = std::string{protocol_version};
  m.source = src;
  m.source.timestamp = now_ms;
  m.destination.to = target::cloud;
  m.type = std::move(type);
  m.payload = json_value(std::move(payload_json));
  m.optimization.requires_ack = requires_ack;
  return m;
}

raw_value make_probe_payload(uint64_t t, size_t bytes) {
  std::string text = "{\"t\":" + std::to_string(t) + ",\"pad\":\"";
  auto used = text.size() + 2;
  text.append(bytes > used ? bytes - used : 0, 'x');
  text += "\"}";
  return json_value(std::move(text));
}

bool read_probe_time(const raw_value& payload, uint64_t& t) {
  const auto& r = payload.raw;
  if (payload.format == codec::json) {
    static constexpr std::string_view head = "{\"t\":";
    if (r.compare(0, head.size(), head) != 0)
      return false;
    t = 0;
    size_t i = head.size();
    size_t digits = 0;
    for (; i < r.size() && r[i] >= '0' && r[i] <= '9' && digits < 20;
         ++i, ++digits)
      t = t * 10 + static_cast<uint64_t>(r[i] - '0');
    return digits > 0;
  }
  // msgpack: a map whose first key is "t" with an integer value.
  auto p = reinterpret_cast<const unsigned char*>(r.data());
  size_t n = r.size();
  size_t i = 0;
  if (n > 0 && (p[0] & 0xf0) == 0x80)
    i = 1;
  else if (n > 2 && p[0] == 0xde)
    i = 3;
  else if (n > 4 && p[0] == 0xdf)
    i = 5;
  else
    return false;
  if (i + 3 > n || p[i] != 0xa1 || p[i + 1] != 't')
    return false;
  i += 2;
  auto tag = p[i++];
  auto take = [&](size_t k) {
    if (i + k > n)
      return false;
    t = be(p + i, k);
    return true;
  };
  if (tag < 0x80) {
    t = tag;
    return true;
  }
  switch (tag) {
    case 0xcc:
    case 0xd0:
      return take(1);
    case 0xcd:
    case 0xd1:
      return take(2);
    case 0xce:
    case 0xd2:
      return take(4);
    case 0xcf:
    case 0xd3:
      return take(8);
    default:
      return false;
  }
}

} // namespace tether::protocol

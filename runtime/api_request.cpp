#include "runtime/api_request.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/base64.hpp"
#include "protocol/control.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"
#include "runtime/process.hpp"

namespace tether::runtime {

using protocol::errc;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

unsigned http_status(errc e) {
  switch (e) {
    case errc::malformed_frame:
    case errc::validation_error:
    case errc::unsupported_version:
    case errc::unsupported_target:
      return 400;
    case errc::forbidden:
    case errc::source_mismatch:
      return 403;
    case errc::unknown_device:
    case errc::no_recipients:
    case errc::device_offline:
      return 404;
    case errc::message_too_large:
      return 413;
    case errc::rate_limited:
      return 429;
    case errc::queue_overflow:
    case errc::shutting_down:
    case errc::node_unavailable:
      return 503;
    case errc::timeout:
      return 504;
    default:
      return 500;
  }
}

// {"status":"failed","error":{"code":..,"message":..,"details":{"errors":[..]}}}
std::string failure(errc e, const std::string& message,
                    const std::vector<protocol::field_error>& errors) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("status");
  w.String("failed");
  w.Key("error");
  w.StartObject();
  w.Key("code");
  auto code = protocol::to_code(e);
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("retryable");
  w.Bool(protocol::retryable(e));
  if (!errors.empty()) {
    // The ack's details (SPEC §3.3): at most 20 errors, each field and
    // message cut to 255 bytes at a character boundary, `omitted`.
    auto ack = protocol::make_failed_ack("", e, message, errors, 0);
    auto& details = ack.error->details.raw;
    w.Key("details");
    w.RawValue(details.data(), details.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

std::string received(const std::string& id, uint32_t recipients) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("status");
  w.String("received");
  w.Key("messageId");
  w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  w.Key("recipients");
  w.Uint(recipients);
  w.EndObject();
  return buf.GetString();
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// "%41" -> "A"; false for a bad escape.
bool percent_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    auto h = protocol::hex_digit(in[i + 1]);
    auto l = protocol::hex_digit(in[i + 2]);
    if (h < 0 || l < 0)
      return false;
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return true;
}

// The body as the envelope of a message from the server to `user`'s
// devices: source, timestamp, protocolVersion and (if absent) id filled in;
// then the socket path's decoding and validation.
// With `room`, the message is a publish to that room: its destination is
// set, and it must not have another.
bool read_message(const std::string& body, const protocol::limits& limits,
                  const std::string& room, protocol::mobile_message& out,
                  errc& error, std::string& why,
                  std::vector<protocol::field_error>& errors) {
  rapidjson::Document doc;
  // The socket path's bounds (a frame's depth) and no key twice: the
  // source replaced below must be the only one (SPEC §9, §15).
  auto parsed = protocol::parse_json(
    body, limits.max_depth + protocol::frame_depth_margin, doc);
  if (parsed.refusal == protocol::json_refusal::duplicate_key) {
    error = errc::validation_error;
    errors.push_back({std::move(parsed.field), parsed.message()});
    why = "invalid message: see details.errors";
    return false;
  }
  if (!parsed.ok() || !doc.IsObject()) {
    error = errc::malformed_frame;
    why = parsed.ok() ? "the body is not a JSON object"
                      : "the body is not a JSON object: " + parsed.message();
    return false;
  }
  auto& a = doc.GetAllocator();
  rapidjson::Value source{rapidjson::kObjectType};
  source.AddMember("userId", "system", a);
  source.AddMember("deviceId", "server", a);
  source.AddMember("deviceType", "desktop", a);
  source.AddMember("timestamp", now_ms(), a);
  doc.RemoveMember("source");
  doc.AddMember("source", source, a);
  if (!room.empty()) {
    if (doc.HasMember("destination")) {
      error = errc::validation_error;
      errors.push_back({"destination", "is the room of the path"});
      why = "invalid message: see details.errors";
      return false;
    }
    rapidjson::Value bc{rapidjson::kObjectType};
    bc.AddMember("scope", "room", a);
    bc.AddMember("room",
                 rapidjson::Value{room.data(),
                                  static_cast<rapidjson::SizeType>(room.size()),
                                  a},
                 a);
    rapidjson::Value dst{rapidjson::kObjectType};
    dst.AddMember("target", "broadcast", a);
    dst.AddMember("broadcast", bc, a);
    doc.AddMember("destination", dst, a);
  }
  if (!doc.HasMember("id")) {
    auto id = "api-" + random_hex_id();
    doc.AddMember("id",
                  rapidjson::Value{
                    id.data(), static_cast<rapidjson::SizeType>(id.size()), a},
                  a);
  }
  if (!doc.HasMember("timestamp"))
    doc.AddMember("timestamp", now_ms(), a);
  if (!doc.HasMember("optimization"))
    doc.AddMember("optimization", rapidjson::Value{rapidjson::kObjectType}, a);
  if (auto& opt = doc["optimization"];
      opt.IsObject() && !opt.HasMember("priority"))
    opt.AddMember("priority", "normal", a);
  if (!doc.HasMember("protocolVersion"))
    doc.AddMember("protocolVersion", "1.1.0", a);
  rapidjson::StringBuffer buf;
  writer w{buf};
  doc.Accept(w);
  auto frame = protocol::decode(protocol::codec::json, buf.GetString(), limits);
  if (!frame.ok()) {
    error = frame.error;
    why = frame.error_message;
    return false;
  }
  if (frame.kind != protocol::frame_kind::message) {
    error = errc::malformed_frame;
    why = "the body is not a message";
    return false;
  }
  auto& dm = frame.messages.front();
  if (!dm.ok()) {
    error = dm.error;
    errors = dm.errors;
    why = dm.error == errc::unsupported_version ? dm.errors.front().message
                                                : "invalid message: see "
                                                  "details.errors";
    return false;
  }
  auto& dst = dm.msg.destination;
  if (dm.msg.type.rfind("tether.", 0) == 0) {
    error = errc::validation_error;
    errors.push_back({"type", "types tether.* are the server's own"});
    why = "invalid message: see details.errors";
    return false;
  }
  bool to_room = dst.to == protocol::target::broadcast && dst.broadcast
                 && dst.broadcast->scope == protocol::broadcast_scope::room;
  if (room.empty() && (dst.to == protocol::target::cloud || to_room)) {
    error = errc::unsupported_target;
    why = "a user's devices are target device, extension or broadcast "
          "scope user or device_type; a room's members are "
          "POST /api/v1/rooms/<room>/messages";
    return false;
  }
  out = std::move(dm.msg);
  return true;
}

// The path's segments after /api/v1/, percent-decoded; false for a bad one.
bool segments(const std::string& path, std::vector<std::string>& out) {
  static const std::string prefix = "/api/v1/";
  out.clear();
  if (path.compare(0, prefix.size(), prefix) != 0)
    return false;
  size_t i = prefix.size();
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    std::string seg;
    if (!percent_decode(path.substr(i, j - i), seg) || seg.empty())
      return false;
    out.push_back(std::move(seg));
    i = j + 1;
  }
  return true;
}

bool check_path_id(path_id kind, const std::string& id,
                   std::vector<protocol::field_error>& errors) {
  // Never echoed: the field names the segment, not its bytes.
  switch (kind) {
    case path_id::room:
      if (protocol::valid_room_name(id))
        return true;
      errors.push_back({"room", "must be 1-200 characters of A-Z a-z 0-9 "
                                "_ - . : @ (SPEC §6)"});
      return false;
    case path_id::user:
    case path_id::device:
      if (!id.empty() && id.size() <= protocol::max_id_length
          && protocol::valid_utf8(id))
        return true;
      errors.push_back({kind == path_id::user ? "userId" : "deviceId",
                        "must be 1-255 bytes of UTF-8"});
      return false;
  }
  return false;
}

std::vector<std::string> load_api_keys(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::runtime_error("auth.api_keys_file: cannot read '" + path + "'");
  std::vector<std::string> keys;
  std::string line;
  size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    std::istringstream words{line};
    std::vector<std::string> w;
    for (std::string x; words >> x;)
      w.push_back(x);
    if (w.empty() || w[0][0] == '#')
      continue;
    if (w.size() > 2 || w.back().size() < 16)
      throw std::runtime_error("auth.api_keys_file '" + path + "' line "
                               + std::to_string(no)
                               + ": want 'name key' or 'key', a key of at "
                                 "least 16 characters");
    keys.push_back(w.back());
  }
  if (keys.empty())
    throw std::runtime_error("auth.api_keys_file '" + path + "' has no key");
  return keys;
}

} // namespace tether::runtime

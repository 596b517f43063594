#include "protocol/presence.hpp"

#include <array>

#include "protocol/control.hpp"
#include "protocol/detail/json_payload.hpp"
#include "protocol/validate.hpp"

namespace tether::protocol {

namespace {

constexpr std::array<std::string_view, 4> status_names{"offline", "away",
                                                       "busy", "online"};

using detail::json_writer;
using detail::parse_payload;
using detail::put;

void write_entry(json_writer& w, const presence_entry& e) {
  w.StartObject();
  put(w, "userId", e.user_id);
  put(w, "deviceId", e.device_id);
  put(w, "deviceType", to_string(e.type));
  put(w, "status", to_string(e.status));
  if (e.custom) {
    w.Key("custom");
    w.StartObject();
    put(w, "text", e.custom->text);
    put(w, "emoji", e.custom->emoji);
    w.Key("expiresAt");
    w.Int64(e.custom->expires_ms);
    w.EndObject();
  }
  w.Key("lastSeen");
  w.Int64(e.last_seen_ms);
  if (!e.event.empty())
    put(w, "event", e.event);
  w.EndObject();
}

void write_users(json_writer& w, const std::vector<user_presence>& users) {
  w.Key("users");
  w.StartArray();
  for (auto& u : users) {
    w.StartObject();
    put(w, "userId", u.user_id);
    put(w, "status", to_string(u.status));
    w.Key("lastSeen");
    w.Int64(u.last_seen_ms);
    w.EndObject();
  }
  w.EndArray();
}

template <class Enum>
bool read_enum_list(const rapidjson::Value& obj, const char* key,
                    const char* field, std::vector<Enum>& out,
                    std::vector<field_error>& errors) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd())
    return true;
  auto add = [&](const rapidjson::Value& v) {
    Enum x;
    if (!v.IsString() || !from_string({v.GetString(), v.GetStringLength()}, x))
      return false;
    out.push_back(x);
    return true;
  };
  auto ok = true;
  if (i->value.IsArray()) {
    for (auto& v : i->value.GetArray())
      ok = ok && add(v);
  } else {
    ok = add(i->value);
  }
  if (!ok)
    errors.push_back({field, "names an unknown value"});
  return ok;
}

} // namespace

std::string_view to_string(presence_status x) noexcept {
  return status_names[static_cast<size_t>(x) & 3];
}

bool from_string(std::string_view s, presence_status& x) noexcept {
  for (size_t i = 0; i < status_names.size(); ++i)
    if (status_names[i] == s) {
      x = static_cast<presence_status>(i);
      return true;
    }
  return false;
}

bool read_room_request(const raw_value& payload, room_request& out,
                       std::vector<field_error>& errors) {
  rapidjson::Document doc;
  if (!parse_payload(payload, doc, errors))
    return false;
  auto room = doc.FindMember("room");
  if (room == doc.MemberEnd() || !room->value.IsString()
      || !valid_room_name(
        {room->value.GetString(), room->value.GetStringLength()})) {
    errors.push_back(
      {"payload.room",
       "is required: 1-200 characters of A-Z a-z 0-9 _ - . : @"});
    return false;
  }
  out.room.assign(room->value.GetString(), room->value.GetStringLength());
  if (auto p = doc.FindMember("presence"); p != doc.MemberEnd()) {
    if (!p->value.IsBool()) {
      errors.push_back({"payload.presence", "must be a boolean"});
      return false;
    }
    out.presence = p->value.GetBool();
  }
  if (auto f = doc.FindMember("filter"); f != doc.MemberEnd()) {
    if (!f->value.IsObject()) {
      errors.push_back({"payload.filter", "must be an object"});
      return false;
    }
    if (!read_enum_list(f->value, "status", "payload.filter.status",
                        out.status_filter, errors)
        || !read_enum_list(f->value, "deviceType", "payload.filter.deviceType",
                           out.type_filter, errors))
      return false;
  }
  for (auto [key, target, max] :
       {std::tuple{"page", &out.page, 1u << 20},
        std::tuple{"pageSize", &out.page_size, 1000u}}) {
    auto i = doc.FindMember(key);
    if (i == doc.MemberEnd())
      continue;
    if (!i->value.IsUint() || i->value.GetUint() > max
        || (target == &out.page_size && i->value.GetUint() == 0)) {
      errors.push_back({std::string{"payload."} + key,
                        "must be a number up to " + std::to_string(max)});
      return false;
    }
    *target = i->value.GetUint();
  }
  return true;
}

bool read_status_request(const raw_value& payload, status_request& out,
                         std::vector<field_error>& errors) {
  rapidjson::Document doc;
  if (!parse_payload(payload, doc, errors))
    return false;
  if (auto s = doc.FindMember("status"); s != doc.MemberEnd()) {
    presence_status st;
    if (!s->value.IsString()
        || !from_string({s->value.GetString(), s->value.GetStringLength()}, st)
        || st == presence_status::offline) {
      errors.push_back({"payload.status", "must be online, away or busy"});
      return false;
    }
    out.status = st;
  }
  if (auto c = doc.FindMember("custom"); c != doc.MemberEnd()) {
    if (c->value.IsNull()) {
      out.clear_custom = true;
    } else if (!c->value.IsObject()) {
      errors.push_back({"payload.custom", "must be an object or null"});
      return false;
    } else {
      custom_status cs;
      auto text = c->value.FindMember("text");
      auto emoji = c->value.FindMember("emoji");
      auto expires = c->value.FindMember("expiresAt");
      if (text != c->value.MemberEnd()) {
        if (!text->value.IsString() || text->value.GetStringLength() > 256) {
          errors.push_back(
            {"payload.custom.text", "must be a string of at most 256 bytes"});
          return false;
        }
        cs.text.assign(text->value.GetString(), text->value.GetStringLength());
      }
      if (emoji != c->value.MemberEnd()) {
        if (!emoji->value.IsString() || emoji->value.GetStringLength() > 32) {
          errors.push_back(
            {"payload.custom.emoji", "must be a string of at most 32 bytes"});
          return false;
        }
        cs.emoji.assign(emoji->value.GetString(),
                        emoji->value.GetStringLength());
      }
      if (expires != c->value.MemberEnd()) {
        if (!expires->value.IsInt64() || expires->value.GetInt64() < 0) {
          errors.push_back(
            {"payload.custom.expiresAt", "must be epoch milliseconds"});
          return false;
        }
        cs.expires_ms = expires->value.GetInt64();
      }
      out.custom = std::move(cs);
    }
  }
  if (!out.status && !out.custom && !out.clear_custom) {
    errors.push_back({"payload", "must set status or custom"});
    return false;
  }
  return true;
}

mobile_message
make_presence_snapshot(const std::string& user_id, const std::string& device_id,
                       const std::string& room,
                       const std::vector<presence_entry>& members,
                       const std::vector<user_presence>& users, uint32_t page,
                       uint32_t pages, uint64_t total, int64_t now_ms) {
  auto m = server_message(user_id, device_id, "tether.presence.snapshot",
                          "presence-" + room + "-" + std::to_string(now_ms)
                            + "-" + std::to_string(page),
                          now_ms);
  m.optimization.prio = priority::high;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "room", room);
  w.Key("total");
  w.Uint64(total);
  w.Key("page");
  w.Uint(page);
  w.Key("pages");
  w.Uint(pages);
  w.Key("members");
  w.StartArray();
  for (auto& e : members)
    write_entry(w, e);
  w.EndArray();
  write_users(w, users);
  w.EndObject();
  m.payload = json_value(detail::text(buf));
  return m;
}

mobile_message make_presence_diff(const std::string& room,
                                  const std::vector<presence_entry>& changes,
                                  const std::vector<user_presence>& users,
                                  int64_t now_ms) {
  auto m = server_message("", "", "tether.presence.diff",
                          "presence-" + room + "-" + std::to_string(now_ms),
                          now_ms);
  m.destination.device_id.reset();
  m.destination.user_id.reset();
  m.destination.to = target::broadcast;
  m.destination.broadcast = broadcast_info{broadcast_scope::room, room, {}, {}};
  m.optimization.prio = priority::normal;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "room", room);
  w.Key("changes");
  w.StartArray();
  for (auto& e : changes)
    write_entry(w, e);
  w.EndArray();
  write_users(w, users);
  w.EndObject();
  m.payload = json_value(detail::text(buf));
  return m;
}

} // namespace tether::protocol

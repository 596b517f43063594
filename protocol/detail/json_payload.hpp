#pragma once

// Internal to protocol/*.cpp: reading and writing the JSON payloads of the
// server's control messages (welcome, gap notices, presence, requests).

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/codec.hpp"
#include "protocol/json.hpp"

namespace tether::protocol::detail {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void put(json_writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

inline void put(json_writer& w, std::string_view key, uint64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Uint64(value);
}

inline std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

enum class object_read { ok, missing, not_object, duplicate_key };

/// Parses an opaque value of either codec as a JSON object into `doc`
/// (parse_json: bounded, no key twice; `twice` names a key given twice).
inline object_read read_object(const raw_value& v, rapidjson::Document& doc,
                               std::string* twice = nullptr) {
  raw_value json;
  if (v.empty() || !convert(v, codec::json, json))
    return object_read::missing;
  auto r = parse_json(json.raw, max_value_depth, doc);
  if (r.refusal == json_refusal::duplicate_key) {
    if (twice != nullptr)
      *twice = std::move(r.field);
    return object_read::duplicate_key;
  }
  return r.ok() && doc.IsObject() ? object_read::ok : object_read::not_object;
}

/// A request's payload as a JSON object in `doc`, or false with an error on
/// field "payload" (or the key given twice) in `errors`.
inline bool parse_payload(const raw_value& payload, rapidjson::Document& doc,
                          std::vector<field_error>& errors) {
  std::string twice;
  switch (read_object(payload, doc, &twice)) {
    case object_read::missing:
      errors.push_back({"payload", "is required"});
      return false;
    case object_read::not_object:
      errors.push_back({"payload", "must be an object"});
      return false;
    case object_read::duplicate_key:
      errors.push_back({"payload." + twice, "is given more than once"});
      return false;
    case object_read::ok:
      break;
  }
  return true;
}

} // namespace tether::protocol::detail

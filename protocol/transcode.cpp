// Conversion of opaque values between JSON and msgpack, so that a payload
// sent in one codec reaches a device speaking the other. The only TU that
// includes both rapidjson and msgpack-c.

#include <cmath>
#include <string>

#include <msgpack.hpp>
#include <rapidjson/document.h>

#include "protocol/base64.hpp"
#include "protocol/detail/codecs.hpp"
#include "protocol/detail/json_writer.hpp"
#include "protocol/detail/string_sink.hpp"
#include "protocol/json.hpp"

namespace tether::protocol::detail {

namespace {

// Depth is bounded: the parsers of both inputs stop at max_value_depth.
void pack_value(msgpack::packer<string_sink>& pk, const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      pk.pack_nil();
      break;
    case rapidjson::kFalseType:
      pk.pack_false();
      break;
    case rapidjson::kTrueType:
      pk.pack_true();
      break;
    case rapidjson::kStringType:
      pk.pack_str(v.GetStringLength());
      pk.pack_str_body(v.GetString(), v.GetStringLength());
      break;
    case rapidjson::kNumberType:
      if (v.IsInt64())
        pk.pack_int64(v.GetInt64());
      else if (v.IsUint64())
        pk.pack_uint64(v.GetUint64());
      else
        pk.pack_double(v.GetDouble());
      break;
    case rapidjson::kArrayType:
      pk.pack_array(v.Size());
      for (auto& x : v.GetArray())
        pack_value(pk, x);
      break;
    case rapidjson::kObjectType:
      pk.pack_map(v.MemberCount());
      for (auto i = v.MemberBegin(); i != v.MemberEnd(); ++i) {
        pack_value(pk, i->name);
        pack_value(pk, i->value);
      }
      break;
  }
}

bool write(json_text_writer& w, const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return w.Null();
    case msgpack::type::BOOLEAN:
      return w.Bool(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      return w.Uint64(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return w.Int64(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return std::isfinite(o.via.f64) && w.Double(o.via.f64);
    case msgpack::type::STR:
      return w.String(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BIN: {
      auto s = base64_encode({o.via.bin.ptr, o.via.bin.size});
      return w.String(s);
    }
    case msgpack::type::ARRAY:
      if (!w.StartArray())
        return false;
      for (uint32_t i = 0; i < o.via.array.size; ++i)
        if (!write(w, o.via.array.ptr[i]))
          return false;
      return w.EndArray();
    case msgpack::type::MAP:
      if (!w.StartObject())
        return false;
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        auto& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR
            || !w.Key(kv.key.via.str.ptr, kv.key.via.str.size)
            || !write(w, kv.val))
          return false;
      }
      return w.EndObject();
    default:
      return false;
  }
}

} // namespace

bool json_to_msgpack(std::string_view json, std::string& out) {
  rapidjson::Document doc;
  if (!parse_json(json, max_value_depth, doc).ok())
    return false;
  string_sink sink{&out};
  msgpack::packer<string_sink> pk{sink};
  pack_value(pk, doc);
  return true;
}

bool msgpack_to_json(std::string_view mp, std::string& out) {
  try {
    std::size_t offset = 0;
    // What decode() accepted fits these limits; anything else is refused
    // before allocation and before write() recurses into it.
    msgpack::unpack_limit limit{65536,     65536,     mp.size(),
                                mp.size(), mp.size(), max_value_depth};
    auto oh = msgpack::unpack(mp.data(), mp.size(), offset, nullptr, nullptr,
                              limit);
    if (offset != mp.size())
      return false;
    std::string tmp;
    json_text_writer w{tmp};
    if (!write(w, oh.get()))
      return false;
    w.finish();
    out += tmp;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace tether::protocol::detail

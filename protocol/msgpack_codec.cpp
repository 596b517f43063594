// The msgpack codec (subprotocol tether.v1.msgpack): msgpack-c is included
// here and in transcode.cpp only. The model is the JSON one, as maps with the
// same keys (SPEC.md §msgpack).

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <msgpack.hpp>

#include "protocol/detail/codecs.hpp"
#include "protocol/detail/emit.hpp"
#include "protocol/detail/parse.hpp"
#include "protocol/detail/string_sink.hpp"

namespace tether::protocol::detail {

namespace {

class mp_node {
public:
  /// msgpack's str is any bytes: the reader checks each string it takes.
  static constexpr bool utf8_checked = false;

  explicit mp_node(const msgpack::object* o) : o_(o) {}

  /// Not known without looking: duplicate_finder looks.
  bool may_repeat_keys() const noexcept { return true; }

  bool is_null() const { return o_->type == msgpack::type::NIL; }
  bool is_object() const { return o_->type == msgpack::type::MAP; }
  bool is_array() const { return o_->type == msgpack::type::ARRAY; }
  bool is_string() const { return o_->type == msgpack::type::STR; }
  bool is_bool() const { return o_->type == msgpack::type::BOOLEAN; }
  bool is_number() const {
    switch (o_->type) {
      case msgpack::type::POSITIVE_INTEGER:
      case msgpack::type::NEGATIVE_INTEGER:
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        return true;
      default:
        return false;
    }
  }

  std::string_view str() const { return {o_->via.str.ptr, o_->via.str.size}; }

  bool boolean() const { return o_->via.boolean; }

  bool to_int64(int64_t& out) const {
    switch (o_->type) {
      case msgpack::type::POSITIVE_INTEGER:
        if (o_->via.u64
            > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return false;
        out = static_cast<int64_t>(o_->via.u64);
        return true;
      case msgpack::type::NEGATIVE_INTEGER:
        out = o_->via.i64;
        return true;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64: {
        auto d = o_->via.f64;
        if (!std::isfinite(d) || d < -9.0e18 || d > 9.0e18)
          return false;
        out = static_cast<int64_t>(d);
        return true;
      }
      default:
        return false;
    }
  }

  bool to_uint64(uint64_t& out) const {
    if (o_->type != msgpack::type::POSITIVE_INTEGER)
      return false;
    out = o_->via.u64;
    return true;
  }

  std::optional<mp_node> member(std::string_view key) const {
    if (o_->type != msgpack::type::MAP)
      return std::nullopt;
    auto& m = o_->via.map;
    for (uint32_t i = 0; i < m.size; ++i) {
      auto& kv = m.ptr[i];
      if (kv.key.type == msgpack::type::STR
          && std::string_view{kv.key.via.str.ptr, kv.key.via.str.size} == key)
        return mp_node{&kv.val};
    }
    return std::nullopt;
  }

  template <class F>
  void members(F f) const {
    auto& m = o_->via.map;
    for (uint32_t i = 0; i < m.size; ++i) {
      auto& kv = m.ptr[i];
      if (kv.key.type == msgpack::type::STR)
        f(std::string_view{kv.key.via.str.ptr, kv.key.via.str.size},
          mp_node{&kv.val});
    }
  }

  size_t size() const { return is_array() ? o_->via.array.size : 0; }

  mp_node at(size_t i) const { return mp_node{&o_->via.array.ptr[i]}; }

  raw_value raw() const {
    raw_value result;
    result.format = codec::msgpack;
    string_sink sink{&result.raw};
    msgpack::pack(sink, *o_);
    return result;
  }

  // Everything an opaque value forwards must be representable in JSON too:
  // string keys, finite floats, valid UTF-8, no ext types.
  bool check(size_t max_depth, std::string& why) const {
    return check(*o_, 1, max_depth, why);
  }

private:
  static bool check(const msgpack::object& o, size_t depth, size_t max,
                    std::string& why) {
    switch (o.type) {
      case msgpack::type::STR:
        if (!valid_utf8({o.via.str.ptr, o.via.str.size})) {
          why = "contains a string that is not valid UTF-8";
          return false;
        }
        return true;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        if (!std::isfinite(o.via.f64)) {
          why = "contains a NaN or infinite number";
          return false;
        }
        return true;
      case msgpack::type::EXT:
        why = "contains a msgpack ext value";
        return false;
      case msgpack::type::ARRAY:
      case msgpack::type::MAP:
        if (depth > max) {
          why = "is nested deeper than " + std::to_string(max) + " levels";
          return false;
        }
        if (o.type == msgpack::type::ARRAY) {
          for (uint32_t i = 0; i < o.via.array.size; ++i)
            if (!check(o.via.array.ptr[i], depth + 1, max, why))
              return false;
        } else {
          for (uint32_t i = 0; i < o.via.map.size; ++i) {
            auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) {
              why = "contains a map key that is not a string";
              return false;
            }
            if (!check(kv.key, depth + 1, max, why)
                || !check(kv.val, depth + 1, max, why))
              return false;
          }
        }
        return true;
      default:
        return true;
    }
  }

  const msgpack::object* o_;
};

class mp_emitter {
public:
  static constexpr codec format = codec::msgpack;

  explicit mp_emitter(std::string& out) : sink_{&out}, pk_{sink_} {
    // nop
  }

  void begin_object(size_t n) { pk_.pack_map(static_cast<uint32_t>(n)); }
  void end_object() {}
  void begin_array(size_t n) { pk_.pack_array(static_cast<uint32_t>(n)); }
  void end_array() {}
  void key(std::string_view k) { string(k); }
  void string(std::string_view s) {
    pk_.pack_str(static_cast<uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void int64(int64_t v) { pk_.pack_int64(v); }
  void uint64(uint64_t v) { pk_.pack_uint64(v); }
  void boolean(bool v) {
    if (v)
      pk_.pack_true();
    else
      pk_.pack_false();
  }

  size_t size() const { return sink_.out->size(); }

  void raw(const raw_value& v) {
    if (v.format == codec::msgpack) {
      sink_.write(v.raw.data(), v.raw.size());
      return;
    }
    std::string tmp;
    if (json_to_msgpack(v.raw, tmp))
      sink_.write(tmp.data(), tmp.size());
    else
      pk_.pack_nil();
  }

private:
  string_sink sink_;
  msgpack::packer<string_sink> pk_;
};

template <class T>
void encode_any(const T& x, std::string& out) {
  mp_emitter e{out};
  emit(e, x);
}

// Zero-copy strings: the object tree never outlives the frame bytes.
bool reference_all(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

} // namespace

void decode_msgpack(std::string_view bytes, const limits& lim,
                    decoded_frame& out) {
  // Without limits a 5-byte array32 header claiming 2^32 elements makes
  // msgpack-c attempt a huge allocation; ext types are refused (limit 0).
  // The depth bounds every later walk of the tree (reader, duplicates).
  constexpr size_t max_container = 65536;
  msgpack::unpack_limit limit{max_container,
                              max_container,
                              bytes.size(),
                              bytes.size(),
                              0,
                              lim.max_depth + frame_depth_margin};
  msgpack::object_handle oh;
  std::size_t offset = 0;
  try {
    oh = msgpack::unpack(bytes.data(), bytes.size(), offset, reference_all,
                         nullptr, limit);
  } catch (const std::exception& e) {
    out.error = errc::malformed_frame;
    out.error_message = std::string{"invalid msgpack: "} + e.what();
    return;
  }
  if (offset != bytes.size()) {
    out.error = errc::malformed_frame;
    out.error_message = "invalid msgpack: trailing bytes after the frame";
    return;
  }
  read_frame(mp_node{&oh.get()}, lim, out);
}

void encode_msgpack(const mobile_message& x, std::string& out) {
  encode_any(x, out);
}

void encode_msgpack(const message_ack& x, std::string& out) {
  encode_any(x, out);
}

void encode_msgpack(const heartbeat& x, std::string& out) {
  encode_any(x, out);
}

void encode_msgpack(const batch_message& x, std::string& out) {
  encode_any(x, out);
}

void encode_msgpack(const mobile_message& x, uint64_t seq, std::string& out) {
  mp_emitter e{out};
  emit(e, x, seq);
}

void encode_msgpack_batch(std::string_view id, int64_t timestamp,
                          const std::vector<delivery_view>& items,
                          std::string& out) {
  mp_emitter e{out};
  emit_deliveries(e, id, timestamp, items);
}

} // namespace tether::protocol::detail

#pragma once

// The one reader of protocol 1.x frames, written once over a "node" view of a
// parsed document and instantiated for JSON (rapidjson) and msgpack
// (msgpack-c) in json_codec.cpp and msgpack_codec.cpp. Include nowhere else.
//
// A Node offers: utf8_checked (whether its parser checked every string's
// UTF-8 already), may_repeat_keys() (false: its parser saw no object name
// a key twice), is_null/is_object/is_array/is_string/is_bool/is_number,
// str(), boolean(), to_int64(int64_t&), to_uint64(uint64_t&), member(key) ->
// std::optional<Node>, members(f(key, node)), size(), at(i), raw() ->
// raw_value, and check(max_depth, std::string& why) for opaque values.
//
// An object that names a key twice, at any level, is refused with the key's
// path (SPEC §3): the codecs keep the first copy, other readers the last, and
// a check of one copy must not let the other through.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/detail/duplicates.hpp"
#include "protocol/model.hpp"
#include "protocol/validate.hpp"

namespace tether::protocol::detail {

template <class Node>
class reader {
public:
  reader(const limits& lim, std::vector<field_error>& errors)
    : lim_(lim), errors_(errors) {
    // nop
  }

  // -- whole frames
  // -------------------------------------------------------------

  void read_message(const Node& obj, mobile_message& m) {
    if (!obj.is_object()) {
      fail("", "message must be an object");
      return;
    }
    if (std::string twice; duplicate_finder<Node>{}.find(obj, twice))
      fail(std::move(twice), duplicate_message);
    string(obj, "id", "", m.id, true);
    opt_string(obj, "correlationId", "", m.correlation_id);
    int64(obj, "timestamp", "", m.timestamp, true);
    string(obj, "protocolVersion", "", m.protocol_version, true);
    if (auto src = object(obj, "source", "", true))
      read_source(*src, m.source);
    if (auto dst = object(obj, "destination", "", true))
      read_destination(*dst, m.destination);
    string(obj, "type", "", m.type, true);
    if (auto p = obj.member("payload"); p && !p->is_null())
      opaque(*p, "payload", m.payload);
    if (auto opt = object(obj, "optimization", "", true))
      read_optimization(*opt, m.optimization);
    opt_string(obj, "checksum", "", m.checksum);
    opt_string(obj, "signature", "", m.signature);
    // `seq` is assigned by the server on delivery (the server ignores one a
    // device sends; clients read the server's).
    if (auto s = obj.member("seq"); s && !s->is_null()) {
      uint64_t v = 0;
      if (s->to_uint64(v))
        m.seq = v;
    }
    obj.members([&](std::string_view key, const Node& value) {
      if (!Node::utf8_checked && !valid_utf8(key)) {
        // Not echoed: the failed ack must itself be valid UTF-8.
        fail("(unknown key)", "a top-level key is not valid UTF-8");
        return;
      }
      if (is_kind_key(key)) {
        // Forwarded, it would make recipients read the message as a batch
        // or an ack (SPEC §3): refused, never delivered.
        fail(std::string{key}, "decides a frame's kind (SPEC §3) and must "
                               "not appear in a message");
        return;
      }
      if (is_envelope_key(key) || value.is_null())
        return;
      if (m.extra.size() == max_extra_fields) {
        fail(std::string{key}, "too many unknown fields (at most "
                                 + std::to_string(max_extra_fields) + ")");
        return;
      }
      extra_field f;
      f.name = std::string{key};
      if (opaque(value, f.name, f.value))
        m.extra.push_back(std::move(f));
    });
  }

  void read_ack(const Node& obj, message_ack& a) {
    string(obj, "messageId", "", a.message_id, true);
    opt_string(obj, "batchId", "", a.batch_id);
    enumeration(obj, "status", "", a.status, true,
                "received, processed, failed, expired");
    int64(obj, "timestamp", "", a.timestamp, false);
    if (auto e = object(obj, "error", "", false)) {
      ack_error err;
      string(*e, "code", "error", err.code, true);
      string(*e, "message", "error", err.message, false);
      if (auto d = e->member("details"); d && !d->is_null())
        opaque(*d, "error.details", err.details);
      a.error = std::move(err);
    }
    if (auto s = obj.member("seq"); s && !s->is_null()) {
      uint64_t v = 0;
      if (s->to_uint64(v))
        a.seq = v;
      else
        fail("seq", "must be a non-negative integer");
    }
    if (auto r = obj.member("recipients"); r && !r->is_null()) {
      uint64_t v = 0;
      if (r->to_uint64(v) && v <= UINT32_MAX)
        a.recipients = static_cast<uint32_t>(v);
      else
        fail("recipients", "must be a non-negative integer");
    }
  }

  void read_heartbeat(const Node& obj, heartbeat& hb) {
    auto t = obj.member("type");
    hb.pong = t && t->is_string() && t->str() == "pong";
    int64(obj, "timestamp", "", hb.timestamp, false);
  }

  /// Reads the batch object and its messages into `out`.
  void read_batch(const Node& obj, decoded_frame& out) {
    string(obj, "id", "", out.batch_id, true);
    int64_t ts = 0;
    int64(obj, "timestamp", "", ts, false);
    auto msgs = obj.member("messages");
    if (!msgs || !msgs->is_array()) {
      fail("messages", "must be an array of messages");
      return;
    }
    if (msgs->size() > lim_.max_batch_messages) {
      fail("messages", "must hold at most "
                         + std::to_string(lim_.max_batch_messages)
                         + " messages");
      return;
    }
    out.messages.resize(msgs->size());
    for (size_t i = 0; i < msgs->size(); ++i) {
      auto& dm = out.messages[i];
      reader<Node> sub{lim_, dm.errors};
      sub.read_message(msgs->at(i), dm.msg);
      finish(dm);
    }
  }

  /// Runs the semantic rules after reading and sets the message's error.
  void finish(decoded_message& dm) const {
    validate(dm.msg, lim_, dm.errors);
    dedupe(dm.errors);
    std::string why;
    if (check_version(dm.msg.protocol_version, why)
        == errc::unsupported_version) {
      dm.error = errc::unsupported_version;
      dm.errors = {{"protocolVersion", why}};
    } else if (!dm.errors.empty()) {
      dm.error = errc::validation_error;
    }
  }

  /// The field error of a key named twice in one object.
  static constexpr const char* duplicate_message = "is given more than once";

private:
  static constexpr size_t max_extra_fields = 16;

  /// The keys that make a frame a BatchMessage or a MessageAck (SPEC §3).
  static bool is_kind_key(std::string_view k) {
    return k == "messages" || k == "messageId" || k == "status";
  }

  static bool is_envelope_key(std::string_view k) {
    for (auto x : {"id", "correlationId", "timestamp", "protocolVersion",
                   "source", "destination", "type", "payload", "optimization",
                   "checksum", "signature", "seq"})
      if (k == x)
        return true;
    return false;
  }

  static std::string path(std::string_view prefix, std::string_view key) {
    if (prefix.empty())
      return std::string{key};
    std::string result;
    result.reserve(prefix.size() + key.size() + 1);
    result.append(prefix).append(".").append(key);
    return result;
  }

  void fail(std::string field, std::string message) {
    errors_.push_back({std::move(field), std::move(message)});
  }

  // Returns the value under `key`, reporting a missing required field.
  std::optional<Node> lookup(const Node& obj, std::string_view key,
                             std::string_view prefix, bool required) {
    auto x = obj.member(key);
    if (x && !x->is_null())
      return x;
    if (required)
      fail(path(prefix, key), "is required");
    return std::nullopt;
  }

  std::optional<Node> object(const Node& obj, std::string_view key,
                             std::string_view prefix, bool required) {
    auto x = lookup(obj, key, prefix, required);
    if (x && !x->is_object()) {
      fail(path(prefix, key), "must be an object");
      return std::nullopt;
    }
    return x;
  }

  bool string(const Node& obj, std::string_view key, std::string_view prefix,
              std::string& out, bool required) {
    auto x = lookup(obj, key, prefix, required);
    if (!x)
      return false;
    if (!x->is_string()) {
      fail(path(prefix, key), "must be a string");
      return false;
    }
    auto s = x->str();
    if (s.size() > 4096) {
      // Longer than any envelope string may be; do not copy it.
      fail(path(prefix, key), "is too long");
      return false;
    }
    if (!Node::utf8_checked && !valid_utf8(s)) {
      fail(path(prefix, key), "must be valid UTF-8");
      return false;
    }
    out.assign(s.data(), s.size());
    return true;
  }

  void opt_string(const Node& obj, std::string_view key,
                  std::string_view prefix, std::optional<std::string>& out) {
    std::string tmp;
    if (string(obj, key, prefix, tmp, false))
      out = std::move(tmp);
  }

  bool int64(const Node& obj, std::string_view key, std::string_view prefix,
             int64_t& out, bool required) {
    auto x = lookup(obj, key, prefix, required);
    if (!x)
      return false;
    if (!x->is_number() || !x->to_int64(out)) {
      fail(path(prefix, key), "must be a number");
      return false;
    }
    return true;
  }

  void opt_int64(const Node& obj, std::string_view key, std::string_view prefix,
                 std::optional<int64_t>& out) {
    int64_t tmp = 0;
    if (int64(obj, key, prefix, tmp, false))
      out = tmp;
  }

  void boolean(const Node& obj, std::string_view key, std::string_view prefix,
               bool& out) {
    auto x = lookup(obj, key, prefix, false);
    if (!x)
      return;
    if (!x->is_bool())
      fail(path(prefix, key), "must be a boolean");
    else
      out = x->boolean();
  }

  template <class Enum>
  bool enumeration(const Node& obj, std::string_view key,
                   std::string_view prefix, Enum& out, bool required,
                   const char* allowed) {
    std::string s;
    if (!string(obj, key, prefix, s, required))
      return false;
    if (!from_string(s, out)) {
      fail(path(prefix, key), std::string{"must be one of: "} + allowed);
      return false;
    }
    return true;
  }

  bool opaque(const Node& x, std::string_view field, raw_value& out) {
    std::string why;
    if (!x.check(lim_.max_depth, why)) {
      fail(std::string{field}, why);
      return false;
    }
    out = x.raw();
    return true;
  }

  void read_source(const Node& obj, source_info& s) {
    string(obj, "deviceId", "source", s.device_id, true);
    string(obj, "userId", "source", s.user_id, true);
    enumeration(obj, "deviceType", "source", s.type, true,
                "mobile, desktop, web, tablet");
    opt_string(obj, "sessionId", "source", s.session_id);
    int64(obj, "timestamp", "source", s.timestamp, true);
  }

  void read_destination(const Node& obj, destination_info& d) {
    enumeration(obj, "target", "destination", d.to, true,
                "extension, device, broadcast, cloud");
    opt_string(obj, "deviceId", "destination", d.device_id);
    opt_string(obj, "userId", "destination", d.user_id);
    opt_string(obj, "sessionId", "destination", d.session_id);
    if (auto b = object(obj, "broadcast", "destination", false)) {
      broadcast_info bi;
      enumeration(*b, "scope", "destination.broadcast", bi.scope, true,
                  "user, device_type, all, room");
      opt_string(*b, "room", "destination.broadcast", bi.room);
      if (auto f = object(*b, "filter", "destination.broadcast", false)) {
        opaque(*f, "destination.broadcast.filter", bi.filter);
        read_type_filter(*f, "deviceType", bi.device_types);
        read_type_filter(*f, "deviceTypes", bi.device_types);
      }
      d.broadcast = std::move(bi);
    }
  }

  // `filter.deviceType` may be one type or an array of types.
  void read_type_filter(const Node& filter, std::string_view key,
                        std::vector<device_type>& out) {
    auto x = filter.member(key);
    if (!x || x->is_null())
      return;
    auto field = path("destination.broadcast.filter", key);
    auto add = [&](const Node& v) {
      device_type t;
      if (v.is_string() && from_string(v.str(), t))
        out.push_back(t);
      else
        fail(field, "must name device types: mobile, desktop, web, tablet");
    };
    if (x->is_array()) {
      for (size_t i = 0; i < x->size() && i < 8; ++i)
        add(x->at(i));
    } else {
      add(*x);
    }
  }

  void read_optimization(const Node& obj, optimization_info& o) {
    enumeration(obj, "priority", "optimization", o.prio, true,
                "critical, high, normal, low");
    opt_int64(obj, "ttl", "optimization", o.ttl_ms);
    compression c;
    if (enumeration(obj, "compression", "optimization", c, false,
                    "none, gzip, brotli, deflate"))
      o.compress = c;
    opt_string(obj, "batchId", "optimization", o.batch_id);
    opt_int64(obj, "retryCount", "optimization", o.retry_count);
    opt_int64(obj, "maxRetries", "optimization", o.max_retries);
    boolean(obj, "requiresAck", "optimization", o.requires_ack);
    boolean(obj, "offlineCapable", "optimization", o.offline_capable);
    boolean(obj, "withdrawable", "optimization", o.withdrawable);
    boolean(obj, "notify", "optimization", o.notify);
    if (auto n = object(obj, "notification", "optimization", false)) {
      // Both strings (either may be empty), as a push shows them.
      notification_info info;
      auto title = string(*n, "title", "optimization.notification", info.title,
                          true);
      auto body = string(*n, "body", "optimization.notification", info.body,
                         true);
      if (title && body)
        o.notification = std::move(info);
    }
  }

  const limits& lim_;
  std::vector<field_error>& errors_;
};

/// Classifies a parsed top-level value and reads it into `out`.
template <class Node>
void read_frame(const Node& root, const limits& lim, decoded_frame& out) {
  if (!root.is_object()) {
    out.error = errc::malformed_frame;
    out.error_message = "a frame must be an object";
    return;
  }
  // Keys named twice: in a batch's own fields the batch is refused, in one
  // of its messages that message (read_message); elsewhere the frame.
  std::string twice;
  if (root.member("messages")) {
    out.kind = frame_kind::batch;
    // Read on all the same: the refusal names the batch id.
    if (duplicate_finder<Node>{}.find(root, twice, "messages"))
      out.batch_errors.push_back(
        {std::move(twice), reader<Node>::duplicate_message});
    reader<Node>{lim, out.batch_errors}.read_batch(root, out);
    dedupe(out.batch_errors);
    return;
  }
  auto refuse_twice = [&](const char* what) {
    if (!duplicate_finder<Node>{}.find(root, twice))
      return false;
    out.error = errc::validation_error;
    out.error_message = std::string{what} + twice + " "
                        + reader<Node>::duplicate_message;
    return true;
  };
  if (root.member("messageId") && root.member("status")) {
    out.kind = frame_kind::ack;
    if (refuse_twice("invalid ack: "))
      return;
    std::vector<field_error> errors;
    reader<Node>{lim, errors}.read_ack(root, out.ack);
    if (!errors.empty()) {
      out.error = errc::validation_error;
      out.error_message = "invalid ack: " + errors.front().field + " "
                          + errors.front().message;
    }
    return;
  }
  if (auto t = root.member("type");
      t && t->is_string() && (t->str() == "ping" || t->str() == "pong")
      && !root.member("id")) {
    out.kind = frame_kind::heartbeat;
    if (refuse_twice("invalid heartbeat: "))
      return;
    std::vector<field_error> errors;
    reader<Node>{lim, errors}.read_heartbeat(root, out.hb);
    return;
  }
  out.kind = frame_kind::message;
  out.messages.resize(1);
  auto& dm = out.messages.front();
  reader<Node> r{lim, dm.errors};
  r.read_message(root, dm.msg);
  r.finish(dm);
}

} // namespace tether::protocol::detail

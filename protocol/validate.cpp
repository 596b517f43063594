#include "protocol/validate.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "protocol/control.hpp"

namespace tether::protocol {

namespace {

void check_length(std::vector<field_error>& errors, std::string_view field,
                  const std::string& value, size_t max) {
  if (value.empty())
    errors.push_back({std::string{field}, "must not be empty"});
  else if (value.size() > max)
    errors.push_back(
      {std::string{field},
       "must be at most " + std::to_string(max) + " characters"});
}

void check_length(std::vector<field_error>& errors, std::string_view field,
                  const std::optional<std::string>& value, size_t max) {
  if (value)
    check_length(errors, field, *value, max);
}

bool is_digits(std::string_view s) {
  return !s.empty() && s.size() <= 9
         && std::all_of(s.begin(), s.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

errc check_version(std::string_view version, std::string& message) {
  // Pattern: ^\d+\.\d+\.\d+$ (as the original schema required).
  auto first = version.find('.');
  auto second = first == std::string_view::npos ? std::string_view::npos
                                                : version.find('.', first + 1);
  if (second == std::string_view::npos || !is_digits(version.substr(0, first))
      || !is_digits(version.substr(first + 1, second - first - 1))
      || !is_digits(version.substr(second + 1))) {
    message = "must look like MAJOR.MINOR.PATCH (e.g. 1.0.0)";
    return errc::validation_error;
  }
  // At most 9 digits (is_digits): no overflow.
  int major = 0;
  for (auto c : version.substr(0, first))
    major = major * 10 + (c - '0');
  if (major != supported_major) {
    message = "protocolVersion " + std::string{version}
              + " is not supported; this server accepts 1.x (>= 1.0.0, "
                "< 2.0.0)";
    return errc::unsupported_version;
  }
  return errc::none;
}

void validate(const mobile_message& m, const limits& lim,
              std::vector<field_error>& errors) {
  check_length(errors, "id", m.id, max_id_length);
  check_length(errors, "correlationId", m.correlation_id, max_id_length);
  check_length(errors, "type", m.type, max_type_length);
  if (is_server_type(m.type) && m.destination.to != target::cloud
      && m.source.device_id != server_device_id)
    errors.push_back({"type", "tether.* types are reserved for the server "
                              "(SPEC §9); only requests to target cloud "
                              "may use them"});
  if (m.timestamp < 0)
    errors.push_back({"timestamp", "must not be negative"});
  std::string version_message;
  if (check_version(m.protocol_version, version_message) != errc::none)
    errors.push_back({"protocolVersion", version_message});
  // source
  check_length(errors, "source.deviceId", m.source.device_id, max_id_length);
  check_length(errors, "source.userId", m.source.user_id, max_id_length);
  check_length(errors, "source.sessionId", m.source.session_id, max_id_length);
  if (m.source.timestamp < 0)
    errors.push_back({"source.timestamp", "must not be negative"});
  // destination, with its conditional rules
  const auto& dst = m.destination;
  check_length(errors, "destination.deviceId", dst.device_id, max_id_length);
  check_length(errors, "destination.userId", dst.user_id, max_id_length);
  check_length(errors, "destination.sessionId", dst.session_id, max_id_length);
  switch (dst.to) {
    case target::device:
      if (!dst.device_id)
        errors.push_back({"destination.deviceId",
                          "is required when destination.target is device"});
      break;
    case target::broadcast:
      if (!dst.broadcast)
        errors.push_back({"destination.broadcast",
                          "is required when destination.target is "
                          "broadcast"});
      else if (dst.broadcast->scope == broadcast_scope::device_type
               && dst.broadcast->device_types.empty())
        errors.push_back({"destination.broadcast.filter.deviceType",
                          "is required when destination.broadcast.scope is "
                          "device_type"});
      else if (dst.broadcast->scope == broadcast_scope::room
               && (!dst.broadcast->room
                   || !valid_room_name(*dst.broadcast->room)))
        errors.push_back({"destination.broadcast.room",
                          "is required when destination.broadcast.scope is "
                          "room: 1-200 characters of A-Z a-z 0-9 _ - . : @"});
      break;
    case target::extension:
    case target::cloud:
      break;
  }
  // optimization
  const auto& opt = m.optimization;
  if (opt.ttl_ms && (*opt.ttl_ms < 0 || *opt.ttl_ms > lim.max_ttl.count()))
    errors.push_back(
      {"optimization.ttl", "must be between 0 and "
                             + std::to_string(lim.max_ttl.count())
                             + " milliseconds"});
  check_length(errors, "optimization.batchId", opt.batch_id, max_id_length);
  if (opt.retry_count && *opt.retry_count < 0)
    errors.push_back({"optimization.retryCount", "must not be negative"});
  if (opt.max_retries && *opt.max_retries < 0)
    errors.push_back({"optimization.maxRetries", "must not be negative"});
  if (opt.notification) {
    auto too_long = [&](const char* field, const std::string& s, size_t max) {
      if (s.size() > max)
        errors.push_back(
          {field, "must be at most " + std::to_string(max) + " bytes"});
    };
    too_long("optimization.notification.title", opt.notification->title,
             max_notification_title);
    too_long("optimization.notification.body", opt.notification->body,
             max_notification_body);
  }
  if (m.payload.raw.size() > lim.max_payload_bytes)
    errors.push_back({"payload", "must be at most "
                                   + std::to_string(lim.max_payload_bytes)
                                   + " bytes when encoded"});
}

void validate(const device_info& d, std::string_view prefix,
              std::vector<field_error>& errors) {
  auto path = [&](const char* field) { return std::string{prefix} + field; };
  check_length(errors, path("deviceId"), d.device_id, max_id_length);
  check_length(errors, path("userId"), d.user_id, max_id_length);
  check_length(errors, path("platform"), d.platform, 50);
  // The original's pattern ^\d+\.\d+\.\d+ is unanchored at the end, so
  // suffixes such as "1.2.3-beta" pass.
  auto v = std::string_view{d.version};
  auto ok = false;
  if (auto a = v.find('.');
      a != std::string_view::npos && is_digits(v.substr(0, a))) {
    if (auto b = v.find('.', a + 1);
        b != std::string_view::npos && is_digits(v.substr(a + 1, b - a - 1))) {
      auto rest = v.substr(b + 1);
      ok = !rest.empty() && rest[0] >= '0' && rest[0] <= '9';
    }
  }
  if (!ok)
    errors.push_back({path("version"), "must start with MAJOR.MINOR.PATCH"});
  if (d.capabilities.max_message_size && *d.capabilities.max_message_size <= 0)
    errors.push_back(
      {path("capabilities.maxMessageSize"), "must be a positive number"});
}

bool is_server_type(std::string_view type) noexcept {
  return type.substr(0, 7) == "tether.";
}

bool valid_room_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 200)
    return false;
  for (auto c : name) {
    auto ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
              || c == ':' || c == '@';
    if (!ok)
      return false;
  }
  return true;
}

void dedupe(std::vector<field_error>& errors) {
  std::unordered_set<std::string> seen;
  auto out = errors.begin();
  for (auto i = errors.begin(); i != errors.end(); ++i) {
    if (!seen.insert(i->field).second)
      continue;
    if (out != i)
      *out = std::move(*i);
    ++out;
  }
  errors.erase(out, errors.end());
}

size_t utf8_prefix(std::string_view s) noexcept {
  auto begin = reinterpret_cast<const unsigned char*>(s.data());
  auto p = begin;
  auto end = p + s.size();
  auto invalid = [&] { return static_cast<size_t>(p - begin); };
  while (p < end) {
    // Eight ASCII bytes at a time: most text is.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0)
        break;
      p += 8;
    }
    if (p == end)
      break;
    auto c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return invalid();
    }
    if (static_cast<size_t>(end - p) <= n)
      return invalid();
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80)
        return invalid();
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    static constexpr uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return invalid();
    p += n + 1;
  }
  return s.size();
}

bool valid_utf8(std::string_view s) noexcept {
  return utf8_prefix(s) == s.size();
}

} // namespace tether::protocol

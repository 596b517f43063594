#include "runtime/http_text.hpp"

#include <cstdint>

#include "protocol/validate.hpp"

namespace tether::runtime {

std::string json_error(std::string_view error, std::string_view message) {
  std::string out = R"({"error":")";
  out.append(error).append(R"(","message":")");
  static constexpr char hex[] = "0123456789abcdef";
  // JSON is UTF-8: a message that is not has its other bytes as '?'.
  auto utf8 = protocol::valid_utf8(message);
  for (auto c : message) {
    auto u = static_cast<unsigned char>(c);
    if (!utf8 && u >= 0x80) {
      out += '?';
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

bool same_secret(std::string_view given, std::string_view key) {
  unsigned char diff = given.size() != key.size() ? 1 : 0;
  for (size_t i = 0; i < key.size(); ++i)
    diff
      |= static_cast<unsigned char>((i < given.size() ? given[i] : 0) ^ key[i]);
  return diff == 0;
}

std::chrono::milliseconds stream_interval(std::string_view query) {
  constexpr std::string_view name = "interval=";
  for (size_t i = 0; i <= query.size();) {
    auto j = query.find('&', i);
    if (j == std::string_view::npos)
      j = query.size();
    auto param = query.substr(i, j - i);
    if (param.substr(0, name.size()) == name) {
      auto v = param.substr(name.size());
      uint64_t ms = 0;
      if (v.empty() || v.size() > 6)
        return std::chrono::milliseconds{0};
      for (auto c : v) {
        if (c < '0' || c > '9')
          return std::chrono::milliseconds{0};
        ms = ms * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ms < 250 || ms > 60000)
        return std::chrono::milliseconds{0};
      return std::chrono::milliseconds{ms};
    }
    i = j + 1;
  }
  return std::chrono::milliseconds{1000};
}

} // namespace tether::runtime

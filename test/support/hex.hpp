#pragma once

// Hex helpers for byte-exact codec tests.

#include <string>
#include <string_view>

namespace tether::test {

/// "83 a9 6d" -> bytes; spaces are ignored.
inline std::string unhex(std::string_view text) {
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  std::string out;
  int hi = -1;
  for (auto c : text) {
    if (c == ' ' || c == '\n')
      continue;
    if (hi < 0) {
      hi = nibble(c);
    } else {
      out += static_cast<char>(hi * 16 + nibble(c));
      hi = -1;
    }
  }
  return out;
}

inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty())
      out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace tether::test

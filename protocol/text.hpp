#pragma once

// Small text helpers shared by the parsers of every layer (INI files,
// HTTP headers, key and secret files). Pure, header-only.

#include <string_view>

namespace tether::protocol {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos)
    return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

} // namespace tether::protocol

#include "config/values.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <sstream>

#include "protocol/text.hpp"

namespace tether::config::detail {

std::string trim(std::string_view s) {
  return std::string{protocol::trim(s)};
}

template <class T>
bool parse_unsigned(const std::string& text, T& out, std::string& err) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) {
    err = "expected a non-negative integer, got '" + text + "'";
    return false;
  }
  if (v > std::numeric_limits<T>::max()) {
    err = "must be at most " + std::to_string(std::numeric_limits<T>::max());
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

bool parse_value(const std::string& text, std::string& out, std::string&) {
  out = text;
  return true;
}

bool parse_value(const std::string& text, uint16_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, uint32_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, uint64_t& out, std::string& err) {
  return parse_unsigned(text, out, err);
}

bool parse_value(const std::string& text, int64_t& out, std::string& err) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || p != text.data() + text.size()) {
    err = "expected an integer, got '" + text + "'";
    return false;
  }
  return true;
}

bool parse_value(const std::string& text, double& out, std::string& err) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    if (used == text.size())
      return true;
  } catch (const std::exception&) {
    // reported below
  }
  err = "expected a number, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, bool& out, std::string& err) {
  if (text == "true" || text == "on" || text == "yes" || text == "1") {
    out = true;
    return true;
  }
  if (text == "false" || text == "off" || text == "no" || text == "0") {
    out = false;
    return true;
  }
  err = "expected true or false, got '" + text + "'";
  return false;
}

// Durations: a number with an optional unit (ms, s, m, h, d); a bare number
// is in the unit of the setting.
template <class Rep, class Period>
bool parse_duration_value(const std::string& text,
                          std::chrono::duration<Rep, Period>& out,
                          std::string& err) {
  using target = std::chrono::duration<Rep, Period>;
  size_t digits = 0;
  while (digits < text.size()
         && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  uint64_t n = 0;
  auto unit = text.substr(digits);
  if (digits == 0
      || std::from_chars(text.data(), text.data() + digits, n).ec
           != std::errc{}) {
    err = "expected a duration such as 500ms, 20s, 5m, 1h or 30d, got '" + text
          + "'";
    return false;
  }
  using namespace std::chrono;
  int64_t per_unit = 0; // milliseconds
  if (unit.empty())
    per_unit = duration_cast<milliseconds>(target{1}).count();
  else if (unit == "ms")
    per_unit = 1;
  else if (unit == "s")
    per_unit = 1000;
  else if (unit == "m" || unit == "min")
    per_unit = 60 * 1000;
  else if (unit == "h")
    per_unit = 3600 * 1000;
  else if (unit == "d")
    per_unit = 24 * 3600 * 1000;
  if (per_unit == 0) {
    err = "unknown duration unit '" + unit + "' (use ms, s, m, h or d)";
    return false;
  }
  // About 290 million years of milliseconds: anything beyond is a typo.
  if (n > static_cast<uint64_t>(INT64_MAX / per_unit)) {
    err = "'" + text + "' is too long";
    return false;
  }
  milliseconds ms{static_cast<int64_t>(n) * per_unit};
  if (ms.count() % duration_cast<milliseconds>(target{1}).count() != 0) {
    err = "'" + text + "' is finer than this setting's unit";
    return false;
  }
  out = duration_cast<target>(ms);
  return true;
}

bool parse_value(const std::string& text, std::chrono::milliseconds& out,
                 std::string& err) {
  return parse_duration_value(text, out, err);
}

bool parse_value(const std::string& text, std::chrono::seconds& out,
                 std::string& err) {
  return parse_duration_value(text, out, err);
}

bool parse_value(const std::string& text, actors::overflow_policy& out,
                 std::string& err) {
  if (actors::from_string(text, out))
    return true;
  err = "expected evict_lowest or refuse_new, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, protocol::priority& out,
                 std::string& err) {
  if (protocol::from_string(text, out))
    return true;
  err = "expected low, normal, high or critical, got '" + text + "'";
  return false;
}

bool parse_value(const std::string& text, std::vector<std::string>& out,
                 std::string&) {
  out.clear();
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    if (auto t = trim(item); !t.empty())
      out.push_back(t);
  return true;
}

bool parse_value(const std::string& text, std::vector<actors::room_rule>& out,
                 std::string& err) {
  std::vector<std::string> specs;
  parse_value(text, specs, err);
  std::vector<std::string> problems;
  auto rules = actors::parse_room_rules(specs, problems);
  if (!problems.empty()) {
    for (auto& p : problems)
      err += (err.empty() ? "" : "; ") + p;
    return false;
  }
  out = std::move(rules);
  return true;
}

std::string print(const std::string& x) {
  return x;
}
std::string print(actors::overflow_policy x) {
  return std::string{actors::to_string(x)};
}
std::string print(protocol::priority x) {
  return std::string{protocol::to_string(x)};
}
std::string print(bool x) {
  return x ? "true" : "false";
}
std::string print(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}
std::string print(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}
std::string print(const std::vector<actors::room_rule>& xs) {
  std::vector<std::string> specs;
  specs.reserve(xs.size());
  for (auto& r : xs)
    specs.push_back(actors::to_string(r));
  return print(specs);
}

// In the largest unit that is exact: 7d, 5m, 30s, 250ms.
std::string print(std::chrono::milliseconds x) {
  auto n = x.count();
  static constexpr std::pair<int64_t, const char*> units[] = {
    {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
  for (auto& [per, name] : units)
    if (n != 0 && n % per == 0)
      return std::to_string(n / per) + name;
  return std::to_string(n) + (n == 0 ? "s" : "ms");
}
std::string print(std::chrono::seconds x) {
  return print(std::chrono::milliseconds{x});
}

} // namespace tether::config::detail

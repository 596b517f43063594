#pragma once

// The values a setting can hold, read from and written as INI text: one
// parse_value and one print per type, found by overload resolution from
// the table of keys (keys.cpp). A parse that fails says why in `err`.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "actors/queue/device_queue.hpp"
#include "actors/room/room_rules.hpp"
#include "protocol/model.hpp"

namespace tether::config::detail {

std::string trim(std::string_view s);

bool parse_value(const std::string& text, std::string& out, std::string& err);
bool parse_value(const std::string& text, uint16_t& out, std::string& err);
bool parse_value(const std::string& text, uint32_t& out, std::string& err);
bool parse_value(const std::string& text, uint64_t& out, std::string& err);
bool parse_value(const std::string& text, int64_t& out, std::string& err);
bool parse_value(const std::string& text, double& out, std::string& err);
bool parse_value(const std::string& text, bool& out, std::string& err);
/// Durations: a number with an optional unit (ms, s, m, h, d); a bare
/// number is in the unit of the setting.
bool parse_value(const std::string& text, std::chrono::milliseconds& out,
                 std::string& err);
bool parse_value(const std::string& text, std::chrono::seconds& out,
                 std::string& err);
bool parse_value(const std::string& text, actors::overflow_policy& out,
                 std::string& err);
bool parse_value(const std::string& text, protocol::priority& out,
                 std::string& err);
/// A comma-separated list; blanks around items dropped.
bool parse_value(const std::string& text, std::vector<std::string>& out,
                 std::string& err);
/// A comma-separated list of room rules; every malformed one is named.
bool parse_value(const std::string& text, std::vector<actors::room_rule>& out,
                 std::string& err);

std::string print(const std::string& x);
std::string print(actors::overflow_policy x);
std::string print(protocol::priority x);
std::string print(bool x);
std::string print(double x);
std::string print(const std::vector<std::string>& xs);
std::string print(const std::vector<actors::room_rule>& xs);
/// In the largest unit that is exact: 7d, 5m, 30s, 250ms.
std::string print(std::chrono::milliseconds x);
std::string print(std::chrono::seconds x);
template <class T>
std::enable_if_t<std::is_integral_v<T>, std::string> print(T x) {
  return std::to_string(x);
}

} // namespace tether::config::detail

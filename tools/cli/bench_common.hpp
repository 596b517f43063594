#pragma once

// Small helpers shared by the `tether bench` commands: percentiles, a flat
// JSON writer for results, and a table printer.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace tether::cli {

/// The p-th percentile (0-100) of `xs` (sorted in place).
inline double percentile(std::vector<double>& xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = p / 100.0 * static_cast<double>(xs.size() - 1);
  auto lo = static_cast<size_t>(rank);
  auto hi = std::min(lo + 1, xs.size() - 1);
  auto frac = rank - static_cast<double>(lo);
  return xs[lo] + (xs[hi] - xs[lo]) * frac;
}

/// One result row: named numbers (and strings).
struct result_row {
  std::vector<std::pair<std::string, std::string>> fields;

  result_row& num(const std::string& k, double v, int precision = 2) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(precision) << v;
    fields.emplace_back(k, out.str());
    return *this;
  }
  result_row& str(const std::string& k, const std::string& v) {
    fields.emplace_back(k, "\"" + v + "\"");
    return *this;
  }
};

/// Prints rows as an aligned table and, if `json_path` is set, writes
/// {"benchmark": name, "results": [...]} there.
inline void report(const std::string& name, const std::vector<result_row>& rows,
                   const std::string& json_path) {
  if (rows.empty())
    return;
  std::vector<size_t> widths;
  for (auto& [k, v] : rows.front().fields)
    widths.push_back(k.size());
  for (auto& r : rows)
    for (size_t i = 0; i < r.fields.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], r.fields[i].second.size());
  std::cout << "\n" << name << "\n";
  for (size_t i = 0; i < widths.size(); ++i)
    std::cout << std::setw(static_cast<int>(widths[i]) + 2)
              << rows.front().fields[i].first;
  std::cout << "\n";
  for (auto& r : rows) {
    for (size_t i = 0; i < r.fields.size() && i < widths.size(); ++i) {
      auto v = r.fields[i].second;
      if (!v.empty() && v.front() == '"')
        v = v.substr(1, v.size() - 2);
      std::cout << std::setw(static_cast<int>(widths[i]) + 2) << v;
    }
    std::cout << "\n";
  }
  if (json_path.empty())
    return;
  std::ofstream out{json_path};
  out << "{\"benchmark\":\"" << name << "\",\"results\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    out << (i ? "," : "") << "{";
    for (size_t j = 0; j < rows[i].fields.size(); ++j)
      out << (j ? "," : "") << "\"" << rows[i].fields[j].first
          << "\":" << rows[i].fields[j].second;
    out << "}";
  }
  out << "]}\n";
  std::cout << "wrote " << json_path << "\n";
}

} // namespace tether::cli

#pragma once

// Small helpers shared by the `tether bench` commands: percentiles, a flat
// JSON writer for results, and table printers (one server, or Tether beside
// the baseline with ratios).

#include <algorithm>
#include <cmath>
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
  /// Name and value as printed (strings quoted).
  std::vector<std::pair<std::string, std::string>> fields;
  /// The unrounded number of each field (NaN for strings), for ratios.
  std::vector<double> values;

  result_row& num(const std::string& k, double v, int precision = 2) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(precision) << v;
    fields.emplace_back(k, out.str());
    values.push_back(v);
    return *this;
  }
  result_row& str(const std::string& k, const std::string& v) {
    fields.emplace_back(k, "\"" + v + "\"");
    values.push_back(std::nan(""));
    return *this;
  }

  /// The index of field `k`, or fields.size().
  size_t find(const std::string& k) const {
    size_t i = 0;
    while (i < fields.size() && fields[i].first != k)
      ++i;
    return i;
  }
};

/// Writes `rows` as a JSON array of flat objects.
inline void write_rows(std::ostream& out, const std::vector<result_row>& rows) {
  out << "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    out << (i ? "," : "") << "{";
    for (size_t j = 0; j < rows[i].fields.size(); ++j)
      out << (j ? "," : "") << "\"" << rows[i].fields[j].first
          << "\":" << rows[i].fields[j].second;
    out << "}";
  }
  out << "]";
}

/// a / b of two numbers; NaN unless both are numbers and b is not 0.
inline double ratio_of(double a, double b) {
  return std::isnan(a) || std::isnan(b) || b == 0 ? std::nan("") : a / b;
}

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
  out << "{\"benchmark\":\"" << name << "\",\"results\":";
  write_rows(out, rows);
  out << "}\n";
  std::cout << "wrote " << json_path << "\n";
}

/// Prints every figure of `tether` beside the same figure of `baseline`
/// (matched by row index and field name) and the ratio tether / baseline
/// ("-" where there is none: a string, a zero baseline). With `json_path`,
/// writes {"benchmark": name, "results": [...], "baseline": [...],
/// "ratios": [...]} there (a ratio without a value is null).
inline void report_compared(const std::string& name,
                            const std::vector<result_row>& tether,
                            const std::vector<result_row>& baseline,
                            const std::string& json_path) {
  static const result_row none;
  auto fmt = [](double v, int precision) {
    if (std::isnan(v))
      return std::string{"-"};
    std::ostringstream out;
    out << std::fixed << std::setprecision(precision) << v;
    return out.str();
  };
  auto unquote = [](std::string v) {
    return !v.empty() && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
  };
  std::vector<result_row> ratios;
  std::cout << "\n" << name << "\n";
  for (size_t i = 0; i < tether.size(); ++i) {
    auto& t = tether[i];
    auto& b = i < baseline.size() ? baseline[i] : none;
    size_t width = 6;
    for (auto& f : t.fields)
      width = std::max(width, f.first.size());
    auto w = static_cast<int>(width);
    std::cout << "  " << std::left << std::setw(w) << "figure" << std::right
              << std::setw(14) << "tether" << std::setw(14) << "baseline"
              << std::setw(10) << "ratio"
              << "\n";
    result_row r;
    for (size_t j = 0; j < t.fields.size(); ++j) {
      auto& [key, text] = t.fields[j];
      auto k = b.find(key);
      auto found = k < b.fields.size();
      auto q = ratio_of(t.values[j], found ? b.values[k] : std::nan(""));
      std::cout << "  " << std::left << std::setw(w) << key << std::right
                << std::setw(14) << unquote(text) << std::setw(14)
                << (found ? unquote(b.fields[k].second) : "-") << std::setw(10)
                << fmt(q, 2) << "\n";
      // A string (a row's label) goes to the ratios as it is.
      r.fields.emplace_back(key, std::isnan(t.values[j])
                                   ? text
                                   : (std::isnan(q) ? "null" : fmt(q, 4)));
      r.values.push_back(q);
    }
    ratios.push_back(std::move(r));
  }
  if (json_path.empty())
    return;
  std::ofstream out{json_path};
  out << "{\"benchmark\":\"" << name << "\",\"results\":";
  write_rows(out, tether);
  out << ",\"baseline\":";
  write_rows(out, baseline);
  out << ",\"ratios\":";
  write_rows(out, ratios);
  out << "}\n";
  std::cout << "wrote " << json_path << "\n";
}

} // namespace tether::cli

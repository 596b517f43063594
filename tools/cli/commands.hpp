#pragma once

// The subcommands of the `tether` CLI and their small shared argument parser.

#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tether::cli {

/// Flags as parsed: `--name value`, `--name=value`, or a bare switch.
struct arg_map {
  std::map<std::string, std::string> values;
  std::set<std::string> switches;

  bool has(const std::string& k) const {
    return values.count(k) > 0 || switches.count(k) > 0;
  }
  std::string get(const std::string& k,
                  const std::string& fallback = {}) const {
    auto i = values.find(k);
    return i == values.end() ? fallback : i->second;
  }
  /// Every value of a flag given several times (--url A --url B).
  std::vector<std::string> all(const std::string& k) const {
    std::vector<std::string> out;
    auto i = values.find(k);
    if (i == values.end())
      return out;
    size_t from = 0;
    for (;;) {
      auto nl = i->second.find('\n', from);
      out.push_back(i->second.substr(from, nl - from));
      if (nl == std::string::npos)
        return out;
      from = nl + 1;
    }
  }
};

/// Accepts the flags in `valued` (take a value) and `switches` (do not);
/// anything else is a problem.
bool parse_args(const std::vector<std::string>& args,
                std::initializer_list<const char*> valued,
                std::initializer_list<const char*> switches, arg_map& out,
                std::string& problem);

int token_command(const std::vector<std::string>& args);
int cert_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int bench_client_command(const std::string& what,
                         const std::vector<std::string>& args);
int devices_command(const std::vector<std::string>& args);
int send_command(const std::vector<std::string>& args);
int api_command(const std::vector<std::string>& args);

} // namespace tether::cli

#include "config/settings.hpp"
#include "config/values.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace tether::config {

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address == "[::1]"
         || address.rfind("127.", 0) == 0;
}

std::string settings::secret_path() const {
  if (!auth.secret_file.empty())
    return auth.secret_file;
  return node.data_dir + "/secret.key";
}

std::string settings::node_id() const {
  if (!cluster.node_id.empty())
    return cluster.node_id;
  return cluster.address + ":" + std::to_string(cluster.port);
}

bool parse_endpoint(const std::string& text, std::string& host, uint16_t& port,
                    std::string& problem) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    problem = "'" + text + "' is not host:port";
    return false;
  }
  auto digits = text.substr(colon + 1);
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                   n);
  if (ec != std::errc{} || end != digits.data() + digits.size() || n == 0
      || n > 65535) {
    problem = "'" + text + "': the port must be 1-65535";
    return false;
  }
  host = text.substr(0, colon);
  port = static_cast<uint16_t>(n);
  return true;
}

bool parse_duration(const std::string& text, std::chrono::seconds& out,
                    std::string& problem) {
  return detail::parse_value(text, out, problem);
}

load_result load(const std::vector<std::string>& args) {
  load_result r;
  // Pairs of (key, value) from the command line, applied after the file.
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--help" || a == "-h") {
      r.help = true;
      continue;
    }
    if (a == "--dump-config") {
      r.dump = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      r.problems.push_back("unexpected argument '" + a + "'");
      continue;
    }
    std::string key = a.substr(2);
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      r.problems.push_back("--" + key + " needs a value");
      continue;
    }
    static const std::pair<const char*, const char*> shortcuts[] = {
      {"port", "server.port"},         {"address", "server.address"},
      {"data-dir", "node.data_dir"},   {"data_dir", "node.data_dir"},
      {"log-level", "node.log_level"}, {"log_level", "node.log_level"},
    };
    for (auto& [flag, full] : shortcuts)
      if (key == flag)
        key = full;
    if (key == "config") {
      r.values.config_file = value;
      continue;
    }
    flags.emplace_back(key, value);
  }
  if (!r.values.config_file.empty()) {
    std::ifstream in{r.values.config_file};
    if (!in) {
      r.problems.push_back("cannot read config file '" + r.values.config_file
                           + "'");
    } else {
      std::stringstream buf;
      buf << in.rdbuf();
      apply_ini(r.values, buf.str(), r.values.config_file, r.problems);
    }
  }
  for (auto& [key, value] : flags) {
    std::string problem;
    if (!apply(r.values, key, value, problem))
      r.problems.push_back("--" + problem);
  }
  for (auto& p : validate(r.values))
    r.problems.push_back(p);
  return r;
}

} // namespace tether::config

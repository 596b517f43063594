// tether: the Tether command line: tokens, one message from the shell,
// fleets of simulated devices with invariant checks, and benchmarks.

#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/commands.hpp"

namespace tether::cli {

bool parse_args(const std::vector<std::string>& args,
                std::initializer_list<const char*> valued,
                std::initializer_list<const char*> switches, arg_map& out,
                std::string& problem) {
  auto in = [](std::initializer_list<const char*> xs, const std::string& k) {
    for (auto x : xs)
      if (k == x)
        return true;
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) != 0) {
      problem = "unexpected argument '" + a + "'";
      return false;
    }
    auto key = a.substr(2);
    std::string value;
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    if (in(switches, key) && eq == std::string::npos) {
      out.switches.insert(key);
    } else if (in(valued, key)) {
      if (eq == std::string::npos) {
        if (i + 1 >= args.size()) {
          problem = "--" + key + " needs a value";
          return false;
        }
        value = args[++i];
      }
      // A flag given again adds a line (several --url); callers that take
      // one value read the whole, and refuse it.
      auto [it, added] = out.values.emplace(key, value);
      if (!added)
        it->second += "\n" + value;
    } else {
      problem = "unknown flag --" + key;
      return false;
    }
  }
  return true;
}

} // namespace tether::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::cout << "usage: tether <command> [flags]\n\n"
                 "commands:\n"
                 "  token    mint a device token (JWT HS256)\n"
                 "  cert     certificates: a development one (wss), a "
                 "cluster's CA and its nodes'\n"
                 "  send     send one message and print the server's ack\n"
                 "  api      the server API for backends: send, publish, "
                 "presence, disconnect, stats\n"
                 "  devices  simulated devices running a scenario; checks "
                 "that nothing is lost\n"
                 "  bench    echo | fanout | connect | idle (against a "
                 "server)\n"
                 "           store | compression | batching (in process)\n"
                 "Each command explains its flags with --help.\n";
    return args.empty() ? 2 : 0;
  }
  auto cmd = args[0];
  args.erase(args.begin());
  if (cmd == "token")
    return tether::cli::token_command(args);
  if (cmd == "cert")
    return tether::cli::cert_command(args);
  if (cmd == "bench")
    return tether::cli::bench_command(args);
  if (cmd == "devices")
    return tether::cli::devices_command(args);
  if (cmd == "send")
    return tether::cli::send_command(args);
  if (cmd == "api")
    return tether::cli::api_command(args);
  std::cerr << "tether: unknown command '" << cmd << "' (see tether --help)\n";
  return 2;
}

#include "tools/cli/commands.hpp"

#include <chrono>
#include <iostream>

#include "config/settings.hpp"
#include "protocol/token.hpp"
#include "runtime/node.hpp"

namespace tether::cli {

namespace {

int usage() {
  std::cerr << "usage: tether token --user U --device D --type "
               "mobile|desktop|web|tablet\n"
               "                    [--role extension] [--ttl 24h]\n"
               "                    (--data-dir DIR | --secret-file F)\n";
  return 2;
}

} // namespace

int token_command(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args,
                  {"user", "device", "type", "role", "ttl", "data-dir",
                   "secret-file"},
                  {}, a, problem)) {
    std::cerr << "tether token: " << problem << "\n";
    return usage();
  }
  protocol::token_claims c;
  c.user_id = a.get("user");
  c.device_id = a.get("device");
  c.role = a.get("role");
  if (c.user_id.empty() || c.device_id.empty() || !a.has("type")) {
    std::cerr << "tether token: --user, --device and --type are required\n";
    return usage();
  }
  if (!protocol::from_string(a.get("type"), c.type)) {
    std::cerr << "tether token: --type must be mobile, desktop, web or "
                 "tablet\n";
    return 2;
  }
  std::chrono::seconds ttl{24 * 3600};
  if (a.has("ttl") && !config::parse_duration(a.get("ttl"), ttl, problem)) {
    std::cerr << "tether token: --ttl: " << problem << "\n";
    return 2;
  }
  std::string secret_path;
  if (a.has("secret-file"))
    secret_path = a.get("secret-file");
  else if (a.has("data-dir"))
    secret_path = a.get("data-dir") + "/secret.key";
  else {
    std::cerr << "tether token: give --data-dir DIR or --secret-file F\n";
    return usage();
  }
  std::string secret;
  try {
    secret = runtime::load_or_create_secret(secret_path);
  } catch (const std::exception& e) {
    std::cerr << "tether token: " << e.what() << "\n";
    return 1;
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  c.issued_at = now;
  c.expires_at = now + ttl.count();
  std::cerr << "token for user=" << c.user_id << " device=" << c.device_id
            << " type=" << protocol::to_string(c.type)
            << (c.role.empty() ? "" : " role=" + c.role) << ", valid "
            << ttl.count() << "s\n";
  std::cout << protocol::issue_token(c, secret) << std::endl;
  return 0;
}

} // namespace tether::cli

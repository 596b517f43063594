// `tether cert --out DIR`: a self-signed development certificate for wss.

#include <iostream>

#include "runtime/tls.hpp"
#include "tools/cli/commands.hpp"

namespace tether::cli {

int cert_command(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args, {"out"}, {"help"}, a, problem) || !a.has("out")
      || a.has("help")) {
    if (!problem.empty())
      std::cerr << "tether cert: " << problem << "\n";
    std::cerr << "usage: tether cert --out DIR\n"
                 "  writes DIR/cert.pem and DIR/key.pem: a self-signed "
                 "ECDSA P-256 certificate\n"
                 "  for localhost and 127.0.0.1, valid one year, for "
                 "development only. Serve it with\n"
                 "  --server.tls_cert DIR/cert.pem --server.tls_key "
                 "DIR/key.pem; clients trust it\n"
                 "  with --ca DIR/cert.pem.\n";
    return a.has("help") && problem.empty() ? 0 : 2;
  }
  auto dir = a.get("out");
  try {
    runtime::write_dev_certificate(dir);
  } catch (const std::exception& e) {
    std::cerr << "tether cert: " << e.what() << "\n";
    return 1;
  }
  std::cout << dir << "/cert.pem\n"
            << dir << "/key.pem\n"
            << "sha256 " << runtime::certificate_fingerprint(dir + "/cert.pem")
            << "\n";
  return 0;
}

} // namespace tether::cli

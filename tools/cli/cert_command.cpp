// `tether cert`: certificates. A self-signed development certificate for
// wss (--out DIR), and a cluster's own PKI (SPEC §14.1): its CA
// (`cluster-ca`) and one certificate per node id (`node`).

#include <iostream>

#include "runtime/cluster_pki.hpp"
#include "runtime/tls.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/fleet_runner.hpp"

namespace tether::cli {

namespace {

constexpr const char* usage
  = "usage: tether cert --out DIR\n"
    "  writes DIR/cert.pem and DIR/key.pem: a self-signed ECDSA P-256\n"
    "  certificate for localhost and 127.0.0.1, valid one year, for\n"
    "  development only. Serve it with --server.tls_cert DIR/cert.pem\n"
    "  --server.tls_key DIR/key.pem; clients trust it with --ca DIR/cert.pem.\n"
    "\n"
    "usage: tether cert cluster-ca --out DIR [--days 3650]\n"
    "  writes DIR/ca.pem and DIR/ca-key.pem (0600): the CA of one cluster.\n"
    "  Keep ca-key.pem off the nodes; it signs their certificates.\n"
    "\n"
    "usage: tether cert node --node-id ID --ca DIR --out DIR2 [--days 365]\n"
    "                        [--backdate DAYS]\n"
    "  writes DIR2/node.pem, DIR2/node-key.pem (0600) and DIR2/ca.pem: the\n"
    "  certificate of node ID (its cluster.node_id, or address:port), signed\n"
    "  by the CA in DIR, for both ends of a link. The node runs with\n"
    "  --cluster.tls_cert DIR2/node.pem --cluster.tls_key DIR2/node-key.pem\n"
    "  --cluster.tls_ca DIR2/ca.pem. --backdate starts its validity DAYS ago\n"
    "  (with --days 1 and --backdate 2: an expired one, for tests).\n";

int fail_usage(const std::string& problem) {
  if (!problem.empty())
    std::cerr << "tether cert: " << problem << "\n";
  std::cerr << usage;
  return 2;
}

int days_flag(const arg_map& a, const char* key, int fallback,
              std::string& problem) {
  auto v = number_flag(a, key, fallback, problem);
  if (v > 36500 || v != static_cast<int>(v)) {
    problem = std::string{"--"} + key + " must be a whole number of days";
    return fallback;
  }
  return static_cast<int>(v);
}

int cluster_ca(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args, {"out", "days"}, {}, a, problem) || !a.has("out"))
    return fail_usage(problem.empty() ? "--out is needed" : problem);
  auto days = days_flag(a, "days", 3650, problem);
  if (!problem.empty())
    return fail_usage(problem);
  auto dir = a.get("out");
  runtime::write_cluster_ca(dir, days);
  std::cout << dir << "/ca.pem\n"
            << dir << "/ca-key.pem\n"
            << "sha256 " << runtime::certificate_fingerprint(dir + "/ca.pem")
            << "\n";
  return 0;
}

int node(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args, {"node-id", "ca", "out", "days", "backdate"}, {}, a,
                  problem)
      || !a.has("node-id") || !a.has("ca") || !a.has("out"))
    return fail_usage(problem.empty() ? "--node-id, --ca and --out are needed"
                                      : problem);
  runtime::node_certificate_request r;
  r.node_id = a.get("node-id");
  r.ca_dir = a.get("ca");
  r.out_dir = a.get("out");
  r.days = days_flag(a, "days", 365, problem);
  r.backdate_days = days_flag(a, "backdate", 0, problem);
  if (!problem.empty())
    return fail_usage(problem);
  runtime::write_node_certificate(r);
  std::cout << r.out_dir << "/node.pem\n"
            << r.out_dir << "/node-key.pem\n"
            << r.out_dir << "/ca.pem\n"
            << "node " << r.node_id << " sha256 "
            << runtime::certificate_fingerprint(r.out_dir + "/node.pem")
            << "\n";
  return 0;
}

int dev_certificate(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args, {"out"}, {"help"}, a, problem) || !a.has("out")
      || a.has("help")) {
    if (a.has("help") && problem.empty()) {
      std::cout << usage;
      return 0;
    }
    return fail_usage(problem);
  }
  auto dir = a.get("out");
  runtime::write_dev_certificate(dir);
  std::cout << dir << "/cert.pem\n"
            << dir << "/key.pem\n"
            << "sha256 " << runtime::certificate_fingerprint(dir + "/cert.pem")
            << "\n";
  return 0;
}

} // namespace

int cert_command(const std::vector<std::string>& args) {
  try {
    if (!args.empty() && args[0] == "cluster-ca")
      return cluster_ca({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "node")
      return node({args.begin() + 1, args.end()});
    return dev_certificate(args);
  } catch (const std::exception& e) {
    std::cerr << "tether cert: " << e.what() << "\n";
    return 1;
  }
}

} // namespace tether::cli

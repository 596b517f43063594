#pragma once

// The cluster's certificates (SPEC §14.1): a cluster CA, and one
// certificate per node that binds the node's id to its key: the id is the
// certificate's CN and its URI subjectAltName `tether-node:<id>`, and both
// must agree. Nodes authenticate each other with mutual TLS against the CA
// (runtime/cluster_transport.hpp). Pure OpenSSL: `tether cert` writes
// them, tetherd checks its own at start, the transport reads the peers'.

#include <string>

#include <openssl/x509.h>

namespace tether::runtime {

/// The URI subjectAltName scheme that names a node id.
inline constexpr const char* node_uri_scheme = "tether-node:";

/// Node ids a certificate can carry: the CN holds at most 64 characters.
inline constexpr size_t max_certified_id = 64;

/// Writes `dir`/ca.pem and `dir`/ca-key.pem (mode 0600): a self-signed
/// ECDSA P-256 CA for one cluster, valid `days`. Refuses to overwrite an
/// existing CA key. Throws std::runtime_error on failure.
void write_cluster_ca(const std::string& dir, int days);

struct node_certificate_request {
  std::string node_id;
  /// Holds ca.pem and ca-key.pem (write_cluster_ca).
  std::string ca_dir;
  /// Receives node.pem, node-key.pem (0600) and a copy of ca.pem.
  std::string out_dir;
  /// Valid from `backdate_days` ago for `days` (an expired one for tests:
  /// --backdate 10 --days 1).
  int days = 365;
  int backdate_days = 0;
};

/// Issues a node certificate signed by the cluster CA: ECDSA P-256, CN and
/// URI SAN naming the node id, serverAuth and clientAuth (each node both
/// dials and accepts). Throws std::runtime_error on failure.
void write_node_certificate(const node_certificate_request& r);

/// The node id `cert` certifies: its CN when a URI SAN names the same id;
/// "" when it names none or the two disagree.
std::string certified_node_id(X509* cert);

/// Checks a node's own credentials before it joins: the files read, the
/// key matches the certificate, the certificate is valid now and chains to
/// the CA, and it names `node_id`. Returns "" or what is wrong.
std::string check_node_credentials(const std::string& cert_file,
                                   const std::string& key_file,
                                   const std::string& ca_file,
                                   const std::string& node_id);

} // namespace tether::runtime

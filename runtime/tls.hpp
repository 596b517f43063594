#pragma once

// TLS (wss) without Asio in the header: the development certificate that
// `tether cert` writes (runtime/ws_tls.cpp, which also builds the Asio
// contexts of the server and the clients: ws_detail.hpp).

#include <string>

namespace tether::runtime {

/// Writes `cert.pem` and `key.pem` (mode 0600) into `dir` (created if
/// needed): a self-signed ECDSA P-256 certificate valid for a year, for
/// CN=localhost with subjectAltName DNS:localhost and IP:127.0.0.1. For
/// development and tests only. Throws std::runtime_error on failure.
void write_dev_certificate(const std::string& dir);

/// Whether a client TLS context can be made (the CA file loads); the
/// error message, empty if it can.
std::string check_client_tls(const std::string& ca_file, bool insecure);

/// The SHA-256 fingerprint of the certificate in a PEM file, hex; empty if
/// it cannot be read.
std::string certificate_fingerprint(const std::string& pem_file);

} // namespace tether::runtime

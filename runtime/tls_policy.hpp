#pragma once

// The TLS policy of every server context: tetherd's wss/https
// (runtime/ws_tls.cpp) and tether-baseline's, so that the benchmark's TLS
// figures compare the servers, not two configurations. Header-only and
// OpenSSL-only: the baseline links no Tether library.

#include <string>

#include <openssl/ssl.h>

namespace tether::runtime {

/// TLS 1.2 minimum (1.3 preferred when offered), no compression or
/// renegotiation, Mozilla's "intermediate" TLS 1.2 suites (forward secret
/// AEAD only; the TLS 1.3 suites are OpenSSL's defaults), record buffers
/// given back while idle; then the PEM certificate chain and key, checked
/// against each other. Returns what failed, empty on success.
inline std::string load_server_tls(SSL_CTX* native,
                                   const std::string& cert_file,
                                   const std::string& key_file) {
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(
        native, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
      != 1)
    return "cannot set the cipher list";
  // Idle sessions give their record buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1)
    return "cannot read the certificate chain " + cert_file;
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM)
      != 1)
    return "cannot read the private key " + key_file;
  if (SSL_CTX_check_private_key(native) != 1)
    return key_file + " does not match " + cert_file;
  return {};
}

} // namespace tether::runtime

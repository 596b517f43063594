#pragma once

// Small OpenSSL helpers shared by the certificate writers (ws_tls.cpp,
// cluster_pki.cpp) and the cluster transport: owning pointers, errors with
// OpenSSL's reason, extensions, serials, PEM files. No Asio, no CAF.

#include <sys/types.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace tether::runtime::ossl {

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using ctx_ptr = std::unique_ptr<SSL_CTX, deleter<SSL_CTX, SSL_CTX_free>>;

/// OpenSSL's reasons queued on this thread ("" if none); clears the queue.
std::string last_error();

/// Throws std::runtime_error("tls: <what> (<OpenSSL's reason>)").
[[noreturn]] void fail(const std::string& what);

/// Adds an X.509v3 extension written in OpenSSL's config syntax, with
/// `issuer` as the issuing certificate (itself for a self-signed one).
void add_extension(X509* cert, X509* issuer, int nid, const std::string& value);

/// A new ECDSA P-256 key; throws if it cannot be made.
pkey_ptr new_p256_key();

/// A version-3 certificate of `key` with a random serial (no two alike),
/// valid from `from_s` to `until_s` seconds from now (negative: past).
x509_ptr new_certificate(EVP_PKEY* key, long from_s, long until_s);

/// Sets the subject of `cert` to CN=`cn`, O=`org`; throws if it cannot.
void set_subject(X509* cert, const std::string& cn, const std::string& org);

/// Signs `cert` with `key` (SHA-256); throws naming `what` if it cannot.
void sign(X509* cert, EVP_PKEY* key, const std::string& what);

/// Writes a PEM file with `mode` (created or truncated); throws on failure.
void write_pem(const std::string& path, mode_t mode,
               const std::function<int(FILE*)>& write);

/// Reads the first certificate of a PEM file (null if it cannot).
x509_ptr read_certificate(const std::string& path);

/// Reads a PEM private key (null if it cannot).
pkey_ptr read_private_key(const std::string& path);

} // namespace tether::runtime::ossl

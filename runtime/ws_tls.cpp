#include "runtime/tls.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "protocol/base64.hpp"
#include "runtime/openssl_util.hpp"
#include "runtime/tls_policy.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime {

using ossl::fail;

void write_dev_certificate(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    fail("cannot create " + dir + ": " + ec.message());
  auto key = ossl::new_p256_key();
  auto cert = ossl::new_certificate(key.get(), -3600, 365L * 24 * 3600);
  ossl::set_subject(cert.get(), "localhost", "Tether development");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  ossl::add_extension(cert.get(), cert.get(), NID_subject_alt_name,
                      "DNS:localhost,IP:127.0.0.1");
  ossl::add_extension(cert.get(), cert.get(), NID_basic_constraints,
                      "critical,CA:TRUE");
  ossl::add_extension(cert.get(), cert.get(), NID_key_usage,
                      "critical,digitalSignature,keyCertSign");
  ossl::add_extension(cert.get(), cert.get(), NID_ext_key_usage, "serverAuth");
  ossl::sign(cert.get(), key.get(), "certificate");
  ossl::write_pem(dir + "/key.pem", 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr);
  });
  ossl::write_pem(dir + "/cert.pem", 0644,
                  [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
}

std::string certificate_fingerprint(const std::string& pem_file) {
  auto cert = ossl::read_certificate(pem_file);
  if (!cert)
    return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &n) != 1)
    return {};
  return protocol::hex_encode({reinterpret_cast<const char*>(md), n});
}

std::string check_client_tls(const std::string& ca_file, bool insecure) {
  try {
    detail::make_client_context(ca_file, insecure);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

namespace detail {

std::shared_ptr<net::ssl::context>
make_server_context(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  if (auto err = load_server_tls(ctx->native_handle(), cert_file, key_file);
      !err.empty())
    fail(err);
  return ctx;
}

std::shared_ptr<net::ssl::context>
make_client_context(const std::string& ca_file, bool insecure) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (insecure) {
    ctx->set_verify_mode(net::ssl::verify_none);
    return ctx;
  }
  beast::error_code ec;
  if (ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(ca_file, ec);
  if (ec)
    fail("cannot load the CA " + (ca_file.empty() ? "store" : ca_file) + ": "
         + ec.message());
  ctx->set_verify_mode(net::ssl::verify_peer);
  return ctx;
}

} // namespace detail

} // namespace tether::runtime

#include "runtime/tls.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "runtime/ws_detail.hpp"

namespace tether::runtime {

namespace {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using pkey_ptr
  = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using ext_ptr
  = std::unique_ptr<X509_EXTENSION,
                    openssl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// With OpenSSL's reason, e.g. "key values mismatch".
[[noreturn]] void fail(const std::string& what) {
  std::string why;
  if (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    why = std::string{" ("} + buf + ")";
  }
  ERR_clear_error();
  throw std::runtime_error("tls: " + what + why);
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value)};
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    fail(std::string{"cannot add extension "} + value);
}

void write_pem(const std::string& path, mode_t mode,
               const std::function<int(FILE*)>& write) {
  auto f = std::fopen(path.c_str(), "w");
  if (!f)
    fail("cannot write " + path);
  ::chmod(path.c_str(), mode);
  auto ok = write(f) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    fail("cannot write " + path);
}

} // namespace

void write_dev_certificate(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    fail("cannot create " + dir + ": " + ec.message());
  pkey_ptr key{EVP_EC_gen("P-256")};
  if (!key)
    fail("cannot generate a P-256 key");
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  // A random serial: browsers refuse two certificates with one serial.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1)
    fail("no random serial");
  serial[0] &= 0x7f;
  auto bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  auto name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
    name, "CN", MBSTRING_ASC,
    reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(
    name, "O", MBSTRING_ASC,
    reinterpret_cast<const unsigned char*>("Tether development"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_key_usage,
                "critical,digitalSignature,keyCertSign");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    fail("cannot sign the certificate");
  write_pem(dir + "/key.pem", 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr);
  });
  write_pem(dir + "/cert.pem", 0644,
            [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
}

std::string certificate_fingerprint(const std::string& pem_file) {
  auto f = std::fopen(pem_file.c_str(), "r");
  if (!f)
    return {};
  x509_ptr cert{PEM_read_X509(f, nullptr, nullptr, nullptr)};
  std::fclose(f);
  if (!cert)
    return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &n) != 1)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
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
  auto native = ctx->native_handle();
  // TLS 1.2 minimum; 1.3 preferred when the client offers it.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Mozilla's "intermediate" TLS 1.2 suites (forward secret AEAD only); the
  // TLS 1.3 suites are OpenSSL's defaults.
  if (SSL_CTX_set_cipher_list(
        native, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
      != 1)
    fail("cannot set the cipher list");
  // Idle sessions give their record buffers back (about 34 KB each).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1)
    fail("cannot read the certificate chain " + cert_file);
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM)
      != 1)
    fail("cannot read the private key " + key_file);
  if (SSL_CTX_check_private_key(native) != 1)
    fail(key_file + " does not match " + cert_file);
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

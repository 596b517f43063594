#include "runtime/openssl_util.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace tether::runtime::ossl {

namespace {

using ext_ptr = std::unique_ptr<X509_EXTENSION,
                                deleter<X509_EXTENSION, X509_EXTENSION_free>>;

} // namespace

std::string last_error() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out;
}

void fail(const std::string& what) {
  auto why = last_error();
  throw std::runtime_error("tls: " + what
                           + (why.empty() ? "" : " (" + why + ")"));
}

void add_extension(X509* cert, X509* issuer, int nid,
                   const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    fail("cannot add extension " + value);
}

pkey_ptr new_p256_key() {
  pkey_ptr key{EVP_EC_gen("P-256")};
  if (!key)
    fail("cannot generate a P-256 key");
  return key;
}

x509_ptr new_certificate(EVP_PKEY* key, long from_s, long until_s) {
  x509_ptr cert{X509_new()};
  if (!cert)
    fail("cannot make a certificate");
  X509_set_version(cert.get(), 2);
  // Random: browsers and OpenSSL's checks refuse two certificates of one
  // issuer with one serial.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1)
    fail("no random serial");
  serial[0] &= 0x7f;
  auto bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  auto ok = bn != nullptr
            && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()))
                 != nullptr;
  BN_free(bn);
  if (!ok)
    fail("cannot set the serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), until_s);
  X509_set_pubkey(cert.get(), key);
  return cert;
}

void set_subject(X509* cert, const std::string& cn, const std::string& org) {
  auto name = X509_get_subject_name(cert);
  for (auto [field, value] : {std::pair{"CN", &cn}, std::pair{"O", &org}})
    if (X509_NAME_add_entry_by_txt(
          name, field, MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(value->c_str()), -1, -1, 0)
        != 1)
      fail(std::string{"cannot set "} + field + "=" + *value);
}

void sign(X509* cert, EVP_PKEY* key, const std::string& what) {
  if (X509_sign(cert, key, EVP_sha256()) == 0)
    fail("cannot sign the " + what);
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

x509_ptr read_certificate(const std::string& path) {
  auto f = std::fopen(path.c_str(), "r");
  if (!f)
    return nullptr;
  x509_ptr cert{PEM_read_X509(f, nullptr, nullptr, nullptr)};
  std::fclose(f);
  return cert;
}

pkey_ptr read_private_key(const std::string& path) {
  auto f = std::fopen(path.c_str(), "r");
  if (!f)
    return nullptr;
  pkey_ptr key{PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)};
  std::fclose(f);
  return key;
}

} // namespace tether::runtime::ossl

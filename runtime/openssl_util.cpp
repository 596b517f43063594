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

void random_serial(X509* cert) {
  // Random: browsers and OpenSSL's checks refuse two certificates of one
  // issuer with one serial.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1)
    fail("no random serial");
  serial[0] &= 0x7f;
  auto bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  auto ok = bn != nullptr
            && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  if (!ok)
    fail("cannot set the serial");
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

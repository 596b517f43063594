#pragma once

// Fresh private keys for the tests of the push providers' credentials
// (OpenSSL 3.0's EVP_PKEY_Q_keygen), as PEM.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>
#include <string_view>

namespace tether::test {

/// An EC key on `curve` ("P-256", "P-384") or, for type "RSA", an RSA key
/// of `bits`, as PKCS#8 PEM.
inline std::string new_key_pem(std::string_view type, const char* curve,
                               size_t bits) {
  EVP_PKEY* key = type == "EC"
                    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

} // namespace tether::test

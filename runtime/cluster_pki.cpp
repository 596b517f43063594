#include "runtime/cluster_pki.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "runtime/openssl_util.hpp"

namespace tether::runtime {

namespace {

using ossl::fail;

using store_ptr
  = std::unique_ptr<X509_STORE, ossl::deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr
  = std::unique_ptr<X509_STORE_CTX,
                    ossl::deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

constexpr long day_seconds = 24L * 3600;

void make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    fail("cannot create " + dir + ": " + ec.message());
}

void write_key(const std::string& path, EVP_PKEY* key) {
  ossl::write_pem(path, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

void write_cert(const std::string& path, X509* cert) {
  ossl::write_pem(path, 0644, [&](FILE* f) { return PEM_write_X509(f, cert); });
}

// The value of the CN of `name` ("" if none or not text).
std::string common_name(X509_NAME* name) {
  auto i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0)
    return {};
  auto data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  auto n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0)
    return {};
  std::string out{reinterpret_cast<char*>(utf8), static_cast<size_t>(n)};
  OPENSSL_free(utf8);
  // A second CN would make the certificate ambiguous.
  if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
    return {};
  return out;
}

} // namespace

void write_cluster_ca(const std::string& dir, int days) {
  if (days <= 0)
    fail("a CA must be valid for at least one day");
  make_dir(dir);
  auto key_path = dir + "/ca-key.pem";
  if (std::filesystem::exists(key_path))
    fail(key_path + " exists: a cluster has one CA; remove it to start over");
  auto key = ossl::new_p256_key();
  auto cert = ossl::new_certificate(key.get(), -3600, days * day_seconds);
  ossl::set_subject(cert.get(), "Tether cluster CA", "Tether cluster");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  ossl::add_extension(cert.get(), cert.get(), NID_basic_constraints,
                      "critical,CA:TRUE,pathlen:0");
  ossl::add_extension(cert.get(), cert.get(), NID_key_usage,
                      "critical,keyCertSign,cRLSign");
  ossl::add_extension(cert.get(), cert.get(), NID_subject_key_identifier,
                      "hash");
  ossl::sign(cert.get(), key.get(), "CA certificate");
  write_key(key_path, key.get());
  write_cert(dir + "/ca.pem", cert.get());
}

void write_node_certificate(const node_certificate_request& r) {
  if (r.node_id.empty() || r.node_id.size() > max_certified_id)
    fail("a node id of 1 to " + std::to_string(max_certified_id)
         + " characters is needed (it is the certificate's CN)");
  for (auto c : r.node_id)
    if (c == ',' || c == '/' || c == '\\' || c <= ' ' || c > '~')
      fail("node id '" + r.node_id
           + "' holds a character a certificate "
             "name cannot");
  if (r.days <= 0 || r.backdate_days < 0)
    fail("--days must be positive and --backdate not negative");
  auto ca_cert = ossl::read_certificate(r.ca_dir + "/ca.pem");
  if (!ca_cert)
    fail("cannot read " + r.ca_dir + "/ca.pem");
  auto ca_key = ossl::read_private_key(r.ca_dir + "/ca-key.pem");
  if (!ca_key)
    fail("cannot read " + r.ca_dir + "/ca-key.pem");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    fail(r.ca_dir + "/ca-key.pem does not match " + r.ca_dir + "/ca.pem");
  make_dir(r.out_dir);
  auto key = ossl::new_p256_key();
  auto start = -r.backdate_days * day_seconds - 3600;
  auto cert = ossl::new_certificate(key.get(), start,
                                    start + r.days * day_seconds);
  ossl::set_subject(cert.get(), r.node_id, "Tether cluster");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  ossl::add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name,
                      std::string{"URI:"} + node_uri_scheme + r.node_id);
  ossl::add_extension(cert.get(), ca_cert.get(), NID_basic_constraints,
                      "critical,CA:FALSE");
  ossl::add_extension(cert.get(), ca_cert.get(), NID_key_usage,
                      "critical,digitalSignature");
  ossl::add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                      "serverAuth,clientAuth");
  ossl::add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier,
                      "keyid:always");
  ossl::sign(cert.get(), ca_key.get(), "node certificate");
  write_key(r.out_dir + "/node-key.pem", key.get());
  write_cert(r.out_dir + "/node.pem", cert.get());
  if (std::filesystem::path{r.out_dir} != std::filesystem::path{r.ca_dir})
    write_cert(r.out_dir + "/ca.pem", ca_cert.get());
}

std::string certified_node_id(X509* cert) {
  if (cert == nullptr)
    return {};
  auto cn = common_name(X509_get_subject_name(cert));
  if (cn.empty())
    return {};
  auto names = static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr)
    return {};
  std::string uri_id;
  auto uris = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    auto gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_URI)
      continue;
    auto s = gn->d.uniformResourceIdentifier;
    std::string uri{reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                    static_cast<size_t>(ASN1_STRING_length(s))};
    std::string scheme{node_uri_scheme};
    if (uri.compare(0, scheme.size(), scheme) == 0) {
      uri_id = uri.substr(scheme.size());
      ++uris;
    }
  }
  GENERAL_NAMES_free(names);
  // Exactly one node URI, naming the CN's id.
  return uris == 1 && uri_id == cn ? cn : std::string{};
}

std::string check_node_credentials(const std::string& cert_file,
                                   const std::string& key_file,
                                   const std::string& ca_file,
                                   const std::string& node_id) {
  auto cert = ossl::read_certificate(cert_file);
  if (!cert)
    return "cannot read the certificate " + cert_file;
  auto key = ossl::read_private_key(key_file);
  if (!key)
    return "cannot read the private key " + key_file;
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ossl::last_error();
    return key_file + " does not match " + cert_file;
  }
  auto ca = ossl::read_certificate(ca_file);
  if (!ca)
    return "cannot read the cluster CA " + ca_file;
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1
      || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
    return "cannot check the certificate: " + ossl::last_error();
  if (X509_verify_cert(ctx.get()) != 1) {
    auto err = X509_STORE_CTX_get_error(ctx.get());
    ossl::last_error();
    return cert_file + " is not valid for the cluster CA " + ca_file + ": "
           + X509_verify_cert_error_string(err);
  }
  auto id = certified_node_id(cert.get());
  if (id.empty())
    return cert_file + " names no node id (tether cert node writes one)";
  if (id != node_id)
    return cert_file + " is the certificate of node '" + id + "', not of '"
           + node_id + "'";
  return {};
}

} // namespace tether::runtime

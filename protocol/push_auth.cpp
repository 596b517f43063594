#include "protocol/push_auth.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "protocol/base64.hpp"
#include "protocol/detail/json_payload.hpp"

namespace tether::protocol {

namespace {

EVP_PKEY* pkey(const std::shared_ptr<void>& p) {
  return static_cast<EVP_PKEY*>(p.get());
}

// An ECDSA signature as DER (OpenSSL's form) to the raw big-endian r||s of
// `half` bytes each (JWS's form, RFC 7518 §3.4).
std::string der_to_raw(const std::string& der, size_t half) {
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr)
    return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(2 * half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  auto ok = BN_bn2binpad(r, o, static_cast<int>(half)) == static_cast<int>(half)
            && BN_bn2binpad(s, o + half, static_cast<int>(half))
                 == static_cast<int>(half);
  ECDSA_SIG_free(sig);
  return ok ? out : std::string{};
}

std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buf;
  detail::json_writer w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return detail::text(buf);
}

} // namespace

private_key private_key::read(std::string_view pem, std::string& error) {
  private_key k;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) {
    error = "out of memory";
    return k;
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) {
    error = "holds no PEM private key";
    return k;
  }
  std::shared_ptr<void> owned{key, [](void* p) {
                                EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
                              }};
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len)
          != 1
        || std::string_view{group} != "prime256v1") {
      error = "holds an EC key that is not on P-256 (ES256 needs P-256)";
      return k;
    }
    k.kind_ = kind::ec_p256;
  } else if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      error = "holds an RSA key shorter than 2048 bits";
      return k;
    }
    k.kind_ = kind::rsa;
  } else {
    error = "holds a key that is neither EC P-256 nor RSA";
    return k;
  }
  k.key_ = std::move(owned);
  return k;
}

std::string private_key::sign_jwt(std::string_view header_json,
                                  std::string_view claims_json) const {
  if (kind_ == kind::none)
    return {};
  auto input = base64url_encode(header_json) + '.'
               + base64url_encode(claims_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr)
    return {};
  std::string sig;
  size_t len = 0;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey(key_)) == 1
      && EVP_DigestSign(ctx, nullptr, &len,
                        reinterpret_cast<const unsigned char*>(input.data()),
                        input.size())
           == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()),
                       input.size())
        == 1)
      sig.resize(len);
    else
      sig.clear();
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty())
    return {};
  if (kind_ == kind::ec_p256) {
    sig = der_to_raw(sig, 32);
    if (sig.empty())
      return {};
  }
  return input + '.' + base64url_encode(sig);
}

std::string apns_provider_token(const private_key& key,
                                const std::string& key_id,
                                const std::string& team_id, int64_t iat) {
  return key.sign_jwt(R"({"alg":"ES256","kid":)" + json_string(key_id) + "}",
                      R"({"iss":)" + json_string(team_id) + R"(,"iat":)"
                        + std::to_string(iat) + "}");
}

bool read_service_account(std::string_view json, service_account& out,
                          std::string& error) {
  rapidjson::Document doc;
  if (parse_json(json, 8, doc).refusal != json_refusal::none
      || !doc.IsObject()) {
    error = "is not a JSON object";
    return false;
  }
  auto field = [&](const char* name, std::string& to) {
    auto i = doc.FindMember(name);
    if (i == doc.MemberEnd() || !i->value.IsString()
        || i->value.GetStringLength() == 0) {
      error = std::string{"has no \""} + name + "\"";
      return false;
    }
    to.assign(i->value.GetString(), i->value.GetStringLength());
    return true;
  };
  std::string type;
  if (!field("type", type))
    return false;
  if (type != "service_account") {
    error = "is a key of type \"" + type + "\", not \"service_account\"";
    return false;
  }
  return field("project_id", out.project_id)
         && field("client_email", out.client_email)
         && field("private_key", out.private_key_pem)
         && field("token_uri", out.token_uri);
}

std::string google_assertion(const private_key& key,
                             const std::string& client_email,
                             const std::string& audience, int64_t iat) {
  auto email = json_string(client_email);
  return key.sign_jwt(R"({"alg":"RS256","typ":"JWT"})",
                      R"({"iss":)" + email + R"(,"sub":)" + email + R"(,"aud":)"
                        + json_string(audience) + R"(,"scope":)"
                        + json_string(fcm_scope) + R"(,"iat":)"
                        + std::to_string(iat) + R"(,"exp":)"
                        + std::to_string(iat + 3600) + "}");
}

std::string google_token_request(const std::string& assertion) {
  return "grant_type="
         + percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer")
         + "&assertion=" + percent_encode(assertion);
}

bool read_access_token(std::string_view json, std::string& token,
                       int64_t& expires_in_s) {
  rapidjson::Document doc;
  if (parse_json(json, 8, doc).refusal != json_refusal::none || !doc.IsObject())
    return false;
  auto t = doc.FindMember("access_token");
  auto e = doc.FindMember("expires_in");
  if (t == doc.MemberEnd() || !t->value.IsString()
      || t->value.GetStringLength() == 0 || t->value.GetStringLength() > 4096
      || e == doc.MemberEnd() || !e->value.IsInt64()
      || e->value.GetInt64() <= 0)
    return false;
  token.assign(t->value.GetString(), t->value.GetStringLength());
  expires_in_s = e->value.GetInt64();
  return true;
}

} // namespace tether::protocol

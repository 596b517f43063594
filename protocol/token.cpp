#include "protocol/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

#include "protocol/base64.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"

namespace tether::protocol {

namespace {

// base64url({"alg":"HS256","typ":"JWT"})
constexpr std::string_view hs256_header
  = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

bool read_int(const rapidjson::Value& obj, const char* key, int64_t& out) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsInt64())
    return false;
  out = i->value.GetInt64();
  return true;
}

bool read_string(const rapidjson::Value& obj, const char* key,
                 std::string& out) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return false;
  out.assign(i->value.GetString(), i->value.GetStringLength());
  return true;
}

// A JOSE header or a claims set: one JSON object, UTF-8, nested at most
// as deep as a payload may be, no member named twice (RFC 7519 §4: a
// reader that kept the last copy would see another identity).
bool parse_json_object(std::string_view b64, rapidjson::Document& doc) {
  auto text = base64url_decode(b64);
  if (!text)
    return false;
  return parse_json(*text, limits{}.max_depth, doc).ok() && doc.IsObject();
}

} // namespace

std::string_view to_string(token_error x) noexcept {
  switch (x) {
    case token_error::none:
      return "ok";
    case token_error::malformed:
      return "malformed token";
    case token_error::bad_algorithm:
      return "unsupported token algorithm (only HS256)";
    case token_error::bad_signature:
      return "bad token signature";
    case token_error::expired:
      return "token expired";
    case token_error::not_yet_valid:
      return "token not yet valid";
    case token_error::bad_claims:
      return "token claims missing or invalid";
    case token_error::reserved_identity:
      return "token claims the server's identity (user 'system' or device "
             "'server'), which is reserved";
  }
  return "invalid token";
}

std::string issue_token(const token_claims& claims, std::string_view secret) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("sub");
  w.String(claims.user_id);
  w.Key("device_id");
  w.String(claims.device_id);
  w.Key("device_type");
  auto type = to_string(claims.type);
  w.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
  if (!claims.role.empty()) {
    w.Key("role");
    w.String(claims.role);
  }
  w.Key("iat");
  w.Int64(claims.issued_at);
  w.Key("exp");
  w.Int64(claims.expires_at);
  if (claims.not_before) {
    w.Key("nbf");
    w.Int64(*claims.not_before);
  }
  w.EndObject();
  std::string signing_input{hs256_header};
  signing_input += '.';
  signing_input += base64url_encode({buf.GetString(), buf.GetSize()});
  auto sig = base64url_encode(hmac_sha256(secret, signing_input));
  return signing_input + '.' + sig;
}

token_error verify_token(std::string_view token, std::string_view secret,
                         int64_t now_s, int64_t leeway_s, token_claims& out) {
  if (token.size() > 8192)
    return token_error::malformed;
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos
      || token.find('.', dot2 + 1) != std::string_view::npos)
    return token_error::malformed;
  rapidjson::Document header;
  if (!parse_json_object(token.substr(0, dot1), header))
    return token_error::malformed;
  std::string alg;
  if (!read_string(header, "alg", alg) || alg != "HS256")
    return token_error::bad_algorithm;
  // Signature before claims: nothing unauthenticated is interpreted further.
  auto sig = base64url_decode(token.substr(dot2 + 1));
  auto expected = hmac_sha256(secret, token.substr(0, dot2));
  if (!sig || sig->size() != expected.size()
      || CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0)
    return token_error::bad_signature;
  rapidjson::Document body;
  if (!parse_json_object(token.substr(dot1 + 1, dot2 - dot1 - 1), body))
    return token_error::malformed;
  token_claims c;
  std::string type;
  if (!read_string(body, "sub", c.user_id)
      || !read_string(body, "device_id", c.device_id)
      || !read_string(body, "device_type", type) || !from_string(type, c.type)
      || !read_int(body, "exp", c.expires_at) || c.user_id.empty()
      || c.user_id.size() > max_id_length || c.device_id.empty()
      || c.device_id.size() > max_id_length)
    return token_error::bad_claims;
  if (c.user_id == server_user_id || c.device_id == server_device_id)
    return token_error::reserved_identity;
  read_int(body, "iat", c.issued_at);
  if (body.HasMember("role") && !read_string(body, "role", c.role))
    return token_error::bad_claims;
  if (int64_t nbf = 0; body.HasMember("nbf")) {
    if (!read_int(body, "nbf", nbf))
      return token_error::bad_claims;
    c.not_before = nbf;
    if (nbf - leeway_s > now_s)
      return token_error::not_yet_valid;
  }
  if (c.expires_at + leeway_s <= now_s)
    return token_error::expired;
  out = std::move(c);
  return token_error::none;
}

std::string generate_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("the OS random generator failed");
  return hex_encode({reinterpret_cast<const char*>(bytes), sizeof(bytes)});
}

std::string hmac_sha256(std::string_view secret, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
       &len);
  return {reinterpret_cast<const char*>(md), len};
}

} // namespace tether::protocol

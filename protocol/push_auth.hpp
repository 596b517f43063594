#pragma once

// How the pusher proves itself to the push providers (SPEC §5.10): APNs
// provider tokens (a JWT signed ES256 with the team's .p8 key) and the
// RS256 assertion a Google service account exchanges for an FCM access
// token (RFC 7523). Pure (OpenSSL behind an opaque key).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol {

/// A private key read from PEM (PKCS#8 or traditional): EC P-256 signs
/// ES256, RSA signs RS256.
class private_key {
public:
  enum class kind : uint8_t { none, ec_p256, rsa };

  private_key() = default;

  /// Reads `pem`; an empty key and `error` set if it is neither an EC P-256
  /// nor an RSA (>= 2048 bits) private key.
  static private_key read(std::string_view pem, std::string& error);

  kind type() const noexcept { return kind_; }
  explicit operator bool() const noexcept { return kind_ != kind::none; }

  /// A compact JWS over `header_json` and `claims_json` (ES256 for an EC
  /// key: the raw r||s signature JWS wants; RS256 for RSA); empty if
  /// signing failed.
  std::string sign_jwt(std::string_view header_json,
                       std::string_view claims_json) const;

private:
  std::shared_ptr<void> key_; // EVP_PKEY
  kind kind_ = kind::none;
};

/// The APNs provider token: {"alg":"ES256","kid":key_id} and
/// {"iss":team_id,"iat":iat}. Apple accepts one for an hour and refuses
/// new ones more often than every 20 minutes.
std::string apns_provider_token(const private_key& key,
                                const std::string& key_id,
                                const std::string& team_id, int64_t iat);

/// The fields of a Google service account's JSON key the pusher uses.
struct service_account {
  std::string project_id;
  std::string client_email;
  std::string private_key_pem;
  /// Where the assertion is exchanged (Google's: oauth2.googleapis.com).
  std::string token_uri;
};

/// Reads a service account key file's JSON; false with `error` if a field
/// is missing or it is not of type "service_account".
bool read_service_account(std::string_view json, service_account& out,
                          std::string& error);

/// The OAuth scope of FCM's HTTP v1 API.
constexpr std::string_view fcm_scope
  = "https://www.googleapis.com/auth/firebase.messaging";

/// The assertion (RFC 7523) for `audience` (the token endpoint): iss and
/// sub the account's email, scope fcm_scope, valid for an hour from iat.
std::string google_assertion(const private_key& key,
                             const std::string& client_email,
                             const std::string& audience, int64_t iat);

/// The form body of the token request carrying `assertion`.
std::string google_token_request(const std::string& assertion);

/// Reads the token endpoint's answer {"access_token", "expires_in"}; false
/// if it holds none.
bool read_access_token(std::string_view json, std::string& token,
                       int64_t& expires_in_s);

} // namespace tether::protocol

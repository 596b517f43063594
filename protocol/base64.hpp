#pragma once

// base64 (RFC 4648 §4) and base64url without padding (§5, as JWT uses it);
// hex and percent-encoding.

#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol {

std::string base64_encode(std::string_view bytes);

std::string base64url_encode(std::string_view bytes);

/// Decodes unpadded base64url; nullopt on any character outside the alphabet
/// or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

/// The value of a hexadecimal digit, -1 for any other character.
int hex_digit(char c) noexcept;

/// `bytes` as lowercase hex digits, two per byte.
std::string hex_encode(std::string_view bytes);

/// Percent-encoding (RFC 3986 §2.1): the unreserved characters A-Z a-z 0-9
/// - . _ ~ as they are, every other byte %XX; fit for a URL path segment
/// and for a form value.
std::string percent_encode(std::string_view bytes);

/// Decodes padded base64 (RFC 4648 §4), canonical form only; nullopt
/// otherwise.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace tether::protocol

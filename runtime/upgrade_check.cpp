#include "runtime/upgrade_check.hpp"

#include <charconv>
#include <cstdlib>
#include <strings.h>

#include "protocol/base64.hpp"
#include "protocol/codec.hpp"
#include "protocol/compression.hpp"
#include "protocol/text.hpp"
#include "protocol/token.hpp"

namespace tether::runtime {

namespace {

// A header value fit to quote in an error: printable ASCII, at most 200
// characters (an Origin may be 8 KB of anything).
std::string printable(std::string_view s) {
  std::string out;
  for (auto c : s.substr(0, 200))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string url_decode(std::string_view in) {
  using protocol::hex_digit;
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < in.size() && hex_digit(in[i + 1]) >= 0
               && hex_digit(in[i + 2]) >= 0) {
      out
        += static_cast<char>(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

upgrade_decision
refuse(actors::reject_reason reason, int status, std::string error,
       std::string message,
       std::vector<std::pair<std::string, std::string>> headers = {}) {
  upgrade_decision d;
  d.refusal = upgrade_refusal{reason, status, std::move(error),
                              std::move(message), std::move(headers)};
  return d;
}

upgrade_decision unauthorized(const std::string& why) {
  return refuse(
    actors::reject_reason::unauthorized, 401, "unauthorized", why,
    {{"WWW-Authenticate", "Bearer realm=\"tether\", error=\"invalid_token\", "
                          "error_description=\""
                            + why + "\""}});
}

} // namespace

std::optional<std::string> query_param(std::string_view query,
                                       std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string{}
                                          : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

upgrade_decision check_upgrade(const upgrade_request& req,
                               const upgrade_policy& p, size_t open_sessions,
                               int64_t now_s) {
  using actors::reject_reason;
  if (req.method != "GET" && req.method != "HEAD")
    return refuse(reject_reason::bad_request, 405, "method_not_allowed",
                  "WebSocket upgrades use GET (RFC 6455 §4.1)",
                  {{"Allow", "GET"}});
  if (!req.is_upgrade || req.method != "GET" || req.version != "13")
    return refuse(reject_reason::bad_request, 426, "upgrade_required",
                  "this path serves WebSocket upgrades only",
                  {{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}});
  if (auto key = protocol::base64_decode(protocol::trim(req.key));
      !key || key->size() != 16)
    return refuse(reject_reason::bad_request, 400, "bad_request",
                  "Sec-WebSocket-Key must be the base64 of 16 bytes "
                  "(RFC 6455 §4.2.1)");
  if (!p.allowed_origins.empty() && !req.origin.empty()) {
    auto ok = false;
    for (auto& o : p.allowed_origins)
      ok = ok || o == "*" || iequals(o, req.origin);
    if (!ok)
      return refuse(reject_reason::forbidden, 403, "forbidden",
                    "origin '" + printable(req.origin) + "' is not allowed");
  }
  if (open_sessions >= p.max_connections)
    return refuse(reject_reason::capacity, 503, "capacity",
                  "the node is at its connection limit; retry with backoff",
                  {{"Retry-After", "5"}});
  std::string token;
  auto auth = req.authorization;
  if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer "))
    token = std::string{protocol::trim(auth.substr(7))};
  else if (auto t = query_param(req.query, "token"))
    token = *t;
  if (token.empty())
    return unauthorized("missing token: send 'Authorization: Bearer <token>' "
                        "or the 'token' query parameter");
  protocol::token_claims claims;
  if (auto err = protocol::verify_token(token, p.secret, now_s, p.leeway_s,
                                        claims);
      err != protocol::token_error::none)
    return unauthorized(std::string{protocol::to_string(err)});
  upgrade_decision d;
  auto& info = d.info;
  if (!req.protocols.empty()) {
    auto chosen = false;
    auto rest = req.protocols;
    while (!rest.empty() && !chosen) {
      auto comma = rest.find(',');
      chosen = protocol::from_subprotocol(protocol::trim(rest.substr(0, comma)),
                                          info.codec);
      rest = comma == std::string_view::npos ? std::string_view{}
                                             : rest.substr(comma + 1);
    }
    if (!chosen)
      return refuse(reject_reason::bad_request, 400, "unsupported_subprotocol",
                    "offer tether.v1.json or tether.v1.msgpack");
  }
  if (auto c = query_param(req.query, "compress")) {
    protocol::zip_format z;
    if (!protocol::from_string(*c, z))
      return refuse(reject_reason::bad_request, 400, "bad_request",
                    "compress must be deflate or gzip");
    info.compress = static_cast<uint8_t>(z);
  }
  if (auto r = query_param(req.query, "resume"))
    info.resume_token = *r;
  if (auto n = query_param(req.query, "lastSeq")) {
    // Digits only, in range: " -1" or 2^64 must not wrap to "everything
    // seen" (which would retire undelivered messages).
    auto first = n->data();
    auto last = first + n->size();
    auto [end, ec] = std::from_chars(first, last, info.resume_last_seq);
    if (n->empty() || ec != std::errc{} || end != last)
      return refuse(reject_reason::bad_request, 400, "bad_request",
                    "lastSeq must be a number");
  }
  info.user_id = std::move(claims.user_id);
  info.device_id = std::move(claims.device_id);
  info.type = claims.type;
  info.role = std::move(claims.role);
  // A token accepted within the leeway after its exp still ends: at exp
  // plus the leeway it was accepted with.
  info.session_expires_at = claims.expires_at + p.leeway_s;
  return d;
}

} // namespace tether::runtime

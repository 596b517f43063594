#include "protocol/errc.hpp"

#include <algorithm>

namespace tether::protocol {

std::string_view to_code(errc x) noexcept {
  switch (x) {
    case errc::none:
      return "NONE";
    case errc::malformed_frame:
      return "MALFORMED_FRAME";
    case errc::validation_error:
      return "VALIDATION_ERROR";
    case errc::unsupported_version:
      return "UNSUPPORTED_VERSION";
    case errc::source_mismatch:
      return "SOURCE_MISMATCH";
    case errc::forbidden:
      return "FORBIDDEN";
    case errc::unknown_device:
      return "UNKNOWN_DEVICE";
    case errc::device_offline:
      return "DEVICE_OFFLINE";
    case errc::no_recipients:
      return "NO_RECIPIENTS";
    case errc::unsupported_target:
      return "UNSUPPORTED_TARGET";
    case errc::rate_limited:
      return "RATE_LIMITED";
    case errc::message_too_large:
      return "MESSAGE_TOO_LARGE";
    case errc::queue_overflow:
      return "QUEUE_OVERFLOW";
    case errc::decompression_failed:
      return "DECOMPRESSION_ERROR";
    case errc::timeout:
      return "TIMEOUT";
    case errc::internal_error:
      return "INTERNAL_ERROR";
    case errc::shutting_down:
      return "SHUTTING_DOWN";
    case errc::node_unavailable:
      return "NODE_UNAVAILABLE";
  }
  return "INTERNAL_ERROR";
}

bool retryable(errc x) noexcept {
  switch (x) {
    case errc::device_offline:
    case errc::no_recipients:
    case errc::rate_limited:
    case errc::queue_overflow:
    case errc::timeout:
    case errc::internal_error:
    case errc::shutting_down:
    case errc::node_unavailable:
      return true;
    default:
      return false;
  }
}

std::string_view reason(close_code x) noexcept {
  switch (x) {
    case close_code::normal:
      return "normal closure";
    case close_code::going_away:
      return "server shutting down";
    case close_code::protocol_error:
      return "protocol error";
    case close_code::unsupported_data:
      return "unsupported frame type";
    case close_code::invalid_payload:
      return "invalid payload";
    case close_code::policy_violation:
      return "too many rejected frames";
    case close_code::too_big:
      return "message too big";
    case close_code::internal_error:
      return "internal error";
    case close_code::service_restart:
      return "service restart";
    case close_code::try_again_later:
      return "try again later";
    case close_code::heartbeat_timeout:
      return "heartbeat timeout";
    case close_code::idle_timeout:
      return "idle timeout";
    case close_code::slow_consumer:
      return "slow consumer";
    case close_code::replaced:
      return "replaced by a newer connection";
    case close_code::token_expired:
      return "token expired";
    case close_code::disconnected:
      return "disconnected by the server";
  }
  return "closed";
}

bool is_terminal(uint16_t code) noexcept {
  switch (code) {
    case 1002: // protocol error: a broken client would repeat it
    case 1003:
    case 1007:
    case 1008:
      return true;
    default:
      return code >= 4500 && code <= 4999;
  }
}

std::string drain_reason(uint32_t retry_after_ms) {
  return R"({"retryAfterMs":)" + std::to_string(retry_after_ms)
         + R"(,"resume":true})";
}

std::optional<uint32_t> drain_retry_after(std::string_view reason) {
  // A client waits at most this long whatever a server says.
  constexpr uint64_t cap_ms = 600000;
  constexpr std::string_view key = R"("retryAfterMs":)";
  auto at = reason.find(key);
  if (reason.empty() || reason.front() != '{' || at == std::string_view::npos)
    return std::nullopt;
  uint64_t ms = 0;
  auto digits = 0;
  for (auto i = at + key.size(); i < reason.size() && digits < 10; ++i) {
    auto c = reason[i];
    if (c < '0' || c > '9')
      break;
    ms = ms * 10 + static_cast<uint64_t>(c - '0');
    ++digits;
  }
  if (digits == 0)
    return std::nullopt;
  return static_cast<uint32_t>(std::min(ms, cap_ms));
}

} // namespace tether::protocol

#include "actors/device/reconnect_policy.hpp"

#include "protocol/errc.hpp"

namespace tether::actors {

bool refusal_is_final(int32_t http_status) noexcept {
  switch (http_status) {
    case 400:
    case 401:
    case 403:
    case 404:
    case 426:
      return true;
    default:
      return false;
  }
}

reconnect_decision reconnect_policy::next(const link_outcome& outcome,
                                          double u) {
  reconnect_decision d;
  if (outcome.welcomed && outcome.since_welcome >= stable_link_)
    attempts_ = 0;
  switch (outcome.kind) {
    case link_outcome::background:
      // Not a failure: the app comes back when the scenario says.
      attempts_ = 0;
      d.retry = true;
      d.delay = outcome.retry_after;
      return d;
    case link_outcome::closed:
      if (protocol::is_terminal(outcome.close_code)) {
        d.why = "close code " + std::to_string(outcome.close_code)
                + " is terminal";
        return d;
      }
      break;
    case link_outcome::refused:
      if (refusal_is_final(outcome.http_status)) {
        d.why = "upgrade refused with HTTP "
                + std::to_string(outcome.http_status);
        return d;
      }
      break;
    case link_outcome::crashed:
      break;
  }
  if (!backoff_.allows(attempts_)) {
    d.why = "gave up after " + std::to_string(attempts_) + " attempts";
    return d;
  }
  d.retry = true;
  d.delay = backoff_.delay(attempts_, u);
  ++attempts_;
  // A server that names its own retry time knows best; never sooner.
  if (outcome.retry_after > d.delay)
    d.delay = outcome.retry_after;
  return d;
}

} // namespace tether::actors

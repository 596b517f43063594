#pragma once

// What a simulated device does when its link ends: reconnect after a
// backoff (exponential, full jitter, capped), reconnect after exactly the
// time the server or the scenario asked for, or stay down for good. Pure:
// the outcome, the uptime and the random draw are passed in.
//
// The rule of the shipped clients (SPEC §12, client guidance): a link that
// was established (its welcome arrived) and then lived `stable_link` is a
// success, so the next attempt starts from the base delay again; every
// other ending (no welcome, or a link that dropped sooner after its
// welcome, as a crash loop does) is one more failed attempt, and the delay
// grows to its cap.

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/orchestrator/backoff_policy.hpp"

namespace tether::actors {

/// How one link incarnation ended.
struct link_outcome {
  enum kind_t : uint8_t {
    closed,  // the link was up and ended: `close_code`
    refused, // connecting or the upgrade failed: `http_status` (0: no answer)
    background, // the app went to background for `retry_after`
    crashed,    // the device actor failed
  };
  kind_t kind = closed;
  uint16_t close_code = 1006;
  int32_t http_status = 0;
  /// The server's Retry-After, or the background period.
  std::chrono::milliseconds retry_after{0};
  /// How long the incarnation lasted.
  std::chrono::milliseconds uptime{0};
  /// Its welcome arrived (the link was established), and how long before
  /// the end.
  bool welcomed = false;
  std::chrono::milliseconds since_welcome{0};
};

struct reconnect_params {
  backoff_params backoff;
  /// A link that lived this long after its welcome was a success: the next
  /// reconnect starts from the base delay.
  std::chrono::milliseconds stable_link{3000};
};

struct reconnect_decision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
  /// Why not (terminal close code, refusing HTTP status, attempts used up).
  std::string why;
};

class reconnect_policy {
public:
  explicit reconnect_policy(reconnect_params params = {})
    : backoff_(params.backoff), stable_link_(params.stable_link) {}

  /// Decides after `outcome`, with `u` uniform in [0, 1).
  reconnect_decision next(const link_outcome& outcome, double u);

  /// Failed attempts since the last stable link.
  uint32_t attempts() const noexcept { return attempts_; }

  const backoff_policy& backoff() const noexcept { return backoff_; }

private:
  backoff_policy backoff_;
  std::chrono::milliseconds stable_link_;
  uint32_t attempts_ = 0;
};

/// Whether an HTTP status refusing the upgrade is final (a bad or revoked
/// token, a wrong path, a malformed request): 400, 401, 403, 404, 426.
bool refusal_is_final(int32_t http_status) noexcept;

} // namespace tether::actors

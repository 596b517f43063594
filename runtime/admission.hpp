#pragma once

// Admission of WebSocket handshakes (SPEC §2.2): a token bucket filled at
// `rate` per second up to `burst`. Beyond it a handshake is refused with
// the time to come back: each refused one is given the next slot after
// those given already (slots 1/rate apart), plus up to a second of jitter,
// so a reconnect storm is told to come back spread at the rate the node
// admits instead of all at once; when they come back, the bucket has
// refilled for them. Pure: time and the jitter draw are passed in.

#include <chrono>
#include <cstdint>

namespace tether::runtime {

class admission {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// `rate` 0: everything is admitted.
  admission(uint32_t rate, uint32_t burst, time_point now);

  struct verdict {
    bool admitted = true;
    /// When refused: come back after this long.
    std::chrono::milliseconds retry_after{0};
  };

  /// A handshake at `now`; `jitter` is a draw in [0, 1).
  verdict admit(time_point now, double jitter);

  /// The slots promised beyond the bucket are at most this far ahead.
  static constexpr std::chrono::seconds max_wait{300};

private:
  uint32_t rate_;
  double burst_;
  double tokens_;
  time_point last_;
  /// The last slot given to a refused handshake.
  time_point promised_;
};

} // namespace tether::runtime

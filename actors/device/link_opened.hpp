#pragma once

// What a simulated device's link reports when its upgrade ends (link_port.hpp
// is the whole seam); a message type of its own, so that messages.hpp needs
// only this.

#include <cstdint>
#include <string>

namespace tether::actors {

/// The outcome of connecting and upgrading.
struct link_opened {
  bool ok = false;
  /// HTTP status of the upgrade response (101 on success, 0 if none).
  int status = 0;
  std::string subprotocol;
  bool deflate = false;
  /// Retry-After of a 503 in milliseconds, if any.
  int64_t retry_after_ms = 0;
  std::string error;
};

} // namespace tether::actors

#pragma once

// Collects the replies to one enqueue request per recipient queue and
// answers the original request once all came: the number of queues that
// took the message, or — if some refused — an error naming them (the
// others keep their copy). Used by the directory (direct routes) and the
// room (durable publishes), or calls back (the connection's direct routes).
// How a message crosses to another node is cluster/relay.hpp.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

namespace tether::actors {

class fan_in {
public:
  /// Called once with the outcome.
  using callback = std::function<void(caf::expected<uint32_t>)>;

  fan_in(callback done, size_t waiting)
    : done_(std::move(done)), waiting_(waiting) {
    // nop
  }

  /// Answers `rp`; `on_success` (optional) runs before the promise is
  /// delivered with the count of accepting queues.
  fan_in(caf::typed_response_promise<uint32_t> rp, size_t waiting,
         std::function<void(uint32_t)> on_success = {});

  /// One queue took the message (or `n` queues: another node's reply).
  void accepted(uint32_t n = 1);

  /// One queue (of `who`) refused it.
  void failed(const std::string& who, protocol::errc code,
              const std::string& why);

private:
  void done();

  callback done_;
  size_t waiting_;
  uint32_t accepted_ = 0;
  protocol::errc first_error_ = protocol::errc::none;
  std::vector<std::string> failures_;
};

} // namespace tether::actors

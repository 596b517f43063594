#pragma once

// Collects the replies to one enqueue request per recipient queue and
// answers the original request once all came: the number of queues that
// took the message, or — if some refused — an error naming them (the
// others keep their copy). Used by the directory (direct routes) and the
// room (durable publishes).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"

namespace tether::actors {

class fan_in {
public:
  /// `on_success` (optional) runs before the promise is delivered with the
  /// count of accepting queues.
  fan_in(caf::typed_response_promise<uint32_t> rp, size_t waiting,
         std::function<void(uint32_t)> on_success = {})
    : rp_(std::move(rp)), waiting_(waiting), on_success_(std::move(on_success)) {
    // nop
  }

  /// One queue took the message.
  void accepted();

  /// One queue (of `who`) refused it.
  void failed(const std::string& who, protocol::errc code,
              const std::string& why);

private:
  void done();

  caf::typed_response_promise<uint32_t> rp_;
  size_t waiting_;
  std::function<void(uint32_t)> on_success_;
  uint32_t accepted_ = 0;
  protocol::errc first_error_ = protocol::errc::none;
  std::vector<std::string> failures_;
};

/// A Tether error (error_category) with a reason for humans.
caf::error make_tether_error(protocol::errc code, std::string reason);

/// The reason of a Tether error, or CAF's rendering of any other error.
std::string reason_of(caf::actor_system& sys, const caf::error& err);

} // namespace tether::actors

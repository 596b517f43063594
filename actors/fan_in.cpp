#include "actors/fan_in.hpp"

#include <caf/actor_system.hpp>

namespace tether::actors {

fan_in::fan_in(caf::typed_response_promise<uint32_t> rp, size_t waiting,
               std::function<void(uint32_t)> on_success)
  : fan_in(
    [rp, on_success = std::move(on_success)](
      caf::expected<uint32_t> result) mutable {
      if (!result) {
        rp.deliver(std::move(result.error()));
        return;
      }
      if (on_success)
        on_success(*result);
      rp.deliver(*result);
    },
    waiting) {
  // nop
}

void fan_in::accepted(uint32_t n) {
  accepted_ += n;
  done();
}

void fan_in::failed(const std::string& who, protocol::errc code,
                    const std::string& why) {
  if (first_error_ == protocol::errc::none)
    first_error_ = code;
  failures_.push_back("device '" + who + "': " + why);
  done();
}

void fan_in::done() {
  if (--waiting_ > 0)
    return;
  if (failures_.empty()) {
    done_(accepted_);
    return;
  }
  std::string reason = "queued for " + std::to_string(accepted_) + " of "
                       + std::to_string(accepted_ + failures_.size())
                       + " devices";
  for (auto& f : failures_)
    reason += "; " + f;
  done_(make_tether_error(first_error_, std::move(reason)));
}

} // namespace tether::actors

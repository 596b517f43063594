#include "actors/messages.hpp"

#include <caf/sec.hpp>

namespace tether::actors {

protocol::errc to_errc(const caf::error& err) noexcept {
  if (err.category() == error_category)
    return static_cast<protocol::errc>(err.code());
  if (err == caf::sec::request_timeout)
    return protocol::errc::timeout;
  return protocol::errc::internal_error;
}

} // namespace tether::actors

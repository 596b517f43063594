#include "actors/messages.hpp"

#include <caf/make_message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

namespace tether::actors {

protocol::errc to_errc(const caf::error& err) noexcept {
  if (err.category() == error_category)
    return static_cast<protocol::errc>(err.code());
  if (err == caf::sec::request_timeout)
    return protocol::errc::timeout;
  return protocol::errc::internal_error;
}

caf::error make_peer_error(peer_exit code, std::string why) {
  return caf::error{static_cast<uint8_t>(code), peer_category,
                    caf::make_message(std::move(why))};
}

bool peer_link_retries(const caf::error& err) noexcept {
  return err && err != caf::exit_reason::user_shutdown
         && !(err.category() == peer_category
              && err.code() == static_cast<uint8_t>(peer_exit::redundant));
}

} // namespace tether::actors

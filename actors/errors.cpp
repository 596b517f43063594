#include "actors/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

namespace tether::actors {

caf::error make_tether_error(protocol::errc code, std::string reason) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(reason))};
}

caf::error not_a_member(const std::string& room) {
  return make_tether_error(protocol::errc::forbidden,
                           "join room '" + room + "' before publishing to it");
}

protocol::errc to_errc(const caf::error& err) noexcept {
  if (err.category() == error_category)
    return static_cast<protocol::errc>(err.code());
  if (err == caf::sec::request_timeout)
    return protocol::errc::timeout;
  return protocol::errc::internal_error;
}

std::string reason_of(caf::actor_system& sys, const caf::error& err) {
  if (err.category() == error_category
      && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return sys.render(err);
}

caf::error make_link_error(link_exit why, uint16_t close_code,
                           int64_t retry_after_ms, int32_t http_status) {
  return caf::error{static_cast<uint8_t>(why), link_category,
                    caf::make_message(close_code, retry_after_ms, http_status)};
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

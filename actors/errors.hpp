#pragma once

// Every caf::error Tether makes, in one place: its three categories (Tether
// errors with a protocol::errc code, a simulated device's link exit, a peer
// link's exit), their constructors, and the readers the actors use on them.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "protocol/errc.hpp"

namespace tether::actors {

/// The error category of Tether errors inside caf::error: the code is a
/// protocol::errc, the context (if any) one string, a reason for humans.
inline constexpr caf::atom_value error_category = caf::atom("tether");

/// A Tether error (error_category) with a reason for humans.
caf::error make_tether_error(protocol::errc code, std::string reason);

/// FORBIDDEN: a publish to a room the device is not in.
caf::error not_a_member(const std::string& room);

/// Extracts a protocol error from a caf::error; CAF's own errors (timeouts,
/// dead receivers) map to `timeout` and `internal_error`.
protocol::errc to_errc(const caf::error& err) noexcept;

/// The reason of a Tether error, or CAF's rendering of any other.
std::string reason_of(caf::actor_system& sys, const caf::error& err);

/// The category of a simulated device's exit: why its link ended. The
/// context carries (uint16_t close code, int64_t retry-after ms, int32_t
/// HTTP status).
inline constexpr caf::atom_value link_category = caf::atom("link");

/// Exit codes of a device actor (link_category).
enum class link_exit : uint8_t {
  closed = 1,     // the link ended (close code in the context)
  refused = 2,    // the upgrade was refused (HTTP status in the context)
  background = 3, // the app went to background (retry-after: its length)
};

caf::error make_link_error(link_exit why, uint16_t close_code,
                           int64_t retry_after_ms, int32_t http_status);

/// The category of a peer link's exit (peer_link_actor.hpp): why this
/// node's link to another node ended. The context carries a sentence for
/// the log.
inline constexpr caf::atom_value peer_category = caf::atom("peer");

enum class peer_exit : uint8_t {
  unreachable = 1, // no connection, or nothing published at the address
  refused = 2,     // refused (another protocol version, a taken node id)
  redundant = 3,   // the address is this node, or that node is linked
                   // already: the link is not restarted
  lost = 4,        // the link was up and went down
};

caf::error make_peer_error(peer_exit code, std::string why);

/// Whether a peer link that ended with `err` should be dialled again.
bool peer_link_retries(const caf::error& err) noexcept;

} // namespace tether::actors

namespace tether::protocol {

/// Lets `caf::error{errc::x}` and `make_error(errc::x)` work (found by ADL).
inline caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), actors::error_category};
}

} // namespace tether::protocol

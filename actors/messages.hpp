#pragma once

// Message types exchanged between Tether actors, their `inspect` overloads and
// the mapping of protocol::errc onto caf::error.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/connection/session_port.hpp"
#include "protocol/errc.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

/// A connected device as the rest of the node knows it; built from the
/// verified token and the handshake, never from what the device claims.
struct device_identity {
  std::string user_id;
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  /// "extension" for the user's editor extension, otherwise empty.
  std::string role;
  std::string session_id;
  protocol::codec codec = protocol::codec::json;

  bool is_extension() const noexcept { return role == "extension"; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_identity& x) {
  return f(caf::meta::type_name("device_identity"), x.user_id, x.device_id,
           x.type, x.role, x.session_id, x.codec);
}

/// The error category of Tether errors inside caf::error.
inline constexpr caf::atom_value error_category = caf::atom("tether");

/// Extracts a protocol error from a caf::error; CAF's own errors (timeouts,
/// dead receivers) map to `timeout` and `internal_error`.
protocol::errc to_errc(const caf::error& err) noexcept;

} // namespace tether::actors

namespace tether::protocol {

/// Lets `caf::error{errc::x}` and `make_error(errc::x)` work (found by ADL).
inline caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), actors::error_category};
}

} // namespace tether::protocol

// Local-only types: pointers to immutable data shared between actors of one
// node. They never cross nodes (the cluster sends encoded bytes instead).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::protocol::message_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::shared_bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<tether::actors::session_port>)

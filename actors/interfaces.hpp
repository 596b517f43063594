#pragma once

// Every typed actor interface of Tether, one comment line per handler, and
// the one type-ID block of every message type (including the handles).
// INTERNAL marks messages an actor sends to itself.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"

namespace tether::actors {

/// CONNECTION: one per WebSocket session; decodes, checks and routes what the
/// device sends and writes what is delivered to it.
using connection_actor = caf::typed_actor<
  // A complete frame read by the session (bytes, binary opcode).
  caf::reacts_to<atom::frame, std::string, bool>,
  // The session ended with this close code.
  caf::reacts_to<atom::closed, uint16_t>,
  // A message for this device, already encoded in the device's codec.
  caf::reacts_to<atom::deliver, protocol::message_ptr, shared_bytes>,
  // Close the connection with this close code (replaced, shutdown).
  caf::reacts_to<atom::close, uint16_t>,
  // INTERNAL: the token's expiry passed.
  caf::reacts_to<atom::expire>>;

/// DIRECTORY: the live devices of every user on this node; resolves and
/// forwards routed messages.
using directory_actor = caf::typed_actor<
  // Registers a connected device; replies with the user's live device count.
  caf::replies_to<atom::join, device_identity, connection_actor>::with<
    uint32_t>,
  // Routes a validated message; replies with the number of recipients.
  caf::replies_to<atom::route, device_identity,
                  protocol::message_ptr>::with<uint32_t>,
  // Lists a user's live devices.
  caf::replies_to<atom::get, std::string>::with<std::vector<device_identity>>>;

/// ORCHESTRATOR: spawns and supervises the node's actors.
using orchestrator_actor = caf::typed_actor<
  // A session completed its handshake: spawn and monitor its connection.
  caf::reacts_to<atom::open, std::shared_ptr<session_port>>,
  // Returns the directory (for tools and tests).
  caf::replies_to<atom::get, atom::directory>::with<directory_actor>,
  // Closes every connection with 1001; replies once all are gone.
  caf::replies_to<atom::stop>::with<atom::ok>,
  // INTERNAL: respawns a permanent child after its backoff (name, generation).
  caf::reacts_to<atom::restart, std::string, uint64_t>,
  // INTERNAL: the stop deadline passed; kill what is left.
  caf::reacts_to<atom::deadline>>;

} // namespace tether::actors

CAF_BEGIN_TYPE_ID_BLOCK(tether_types, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(tether_types, (tether::actors::device_identity))
  CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::device_identity>))
  CAF_ADD_TYPE_ID(tether_types, (tether::actors::connection_actor))
  CAF_ADD_TYPE_ID(tether_types, (tether::actors::directory_actor))
  CAF_ADD_TYPE_ID(tether_types, (tether::actors::orchestrator_actor))

CAF_END_TYPE_ID_BLOCK(tether_types)

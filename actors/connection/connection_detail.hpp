#pragma once

// Internal to the connection actor (connection_actor.cpp,
// control_requests.cpp): the helpers both halves use.

#include <optional>
#include <string>
#include <vector>

#include "actors/connection/connection_actor.hpp"
#include "protocol/codec.hpp"

namespace tether::actors::connection_detail {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

/// A failed ack with `code` (and field errors); counts as a violation.
void refuse(self_ptr self, std::string message_id,
            const std::optional<std::string>& batch_id, protocol::errc code,
            std::string reason,
            const std::vector<protocol::field_error>& errors = {});

/// A `processed` ack, if the sender asked for one.
void ack_processed(self_ptr self, const std::string& id, bool wants_ack,
                   const std::optional<std::string>& batch_id);

/// A failed ack for a request the node refused with `err`.
void fail_request(self_ptr self, const std::string& id,
                  const std::optional<std::string>& batch_id,
                  const caf::error& err);

/// The room of this name the device publishes to (empty if unknown).
room_actor known_room(self_ptr self, const std::string& name);

/// Remembers (a valid handle) or forgets (an empty one) a room's handle.
void set_room(self_ptr self, const std::string& name, room_actor r);

/// A message for the server itself (target `cloud`).
void handle_cloud(self_ptr self, const protocol::mobile_message& m,
                  const std::optional<std::string>& batch_id);

} // namespace tether::actors::connection_detail

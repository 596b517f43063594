#pragma once

// Who receives a message: the routing rules of SPEC.md §Routing as a pure
// function over one user's devices. A device can only ever address devices
// of its own user: the table it is given holds nothing else.

#include <string>
#include <string_view>
#include <vector>

#include "actors/records.hpp"
#include "protocol/errc.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

struct route_plan {
  protocol::errc error = protocol::errc::none;
  /// Why, for a failed ack; empty on success.
  std::string reason;
  /// Indices into the device table.
  std::vector<size_t> recipients;

  bool ok() const noexcept { return error == protocol::errc::none; }
};

/// Resolves `dst` for a message from `sender_device` of `sender_user`.
/// With `include_offline` false, offline devices never receive; a `device`
/// target that is offline is then an error (device_offline).
route_plan
plan_route(const std::vector<device_entry>& devices,
           std::string_view sender_user, std::string_view sender_device,
           const protocol::destination_info& dst, bool include_offline);

} // namespace tether::actors

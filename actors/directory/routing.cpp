#include "actors/directory/routing.hpp"

#include <algorithm>

namespace tether::actors {

using protocol::errc;

namespace {

route_plan fail(errc code, std::string reason) {
  route_plan p;
  p.error = code;
  p.reason = std::move(reason);
  return p;
}

} // namespace

route_plan
plan_route(const std::vector<device_entry>& devices,
           std::string_view sender_user, std::string_view sender_device,
           const protocol::destination_info& dst, bool include_offline) {
  if (dst.user_id && *dst.user_id != sender_user)
    return fail(errc::forbidden,
                "destination.userId must be your own user; devices can only "
                "address devices of their own user");
  route_plan plan;
  auto reachable = [&](const device_entry& d) {
    return include_offline || d.online;
  };
  switch (dst.to) {
    case protocol::target::device: {
      auto i = std::find_if(devices.begin(), devices.end(), [&](auto& d) {
        return d.device_id == *dst.device_id;
      });
      if (i == devices.end())
        return fail(errc::unknown_device, "device '" + *dst.device_id
                                            + "' is not a device of this user");
      if (!reachable(*i))
        return fail(errc::device_offline,
                    "device '" + *dst.device_id + "' is not connected");
      plan.recipients.push_back(static_cast<size_t>(i - devices.begin()));
      return plan;
    }
    case protocol::target::extension:
      for (size_t i = 0; i < devices.size(); ++i)
        if (devices[i].extension && devices[i].device_id != sender_device
            && reachable(devices[i]))
          plan.recipients.push_back(i);
      if (plan.recipients.empty())
        return fail(errc::no_recipients,
                    "no extension device of this user is connected");
      return plan;
    case protocol::target::broadcast: {
      const auto& b = *dst.broadcast;
      if (b.scope == protocol::broadcast_scope::all)
        return fail(errc::forbidden,
                    "broadcast scope 'all' is not available to devices; use "
                    "'user' or 'device_type'");
      for (size_t i = 0; i < devices.size(); ++i) {
        auto& d = devices[i];
        if (d.device_id == sender_device || !reachable(d))
          continue;
        if (b.scope == protocol::broadcast_scope::device_type
            && std::find(b.device_types.begin(), b.device_types.end(), d.type)
                 == b.device_types.end())
          continue;
        plan.recipients.push_back(i);
      }
      return plan;
    }
    case protocol::target::cloud:
      break;
  }
  return fail(errc::unsupported_target,
              "target 'cloud' is served by the server itself");
}

} // namespace tether::actors

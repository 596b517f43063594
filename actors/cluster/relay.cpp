#include "actors/cluster/relay.hpp"

namespace tether::actors {

std::string forwarded_form(const protocol::mobile_message& msg) {
  return protocol::encode(msg.payload.format, msg);
}

protocol::decoded_frame read_forwarded_form(const std::string& bytes,
                                            const protocol::limits& limits) {
  auto c = !bytes.empty() && bytes[0] == '{' ? protocol::codec::json
                                             : protocol::codec::msgpack;
  return protocol::decode(c, bytes, limits);
}

void remote_groups::add(const peer_link_actor& node, std::string device) {
  for (auto& [n, devices] : groups_) {
    if (n == node) {
      devices.push_back(std::move(device));
      return;
    }
  }
  groups_.emplace_back(node, std::vector<std::string>{std::move(device)});
}

std::string remote_groups::names(const std::vector<std::string>& devices) {
  std::string out;
  for (auto& d : devices)
    out += (out.empty() ? "" : ",") + d;
  return out;
}

} // namespace tether::actors

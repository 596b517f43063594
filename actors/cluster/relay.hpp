#pragma once

// How a message crosses to another node of a cluster: its wire form (the
// codec its payload is held in), and the relay of one message to the nodes
// of its recipients, one forward per node. Used by the connection and the
// directory (direct routes), the room (publishes), the queue (handovers),
// the cluster actor (what peers send) and the server API.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include "actors/errors.hpp"
#include "actors/fan_in.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "protocol/codec.hpp"

namespace tether::actors {

/// A message as it crosses to another node: in the codec its payload is
/// held in (so that a msgpack bin stays bin and JSON stays byte-exact).
std::string forwarded_form(const protocol::mobile_message& msg);

/// Reads forwarded_form(); a JSON text starts with '{', a msgpack map not.
protocol::decoded_frame read_forwarded_form(const std::string& bytes,
                                            const protocol::limits& limits);

/// Recipients of one message on other nodes (a cluster), by node: one
/// forward per node (the message encoded once), each reply one part of a
/// fan_in worth the number of queues that took it there.
class remote_groups {
public:
  void add(const peer_link_actor& node, std::string device);

  /// Nodes to forward to (parts of the fan_in).
  size_t size() const noexcept { return groups_.size(); }

  /// Forwards `msg` from `sender` to each node; a node that does not answer
  /// within `timeout` (it died, the link is cut) fails its part.
  template <class Self>
  void forward(Self* self, const device_identity& sender,
               const protocol::message_ptr& msg,
               std::chrono::milliseconds timeout,
               const std::shared_ptr<fan_in>& fi, node_metrics& metrics) const {
    if (groups_.empty())
      return;
    auto bytes = forwarded_form(*msg);
    for (auto& [node, devices] : groups_) {
      metrics.cluster_sent(traffic_kind::message, bytes.size());
      self->request(node, timeout, atom::forward_v, sender, devices, bytes)
        .then([fi](uint32_t n) { fi->accepted(n); },
              [self, fi, who = names(devices)](caf::error& err) {
                // The link actor is gone (its node went down and the link
                // is being restarted): the node is unavailable, not broken.
                if (err == caf::sec::request_receiver_down)
                  fi->failed(who, protocol::errc::node_unavailable,
                             "the link to its node is down");
                else
                  fi->failed(who, to_errc(err), reason_of(self->system(), err));
              });
    }
  }

private:
  static std::string names(const std::vector<std::string>& devices);

  std::vector<std::pair<peer_link_actor, std::vector<std::string>>> groups_;
};

} // namespace tether::actors

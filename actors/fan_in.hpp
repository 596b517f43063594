#pragma once

// Collects the replies to one enqueue request per recipient queue and
// answers the original request once all came: the number of queues that
// took the message, or — if some refused — an error naming them (the
// others keep their copy). Used by the directory (direct routes) and the
// room (durable publishes), or calls back (the connection's direct routes).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "protocol/codec.hpp"

namespace tether::actors {

class fan_in {
public:
  /// Called once with the outcome.
  using callback = std::function<void(caf::expected<uint32_t>)>;

  fan_in(callback done, size_t waiting)
    : done_(std::move(done)), waiting_(waiting) {
    // nop
  }

  /// Answers `rp`; `on_success` (optional) runs before the promise is
  /// delivered with the count of accepting queues.
  fan_in(caf::typed_response_promise<uint32_t> rp, size_t waiting,
         std::function<void(uint32_t)> on_success = {});

  /// One queue took the message (or `n` queues: another node's reply).
  void accepted(uint32_t n = 1);

  /// One queue (of `who`) refused it.
  void failed(const std::string& who, protocol::errc code,
              const std::string& why);

private:
  void done();

  callback done_;
  size_t waiting_;
  uint32_t accepted_ = 0;
  protocol::errc first_error_ = protocol::errc::none;
  std::vector<std::string> failures_;
};

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

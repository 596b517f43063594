#pragma once

// Test support: an in-process node on 127.0.0.1 port 0 with its own
// temporary data dir, tokens for it, and message builders.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "protocol/model.hpp"
#include "runtime/node.hpp"
#include "runtime/ws_client.hpp"

namespace tether::test {

/// A fresh directory under the system temp dir; removed by remove_tree.
std::string make_temp_dir();
void remove_tree(const std::string& path);

/// Milliseconds since the epoch.
int64_t now_ms();

class test_node {
public:
  using tweak_fn = std::function<void(config::settings&)>;

  explicit test_node(tweak_fn tweak = {});
  ~test_node();

  uint16_t port() const noexcept { return port_; }
  const std::string& data_dir() const noexcept { return dir_; }
  runtime::node& node() { return *node_; }

  /// A token signed with this node's secret.
  std::string token(const std::string& user, const std::string& device,
                    protocol::device_type type, const std::string& role = {},
                    std::chrono::seconds ttl = std::chrono::hours{1}) const;

  runtime::client_options options(const std::string& token) const;

  /// Stops the node now (the destructor does it otherwise).
  void stop();

private:
  std::string dir_;
  std::unique_ptr<runtime::node> node_;
  std::string secret_;
  uint16_t port_ = 0;
};

/// A connected device: client plus the welcome it received.
struct test_device {
  runtime::ws_client client;
  runtime::ws_client::connect_result result;
  std::string welcome;

  /// Next frame within `timeout`, or an empty string.
  std::string
  next(std::chrono::milliseconds timeout = std::chrono::milliseconds{3000});
};

/// Connects a device and reads its welcome message.
std::unique_ptr<test_device>
connect_device(const test_node& n, const std::string& user,
               const std::string& device, protocol::device_type type,
               const std::string& role = {},
               protocol::codec c = protocol::codec::json, bool deflate = false);

/// A valid message from user/device (type mobile unless given).
protocol::mobile_message
make_message(const std::string& id, const std::string& user,
             const std::string& device, protocol::target to,
             protocol::device_type type = protocol::device_type::mobile);

/// A valid message (JSON) from alice's phone to itself: `id`.
std::string self_message(const std::string& id);

/// The phone of alice sends itself message `id` and reads both its ack
/// (`received`) and the delivery: whether the session still works.
bool still_works(test_device& d, const std::string& id);

/// The value of a top-level string or number field in a JSON text (a
/// deliberately naive reader for assertions; the codec tests are exact).
std::string json_field(const std::string& json, const std::string& key);

} // namespace tether::test

namespace tether::test {

/// One delivered message as a device saw it.
struct delivered {
  std::string id;
  std::string type;
  uint64_t seq = 0;
  protocol::priority prio = protocol::priority::normal;
  std::string payload;
};

/// Frames and messages a device read.
struct reading {
  size_t frames = 0;
  std::vector<delivered> messages;
  std::vector<protocol::message_ack> acks;
};

/// Reads frames (single messages, batches, compressed frames) until `count`
/// messages arrived or `limit` passed without progress.
reading
read_messages(runtime::ws_client& c, size_t count,
              std::chrono::milliseconds limit = std::chrono::milliseconds{5000},
              protocol::codec codec = protocol::codec::json);

} // namespace tether::test

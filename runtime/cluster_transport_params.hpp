#pragma once

// What the cluster port's transport (cluster_transport.hpp) is given: its
// credentials and bounds. Apart, so that the settings' mapping
// (node_params.hpp) needs no CAF network header.

#include <chrono>
#include <cstdint>
#include <string>

#include "config/settings.hpp"

namespace tether::runtime {

struct cluster_transport_params {
  /// This node's certificate, key and the cluster CA: all three for
  /// mutual TLS, none for plain TCP.
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  /// A connection that has not completed its handshake by then is closed.
  std::chrono::milliseconds handshake_timeout
    = config::cluster_settings{}.handshake_timeout;
  /// Connections still in their handshake, dialled and accepted together;
  /// an accept beyond it is closed at once.
  uint32_t max_pending = config::cluster_settings{}.max_pending_handshakes;
  /// The largest BASP payload taken from a peer.
  uint32_t max_payload = 16u << 20;
  /// Bounds a dial (the TCP connect).
  std::chrono::milliseconds connect_timeout
    = config::cluster_settings{}.connection_timeout;
};

} // namespace tether::runtime

#pragma once

// What the cluster's transport proved about a connection to another node
// (runtime/cluster_transport.hpp implements it over mutual TLS). The gate
// and the peer links ask it which node id the certificate on the other end
// of a connection names, so a peer can only ever speak as itself.

#include <cstdint>
#include <string>

namespace tether::actors {

class peer_certificates {
public:
  virtual ~peer_certificates() = default;

  /// Whether connections are authenticated with certificates. If not
  /// (cluster.insecure, or a loopback cluster without certificates), a
  /// peer's id is the one it claims in its hello.
  virtual bool verifying() const noexcept = 0;

  /// The node id certified by the connection with this remote address and
  /// port (as CAF's middleman reports them for a node); "" if none is
  /// known.
  virtual std::string node_at(const std::string& addr, uint16_t port) const = 0;
};

} // namespace tether::actors

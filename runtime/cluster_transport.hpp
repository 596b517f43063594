#pragma once

// The transport of the cluster port (SPEC §14.1): BASP, CAF's own
// distribution protocol, over mutual TLS against the cluster's CA, or over
// plain TCP where that is allowed (loopback, or cluster.insecure). It
// replaces CAF's middleman actor with one whose connections are Tether's:
//
// * no byte of BASP is read from a peer before its TLS handshake completed
//   with a certificate the cluster CA signed, naming a node id (its CN and
//   a URI SAN `tether-node:<id>`, cluster_pki.hpp); the id is kept per
//   connection for the gate and the peer links (peer_certificates);
// * before that, a connection costs one SSL object: at most
//   `max_pending` of them, each for at most `handshake_timeout`;
// * a BASP message announcing a payload over `max_payload` closes its
//   connection before anything is allocated for it;
// * one TLS context, reloaded on SIGHUP (load()); TLS 1.2 at least.
//
// CAF's own openssl module does none of these (it builds a context per
// connection from the files, has no handshake deadline, no cap, no payload
// bound, and keeps the peer's certificate from the application).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/cluster/peer_certificates.hpp"
#include "actors/metrics.hpp"
#include "runtime/cluster_transport_params.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace tether::runtime {

class cluster_transport final
  : public actors::peer_certificates,
    public std::enable_shared_from_this<cluster_transport> {
public:
  cluster_transport(cluster_transport_params params,
                    std::shared_ptr<actors::node_metrics> metrics);
  ~cluster_transport() override;

  cluster_transport(const cluster_transport&) = delete;
  cluster_transport& operator=(const cluster_transport&) = delete;

  /// Loads (or reloads) the certificate, key and CA into a new context
  /// for new connections; "" or what is wrong (the old context stays).
  std::string load();

  /// Spawns the middleman actor of this transport (in place of CAF's:
  /// publish and connect through it); it sweeps handshakes past their
  /// deadline while it runs.
  caf::io::middleman_actor start(caf::actor_system& sys);

  /// Ends that actor and the sweeper (the node stops).
  void stop();

  bool verifying() const noexcept override;

  std::string node_at(const std::string& addr, uint16_t port) const override;

  const cluster_transport_params& params() const noexcept { return params_; }

  actors::node_metrics& metrics() noexcept { return *metrics_; }

  /// The context for a new connection (null in plain mode).
  std::shared_ptr<SSL_CTX> context() const;

  /// Connections in their handshake: registers one (false if
  /// `max_pending` are already waiting, after closing any past their
  /// deadline), and forgets it when it completed or ended.
  bool begin_pending(int fd);
  void end_pending(int fd);

  /// Closes (shuts down) every connection past its handshake deadline.
  /// Runs on the multiplexer's thread, like everything of a connection.
  void sweep();

  /// What a connection's certificate proved, by its remote endpoint.
  void certify(const std::string& addr, uint16_t port, std::string node_id);
  void forget(const std::string& addr, uint16_t port);

  /// Logs a refused connection (at most one line a second; the rest are
  /// counted in /metrics) and counts it.
  void refused(actors::peer_refusal why, const std::string& detail);

private:
  cluster_transport_params params_;
  std::shared_ptr<actors::node_metrics> metrics_;
  mutable std::mutex mx_;
  std::shared_ptr<SSL_CTX> ctx_;
  std::unordered_map<int, std::chrono::steady_clock::time_point> pending_;
  std::map<std::string, std::string> certified_;
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t unlogged_ = 0;
  caf::actor middleman_;
  caf::actor sweeper_;
  /// CAF's BASP broker (ended with the transport: stop()).
  caf::actor broker_;
};

/// Kills these actors (null ones skipped) and waits for each to end, at
/// most `timeout` per actor: for hidden actors and CAF's own, which the
/// actor system does not await but would destroy after its clock.
void end_and_await(const std::vector<caf::actor>& actors,
                   std::chrono::milliseconds timeout);

} // namespace tether::runtime

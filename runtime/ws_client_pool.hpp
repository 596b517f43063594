#pragma once

// Client WebSocket sessions for simulated devices: many links on one shared
// Asio pool (threads set by the caller), each implementing actors::link_port.
// No Beast type leaks from here.

#include <cstdint>
#include <memory>

#include "actors/ports.hpp"

namespace tether::runtime {

class io_loop;

class client_pool {
public:
  /// Links on threads of the pool's own.
  explicit client_pool(uint32_t threads = 1);

  /// Links on `loop`'s threads (started and stopped by its owner, after
  /// this pool stopped). With the actors of the links' devices on the same
  /// loop (run_actors_on), frames reach them without crossing threads.
  explicit client_pool(std::shared_ptr<io_loop> loop);
  ~client_pool();

  client_pool(const client_pool&) = delete;
  client_pool& operator=(const client_pool&) = delete;

  /// Starts connecting; events arrive on the pool's threads.
  std::shared_ptr<actors::link_port>
  open(const actors::link_options& opts,
       std::shared_ptr<actors::link_events> events);

  /// A factory bound to this pool (it must outlive the factory's users).
  actors::link_factory factory();

  /// Links currently open or connecting.
  size_t links() const noexcept;

  /// Stops the threads (its own; a shared loop is stopped by its owner,
  /// first); pending links are destroyed. Release every link this pool
  /// opened first.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

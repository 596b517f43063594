#pragma once

// Client WebSocket sessions for simulated devices: many links on one shared
// Asio pool (threads set by the caller), each implementing actors::link_port.
// No Beast type leaks from here.

#include <cstdint>
#include <memory>

#include "actors/device/link_port.hpp"

namespace tether::runtime {

class client_pool {
public:
  explicit client_pool(uint32_t threads = 1);
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

  /// Stops the threads; pending links are destroyed. Release every link
  /// this pool opened first: a link must not outlive its pool.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tether::runtime

#pragma once

// The webhook receiver of `tether devices --scenario push`: a plain
// HTTP/1.1 server on 127.0.0.1 (port 0) on a thread of its own, where the
// spawned tetherd POSTs its pushes (SPEC §5.10). Each request's
// X-Tether-Signature is checked with the key (a bad or stale one: 401,
// counted); a good one is recorded with its arrival time (the steady
// clock) and the device it names ("user/device"), and answered 200.
// Connections are kept alive, as libcurl reuses them.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tether::cli {

class push_receiver {
public:
  /// Listens; port() is 0 if it could not.
  explicit push_receiver(std::string secret);
  ~push_receiver();

  push_receiver(const push_receiver&) = delete;
  push_receiver& operator=(const push_receiver&) = delete;

  uint16_t port() const noexcept { return port_; }

  /// The pushes so far: arrival times (steady ns) by device.
  std::map<std::string, std::vector<int64_t>> pushes() const;

  /// Requests refused: a bad signature, not a push, unreadable.
  uint64_t refused() const noexcept { return refused_.load(); }

  void stop();

private:
  void run();
  // Answers every whole request in `buf`; false to close.
  bool serve(int fd, std::string& buf);

  std::string secret_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mtx_;
  std::map<std::string, std::vector<int64_t>> pushes_;
  std::atomic<uint64_t> refused_{0};
};

} // namespace tether::cli

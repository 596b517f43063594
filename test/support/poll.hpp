#pragma once

// Waiting on the state of another process or of real sockets, where the CAF
// test clock does not apply and nothing announces the change: `done` is
// asked every `interval` until it holds or `limit` has passed.

#include <chrono>
#include <thread>

namespace tether::test {

/// True once `done()` held; false if `limit` passed first.
template <class Done>
bool poll_until(Done&& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

} // namespace tether::test

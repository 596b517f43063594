#pragma once

// Internal to protocol/*.cpp: scratch kept by a thread between calls (a
// parse's reader, a frame's arena and copy), so that a hot path does not
// allocate it afresh each time. It is lent to one user at a time: a user
// while it is out (a parse within a parse), or one that declines it (a text
// whose buffers the thread should not keep), gets a T of its own from the
// heap.

#include <memory>

namespace tether::protocol::detail {

template <class T>
class thread_loan {
public:
  explicit thread_loan(bool wanted = true) : kept_(wanted && !taken()) {
    if (kept_)
      taken() = true;
    else
      own_ = std::make_unique<T>();
  }

  ~thread_loan() {
    if (kept_)
      taken() = false;
  }

  thread_loan(const thread_loan&) = delete;
  thread_loan& operator=(const thread_loan&) = delete;

  T& operator*() noexcept { return kept_ ? kept() : *own_; }
  T* operator->() noexcept { return &**this; }

private:
  static T& kept() {
    thread_local T x;
    return x;
  }
  static bool& taken() {
    thread_local bool out = false;
    return out;
  }

  bool kept_;
  std::unique_ptr<T> own_;
};

} // namespace tether::protocol::detail

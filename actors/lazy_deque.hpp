#pragma once

// A std::deque that allocates nothing until something is pushed. libstdc++'s
// deque allocates about 576 bytes when it is constructed; an idle connection
// holds eight of them (queue, batcher, gate, session), a fifth of its memory.
// clear() gives the memory back. Pure.

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace tether::actors {

template <class T>
class lazy_deque {
public:
  using container = std::deque<T>;
  using value_type = T;
  using size_type = std::size_t;
  using iterator = typename container::iterator;
  using const_iterator = typename container::const_iterator;

  lazy_deque() = default;
  lazy_deque(lazy_deque&&) noexcept = default;
  lazy_deque& operator=(lazy_deque&&) noexcept = default;

  lazy_deque(const lazy_deque& other)
    : q_(other.q_ ? std::make_unique<container>(*other.q_) : nullptr) {}

  lazy_deque& operator=(const lazy_deque& other) {
    if (this != &other)
      q_ = other.q_ ? std::make_unique<container>(*other.q_) : nullptr;
    return *this;
  }

  bool empty() const noexcept { return !q_ || q_->empty(); }
  size_type size() const noexcept { return q_ ? q_->size() : 0; }

  T& front() { return q_->front(); }
  const T& front() const { return q_->front(); }
  T& back() { return q_->back(); }
  const T& back() const { return q_->back(); }

  T& operator[](size_type i) { return (*q_)[i]; }
  const T& operator[](size_type i) const { return (*q_)[i]; }

  void push_back(T x) { get().push_back(std::move(x)); }
  void push_front(T x) { get().push_front(std::move(x)); }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    return get().emplace_back(std::forward<Ts>(xs)...);
  }

  void pop_front() { q_->pop_front(); }

  /// Empties and frees.
  void clear() noexcept { q_.reset(); }

  iterator begin() { return q_ ? q_->begin() : none().begin(); }
  iterator end() { return q_ ? q_->end() : none().end(); }
  const_iterator begin() const { return q_ ? q_->cbegin() : none().cbegin(); }
  const_iterator end() const { return q_ ? q_->cend() : none().cend(); }

  iterator erase(iterator first, iterator last) {
    return q_ ? q_->erase(first, last) : last;
  }

private:
  container& get() {
    if (!q_)
      q_ = std::make_unique<container>();
    return *q_;
  }

  // The range of a deque that never held anything; never modified.
  static container& none() {
    static container empty;
    return empty;
  }

  std::unique_ptr<container> q_;
};

} // namespace tether::actors

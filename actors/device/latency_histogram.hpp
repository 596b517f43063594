#pragma once

// A lock-free latency histogram (microseconds): 1 us buckets up to 1 ms,
// 10 us to 10 ms, 100 us to 100 ms, 1 ms to 10 s, then one overflow bucket.
// Recorded from many threads; percentiles are read at the end (or for a
// progress line). Relative error <= 10% above 1 ms, exact below. Pure.

#include <array>
#include <atomic>
#include <cstdint>

namespace tether::actors {

class latency_histogram {
public:
  void record(uint64_t us) noexcept {
    buckets_[index(us)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(us, std::memory_order_relaxed);
    auto m = max_.load(std::memory_order_relaxed);
    while (us > m && !max_.compare_exchange_weak(m, us))
      ;
  }

  uint64_t count() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

  uint64_t max() const noexcept { return max_.load(std::memory_order_relaxed); }

  double mean() const noexcept {
    auto n = count();
    return n == 0 ? 0.0
                  : static_cast<double>(sum_.load(std::memory_order_relaxed))
                      / static_cast<double>(n);
  }

  /// The value (us) below which `p` percent of the samples fall.
  uint64_t percentile(double p) const noexcept {
    auto n = count();
    if (n == 0)
      return 0;
    auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(n - 1));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen > rank)
        return upper(i);
    }
    return max();
  }

  void reset() noexcept {
    for (auto& b : buckets_)
      b.store(0, std::memory_order_relaxed);
    count_ = 0;
    sum_ = 0;
    max_ = 0;
  }

private:
  static constexpr size_t size = 1000 + 900 + 900 + 9900 + 1;

  static size_t index(uint64_t us) noexcept {
    if (us < 1000)
      return us;
    if (us < 10000)
      return 1000 + (us - 1000) / 10;
    if (us < 100000)
      return 1900 + (us - 10000) / 100;
    if (us < 10000000)
      return 2800 + (us - 100000) / 1000;
    return size - 1;
  }

  static uint64_t upper(size_t i) noexcept {
    if (i < 1000)
      return i;
    if (i < 1900)
      return 1000 + (i - 1000) * 10 + 9;
    if (i < 2800)
      return 10000 + (i - 1900) * 100 + 99;
    if (i < size - 1)
      return 100000 + (i - 2800) * 1000 + 999;
    return 10000000;
  }

  std::array<std::atomic<uint64_t>, size> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

} // namespace tether::actors

#pragma once

// The push checker of `tether devices --scenario push`: did each device get
// a push exactly when SPEC §5.10 says it should? A device's app goes to the
// background (tether.lifecycle) and back; while there it holds its acks, so
// every message that calls for a push (priority >= push.min_priority)
// waits in its queue. From what the device saw (when it said background
// and foreground, when each such message reached it, what it had acked)
// and when the pushes arrived at the webhook, the checker finds pushes that
// were due and did not come (missed) and pushes that came with nothing
// waiting, while the app was in the foreground, or sooner than the policy
// allows (unnecessary). Times are the CLI's steady clock in nanoseconds; a
// tolerance absorbs what the client cannot see (when the server took a
// request, a push's way to the webhook). Pure.

#include <cstdint>
#include <string>
#include <vector>

namespace tether::actors {

/// What one device saw, for the push check.
struct push_log {
  struct episode {
    /// When the device sent `background` and `foreground` (0: still in the
    /// background at the end of the run).
    int64_t background_ns = 0;
    int64_t foreground_ns = 0;
    /// The highest seq it had acked when it went.
    uint64_t acked_seq = 0;
  };
  struct receipt {
    int64_t at_ns = 0;
    uint64_t seq = 0;
  };
  std::vector<episode> episodes;
  /// Messages that call for a push, as they reached the device.
  std::vector<receipt> receipts;
};

struct push_check_params {
  int64_t delay_ns = 0;
  int64_t min_interval_ns = 0;
  /// What the client cannot see: requests taking effect at the server,
  /// pushes on their way (the CLI uses 300 ms).
  int64_t tolerance_ns = 300'000'000;
};

struct push_check_result {
  /// Pushes the policy calls for, from the device's own view (messages
  /// waiting until the end of their episode, without tolerance).
  uint64_t due = 0;
  uint64_t sent = 0;
  /// Messages certainly due a push (waiting past push.delay plus the
  /// tolerance before their episode ended) with no push that covered them.
  uint64_t missed = 0;
  /// Pushes with nothing waiting, outside an episode, before push.delay
  /// passed, or within push.min_interval of the one before.
  uint64_t unnecessary = 0;
  /// The first few findings, for the report.
  std::vector<std::string> examples;
};

/// Checks one device's pushes (arrival times, any order) against its log;
/// `end_ns` closes an episode still open.
push_check_result check_pushes(const std::string& key, const push_log& log,
                               std::vector<int64_t> pushes, int64_t end_ns,
                               const push_check_params& p);

/// Adds `x` into `total` (examples: at most 10).
void merge(push_check_result& total, const push_check_result& x);

} // namespace tether::actors

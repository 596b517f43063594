#pragma once

// The invariant checker of `tether devices`: every message a device sent
// with requiresAck and the server accepted must be delivered exactly once to
// each intended recipient (duplicates are counted, never hidden), and the
// messages of one sender with one priority must first arrive in the order
// they were sent. Each device keeps its own ledger (no shared state while
// running); check() merges them at the end. Pure.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/model.hpp"

namespace tether::actors {

/// What one simulated device sent and received.
struct device_ledger {
  struct sent_record {
    std::string id;
    protocol::priority prio = protocol::priority::normal;
    /// A direct message's recipient ("user/device"), or empty...
    std::string to;
    /// ... for a room message: the room's members (the sender excluded).
    std::shared_ptr<const std::vector<std::string>> members;
  };
  std::string key; // "user/device"
  std::vector<sent_record> sent;
  std::unordered_set<std::string> accepted;
  std::unordered_set<std::string> failed;
  /// Ids named by gap notices (messages this device will never get).
  std::unordered_set<std::string> gapped;
  /// Messages gap notices counted without naming them (a notice names at
  /// most 100).
  uint64_t gapped_unnamed = 0;

  /// Records a receipt; returns false for a duplicate. A first receipt
  /// whose order is below one already received from the same sender (and
  /// run) with the same priority is an order violation.
  bool receive(std::string_view id, protocol::priority prio);

  /// Whether `id` was received at least once.
  bool was_received(std::string_view id) const;

  /// Receipts beyond the first of each id.
  uint64_t duplicates() const noexcept { return duplicates_; }

  uint64_t order_violations() const noexcept { return order_violations_; }

  /// The first few violations: "<id> after #<order> at <key>".
  const std::vector<std::string>& order_examples() const noexcept {
    return order_examples_;
  }

private:
  // The receipts of one sender's run, the id's part before '#': how often
  // each order arrived, in a byte per order (orders are dense from 1;
  // one far beyond the others goes to `sparse`), and the highest order
  // first received per priority.
  struct sender_log {
    std::vector<uint8_t> times;
    std::unordered_map<uint64_t, uint32_t> sparse;
    uint64_t last[4] = {0, 0, 0, 0};
  };

  sender_log* find(std::string_view prefix);
  const sender_log* find(std::string_view prefix) const;

  // The sender of the last receipt (a run mostly hears few senders); a
  // copy of the ledger starts without it.
  struct sender_cache {
    sender_log* log = nullptr;
    std::string prefix;
    sender_cache() = default;
    sender_cache(const sender_cache&) {}
    sender_cache& operator=(const sender_cache& other) {
      if (this != &other) {
        log = nullptr;
        prefix.clear();
      }
      return *this;
    }
  };

  std::map<std::string, sender_log, std::less<>> senders_;
  sender_cache last_;
  /// Ids of other shapes -> times received.
  std::unordered_map<std::string, uint32_t> other_;
  uint64_t duplicates_ = 0;
  uint64_t order_violations_ = 0;
  std::vector<std::string> order_examples_;
};

/// Message ids of the checker: "<user>/<device>~<run>#<order>". The run
/// (a nonce per fleet) keeps ids of separate runs against one server apart:
/// the server treats a known (sender, id) as a resend.
std::string make_message_id(const std::string& sender_key,
                            const std::string& run, uint64_t order);

/// Splits such an id (the run is dropped); false for ids of other shapes.
bool parse_message_id(const std::string& id, std::string& sender_key,
                      uint64_t& order);

struct check_report {
  uint64_t sent = 0;
  uint64_t accepted = 0;
  uint64_t failed = 0;
  /// Neither acked nor refused (the link dropped first).
  uint64_t in_doubt = 0;
  /// accepted x intended recipients.
  uint64_t expected = 0;
  uint64_t delivered = 0;
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t order_violations = 0;
  /// Messages not delivered but reported to the recipient by a gap notice
  /// (expired, evicted, dead letters): dropped by policy, not silently. A
  /// recipient's undelivered messages beyond what its notices named count
  /// here as far as its notices' counts cover them.
  uint64_t gapped = 0;
  std::vector<std::string> lost_examples;
  /// Lost messages by recipient (device key), for what the recipient was
  /// doing when the run ended.
  std::map<std::string, uint64_t> lost_to;
  std::vector<std::string> order_examples;

  bool ok() const noexcept { return lost == 0 && order_violations == 0; }
};

check_report check(const std::vector<const device_ledger*>& ledgers);

} // namespace tether::actors

#pragma once

// What a device must be told it will never receive: the drops of its queue
// (expired, evicted, dead-lettered) not yet reported by a tether.gap notice
// (SPEC §5.4). At most one notice is on its way at a time; its counts stay
// "in flight" until the notice is retired, and come back if the notice
// itself is dropped. The store keeps unreported + in flight, so a restart
// loses no count (ids are not stored). Pure.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/control.hpp"

namespace tether::actors {

enum class gap_cause : uint8_t { expired = 0, evicted = 1, dead = 2 };

class gap_ledger {
public:
  /// Ids listed in one notice; further drops are only counted.
  static constexpr size_t max_ids = 100;

  using counts = std::array<uint64_t, 3>; // by gap_cause

  /// Counts read back from the store (none in flight after a restart).
  void restore(const counts& c) noexcept;

  /// A message with this id was dropped (an empty id is only counted).
  void dropped(gap_cause cause, const std::string& id);

  /// Whether a notice should be offered: drops are unreported and no notice
  /// is on its way.
  bool due() const noexcept;

  /// The next notice (call when due()): the unreported drops move in flight.
  /// Its reason is the worst cause among them (dead_letter, evicted,
  /// expired).
  protocol::gap_info take();

  /// The notice on its way was delivered and retired.
  void retired() noexcept;

  /// The notice on its way was dropped itself (expired or evicted): its
  /// counts are unreported again, for the next notice.
  void notice_dropped() noexcept;

  /// What the store keeps: unreported plus in flight, by cause.
  counts persisted() const noexcept;

  const counts& unreported() const noexcept { return unreported_; }
  const std::vector<std::string>& ids() const noexcept { return ids_; }

private:
  counts unreported_{};
  counts in_flight_{};
  std::vector<std::string> ids_;
};

} // namespace tether::actors

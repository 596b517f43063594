#include "actors/queue/gap_ledger.hpp"

namespace tether::actors {

namespace {

uint64_t total(const gap_ledger::counts& c) noexcept {
  return c[0] + c[1] + c[2];
}

} // namespace

void gap_ledger::restore(const counts& c) noexcept {
  unreported_ = c;
  in_flight_ = {};
}

void gap_ledger::dropped(gap_cause cause, const std::string& id) {
  ++unreported_[static_cast<size_t>(cause)];
  if (!id.empty() && ids_.size() < max_ids)
    ids_.push_back(id);
}

bool gap_ledger::due() const noexcept {
  return total(unreported_) > 0 && total(in_flight_) == 0;
}

protocol::gap_info gap_ledger::take() {
  protocol::gap_info gap;
  auto& u = unreported_;
  using c = gap_cause;
  gap.reason = u[static_cast<size_t>(c::dead)] > 0      ? "dead_letter"
               : u[static_cast<size_t>(c::evicted)] > 0 ? "evicted"
                                                        : "expired";
  gap.count = total(u);
  gap.message_ids = std::move(ids_);
  ids_.clear();
  for (size_t i = 0; i < u.size(); ++i)
    in_flight_[i] += u[i];
  u = {};
  return gap;
}

void gap_ledger::retired() noexcept {
  in_flight_ = {};
}

void gap_ledger::notice_dropped() noexcept {
  for (size_t i = 0; i < in_flight_.size(); ++i)
    unreported_[i] += in_flight_[i];
  in_flight_ = {};
}

gap_ledger::counts gap_ledger::persisted() const noexcept {
  counts out;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = unreported_[i] + in_flight_[i];
  return out;
}

} // namespace tether::actors

#include "actors/device/delivery_checker.hpp"

#include <map>

namespace tether::actors {

namespace {

// Splits "<prefix>#<order>"; false for ids of other shapes.
bool split_id(std::string_view id, std::string_view& prefix, uint64_t& order) {
  auto hash = id.rfind('#');
  if (hash == std::string_view::npos || hash + 1 >= id.size()
      || id.size() - hash - 1 > 19)
    return false;
  order = 0;
  for (auto i = hash + 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9')
      return false;
    order = order * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  prefix = id.substr(0, hash);
  return true;
}

// Orders this far past the highest so far go to the sparse map: a dense
// byte per order must not be allocated for a gap nobody sent.
constexpr uint64_t max_dense_jump = 1 << 16;

} // namespace

device_ledger::sender_log* device_ledger::find(std::string_view prefix) {
  if (last_.log && last_.prefix == prefix)
    return last_.log;
  auto i = senders_.find(prefix);
  if (i == senders_.end())
    i = senders_.emplace(std::string{prefix}, sender_log{}).first;
  last_.log = &i->second;
  last_.prefix.assign(prefix.data(), prefix.size());
  return last_.log;
}

const device_ledger::sender_log*
device_ledger::find(std::string_view prefix) const {
  auto i = senders_.find(prefix);
  return i == senders_.end() ? nullptr : &i->second;
}

bool device_ledger::receive(std::string_view id, protocol::priority prio) {
  std::string_view prefix;
  uint64_t order = 0;
  if (!split_id(id, prefix, order)) {
    if (++other_[std::string{id}] > 1) {
      ++duplicates_;
      return false;
    }
    return true;
  }
  auto& log = *find(prefix);
  uint32_t before = 0;
  if (order < log.times.size()
      || order < log.times.size() * 2 + max_dense_jump) {
    if (order >= log.times.size())
      log.times.resize(order + 1);
    auto& n = log.times[order];
    before = n;
    if (n < 255)
      ++n;
  } else {
    before = log.sparse[order]++;
  }
  if (before > 0) {
    ++duplicates_;
    return false;
  }
  // First arrivals per (sender, priority) must follow the send order.
  auto& last = log.last[static_cast<size_t>(prio) & 3];
  if (order < last) {
    ++order_violations_;
    if (order_examples_.size() < 10)
      order_examples_.push_back(std::string{id} + " after #"
                                + std::to_string(last) + " at " + key);
  }
  last = std::max(last, order);
  return true;
}

bool device_ledger::was_received(std::string_view id) const {
  std::string_view prefix;
  uint64_t order = 0;
  if (!split_id(id, prefix, order))
    return other_.count(std::string{id}) > 0;
  auto* log = find(prefix);
  if (!log)
    return false;
  if (order < log->times.size() && log->times[order] > 0)
    return true;
  return log->sparse.count(order) > 0;
}

std::string make_message_id(const std::string& sender_key,
                            const std::string& run, uint64_t order) {
  return sender_key + "~" + run + "#" + std::to_string(order);
}

bool parse_message_id(const std::string& id, std::string& sender_key,
                      uint64_t& order) {
  auto hash = id.rfind('#');
  if (hash == std::string::npos || hash + 1 >= id.size())
    return false;
  sender_key = id.substr(0, std::min(hash, id.find('~')));
  order = 0;
  for (auto i = hash + 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9')
      return false;
    order = order * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  return true;
}

check_report check(const std::vector<const device_ledger*>& ledgers) {
  check_report r;
  std::unordered_map<std::string, const device_ledger*> by_key;
  // Per recipient: unnamed gap counts left to explain missing messages.
  std::unordered_map<std::string, uint64_t> unnamed;
  for (auto* l : ledgers) {
    by_key.emplace(l->key, l);
    unnamed[l->key] = l->gapped_unnamed;
  }
  for (auto* l : ledgers) {
    for (auto& s : l->sent) {
      ++r.sent;
      auto accepted = l->accepted.count(s.id) > 0;
      if (accepted)
        ++r.accepted;
      else if (l->failed.count(s.id))
        ++r.failed;
      else
        ++r.in_doubt;
      if (!accepted)
        continue;
      auto expect = [&](const std::string& to) {
        ++r.expected;
        auto rec = by_key.find(to);
        auto got = rec != by_key.end() && rec->second->was_received(s.id);
        if (got) {
          ++r.delivered;
        } else if (rec != by_key.end() && rec->second->gapped.count(s.id)) {
          ++r.gapped;
        } else if (auto u = unnamed.find(to);
                   u != unnamed.end() && u->second > 0) {
          --u->second;
          ++r.gapped;
        } else {
          ++r.lost;
          ++r.lost_to[to];
          if (r.lost_examples.size() < 10)
            r.lost_examples.push_back(s.id + " -> " + to);
        }
      };
      if (!s.to.empty())
        expect(s.to);
      else if (s.members)
        for (auto& to : *s.members)
          if (to != l->key)
            expect(to);
    }
    r.duplicates += l->duplicates();
    r.order_violations += l->order_violations();
    for (auto& x : l->order_examples())
      if (r.order_examples.size() < 10)
        r.order_examples.push_back(x);
  }
  return r;
}

} // namespace tether::actors

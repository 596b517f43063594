#include "actors/device/delivery_checker.hpp"

#include <map>

namespace tether::actors {

bool device_ledger::receive(const std::string& id, protocol::priority prio) {
  auto& n = received[id];
  if (++n > 1)
    return false;
  receipt r;
  r.id = id;
  r.prio = prio;
  parse_message_id(id, r.sender, r.order);
  first.push_back(std::move(r));
  return true;
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
        auto got = rec != by_key.end() && rec->second->received.count(s.id);
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
    for (auto& [id, n] : l->received)
      r.duplicates += n - 1;
    // First arrivals per (sender, priority) must follow the send order.
    std::map<std::pair<std::string, protocol::priority>, uint64_t> last;
    for (auto& x : l->first) {
      if (x.sender.empty())
        continue;
      auto& prev = last[{x.sender, x.prio}];
      if (x.order < prev) {
        ++r.order_violations;
        if (r.order_examples.size() < 10)
          r.order_examples.push_back(x.id + " after #" + std::to_string(prev)
                                     + " at " + l->key);
      }
      prev = std::max(prev, x.order);
    }
  }
  return r;
}

} // namespace tether::actors

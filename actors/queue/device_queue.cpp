#include "actors/queue/device_queue.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <unordered_set>
#include <utility>

#include "protocol/validate.hpp"

namespace tether::actors {

std::string_view to_string(overflow_policy x) noexcept {
  return x == overflow_policy::evict_lowest ? "evict_lowest" : "refuse_new";
}

bool from_string(std::string_view s, overflow_policy& x) noexcept {
  if (s == "evict_lowest")
    x = overflow_policy::evict_lowest;
  else if (s == "refuse_new")
    x = overflow_policy::refuse_new;
  else
    return false;
  return true;
}

device_queue::device_queue(queue_params params, uint64_t next_seq)
  : params_(params), next_seq_(next_seq == 0 ? 1 : next_seq) {
  // nop
}

size_t device_queue::waiting() const noexcept {
  size_t n = 0;
  for (auto& q : waiting_)
    n += q.size();
  return n;
}

bool device_queue::fits(protocol::priority prio, uint64_t bytes) const {
  if (bytes > params_.max_bytes)
    return false;
  auto items = count_ + 1;
  auto total = bytes_ + bytes;
  if (items <= params_.max_items && total <= params_.max_bytes)
    return true;
  if (params_.overflow == overflow_policy::refuse_new)
    return false;
  // Evictable: waiting messages of lower or equal priority, never critical.
  for (size_t p = 0;
       p <= index(prio) && p < index(protocol::priority::critical); ++p) {
    for (auto& e : waiting_[p]) {
      --items;
      total -= e.bytes;
      if (items <= params_.max_items && total <= params_.max_bytes)
        return true;
    }
  }
  return false;
}

device_queue::offer_result device_queue::offer(queue_entry e) {
  offer_result r;
  if (!fits(e.prio, e.bytes))
    return r;
  while (count_ + 1 > params_.max_items
         || bytes_ + e.bytes > params_.max_bytes) {
    // fits() guarantees an evictable message exists.
    for (auto& q : waiting_) {
      if (!q.empty()) {
        r.evicted.push_back(std::move(q.front()));
        q.pop_front();
        account_remove(r.evicted.back());
        break;
      }
    }
  }
  ++count_;
  bytes_ += e.bytes;
  if (!e.durable)
    ++memory_only_;
  deadline_added(e.expires_ms);
  auto& lane = waiting_[index(e.prio)];
  lane.push_back(std::move(e));
  r.accepted = true;
  return r;
}

void device_queue::offer_notice(queue_entry e) {
  ++count_;
  bytes_ += e.bytes;
  if (!e.durable)
    ++memory_only_;
  deadline_added(e.expires_ms);
  // Ahead of its priority: the notice explains what follows it.
  auto& lane = waiting_[index(e.prio)];
  lane.push_front(std::move(e));
}

void device_queue::account_remove(const queue_entry& e) noexcept {
  deadline_removed(e.expires_ms);
  if (e.needs_ack && e.attempts > 0)
    deadline_removed(e.retry_ms);
  --count_;
  bytes_ -= e.bytes;
  if (!e.durable)
    --memory_only_;
}

std::optional<int64_t> device_queue::oldest_waiting_ms() const {
  std::optional<int64_t> result;
  for (auto& q : waiting_)
    if (!q.empty() && (!result || q.front().enqueued_ms < *result))
      result = q.front().enqueued_ms;
  return result;
}

const queue_entry* device_queue::next(int64_t now_ms) {
  while (!redeliver_.empty()) {
    auto seq = redeliver_.front();
    redeliver_.pop_front();
    auto i = inflight_.find(seq);
    if (i == inflight_.end())
      continue; // retired meanwhile
    if (i->second.expires_ms <= now_ms) {
      expired_.push_back(take_inflight(i));
      continue;
    }
    auto& e = i->second;
    ++e.attempts;
    if (e.needs_ack)
      deadline_removed(e.retry_ms);
    e.retry_ms
      = now_ms
        + static_cast<int64_t>(static_cast<double>(params_.ack_timeout.count())
                               * std::pow(params_.ack_backoff, e.attempts - 1));
    if (e.needs_ack)
      deadline_added(e.retry_ms);
    return &e;
  }
  if (inflight_.size() >= params_.max_inflight)
    return nullptr;
  for (size_t p = 4; p-- > 0;) {
    auto& q = waiting_[p];
    while (!q.empty() && q.front().expires_ms <= now_ms) {
      account_remove(q.front());
      expired_.push_back(std::move(q.front()));
      q.pop_front();
    }
    if (q.empty())
      continue;
    auto e = std::move(q.front());
    q.pop_front();
    e.seq = next_seq_++;
    e.attempts = 1;
    e.retry_ms = now_ms + params_.ack_timeout.count();
    if (e.needs_ack)
      deadline_added(e.retry_ms);
    // Only what waits for the device's ack is acked by id; the rest retires
    // once written (SPEC §5.5), and an id ack of it changes nothing.
    if (e.msg && e.needs_ack)
      by_id_[e.msg->id] = e.seq;
    auto [pos, added] = inflight_.emplace(e.seq, std::move(e));
    return &pos->second;
  }
  return nullptr;
}

queue_entry
device_queue::take_inflight(std::map<uint64_t, queue_entry>::iterator i) {
  auto e = std::move(i->second);
  inflight_.erase(i);
  if (e.msg && e.needs_ack) {
    auto j = by_id_.find(e.msg->id);
    if (j != by_id_.end() && j->second == e.seq)
      by_id_.erase(j);
  }
  account_remove(e);
  return e;
}

std::vector<queue_entry> device_queue::take_expired() {
  return std::exchange(expired_, {});
}

std::vector<queue_entry> device_queue::ack_upto(uint64_t seq) {
  std::vector<queue_entry> out;
  // A seq this queue never gave is another incarnation's (a client that
  // kept its seqs when its queue moved): it tells nothing of these.
  if (seq >= next_seq_)
    return out;
  while (!inflight_.empty() && inflight_.begin()->first <= seq)
    out.push_back(take_inflight(inflight_.begin()));
  return out;
}

std::optional<queue_entry> device_queue::ack_id(const std::string& message_id) {
  auto j = by_id_.find(message_id);
  if (j == by_id_.end())
    return std::nullopt;
  auto i = inflight_.find(j->second);
  if (i == inflight_.end()) {
    by_id_.erase(j);
    return std::nullopt;
  }
  return take_inflight(i);
}

std::vector<queue_entry>
device_queue::written(const std::vector<uint64_t>& seqs) {
  std::vector<queue_entry> out;
  written(seqs, out);
  return out;
}

void device_queue::written(const std::vector<uint64_t>& seqs,
                           std::vector<queue_entry>& out) {
  for (auto seq : seqs) {
    auto i = inflight_.find(seq);
    if (i != inflight_.end() && !i->second.needs_ack)
      out.push_back(take_inflight(i));
  }
}

template <class Pred>
void device_queue::take_waiting_if(Pred pred, std::vector<queue_entry>& out) {
  for (auto& q : waiting_) {
    auto keep = std::stable_partition(q.begin(), q.end(),
                                      [&](auto& e) { return !pred(e); });
    for (auto i = keep; i != q.end(); ++i) {
      account_remove(*i);
      out.push_back(std::move(*i));
    }
    q.erase(keep, q.end());
  }
}

template <class Pred>
void device_queue::take_inflight_if(Pred pred, std::vector<queue_entry>& out) {
  for (auto i = inflight_.begin(); i != inflight_.end();) {
    if (pred(i->second))
      out.push_back(take_inflight(i++));
    else
      ++i;
  }
}

std::vector<queue_entry> device_queue::expire(int64_t now_ms) {
  std::vector<queue_entry> out;
  auto expired = [&](const queue_entry& e) { return e.expires_ms <= now_ms; };
  take_waiting_if(expired, out);
  take_inflight_if(expired, out);
  return out;
}

namespace {

bool is_notice(const queue_entry& e) {
  return e.msg && protocol::is_server_type(e.msg->type);
}

} // namespace

device_queue::withdraw_result
device_queue::withdraw(const std::vector<std::string>& ids) {
  withdraw_result r;
  std::unordered_set<std::string_view> wanted(ids.begin(), ids.end());
  // Whether `e` is one of them; a kept one is named once.
  auto selected = [&](const queue_entry& e) {
    if (!e.msg || is_notice(e) || wanted.count(e.msg->id) == 0)
      return false;
    if (e.msg->optimization.withdrawable)
      return true;
    if (std::find(r.kept.begin(), r.kept.end(), e.msg->id) == r.kept.end())
      r.kept.push_back(e.msg->id);
    return false;
  };
  take_waiting_if(selected, r.unsent);
  // (A seq left in redeliver_ is skipped by next(), one in the queue
  // actor's handed list by written().)
  take_inflight_if(selected, r.delivered);
  return r;
}

std::vector<queue_entry> device_queue::take_waiting(std::string_view type) {
  std::vector<queue_entry> out;
  take_waiting_if(
    [&](const queue_entry& e) { return e.msg && e.msg->type == type; }, out);
  return out;
}

device_queue::timeout_result device_queue::check_timeouts(int64_t now_ms) {
  timeout_result r;
  for (auto i = inflight_.begin(); i != inflight_.end();) {
    auto& e = i->second;
    if (!e.needs_ack || e.retry_ms > now_ms
        || std::find(redeliver_.begin(), redeliver_.end(), e.seq)
             != redeliver_.end()) {
      ++i;
      continue;
    }
    if (e.attempts >= params_.max_attempts) {
      r.dead.push_back(take_inflight(i++));
      continue;
    }
    redeliver_.push_back(e.seq);
    ++r.redeliver;
    ++i;
  }
  std::sort(redeliver_.begin(), redeliver_.end());
  return r;
}

void device_queue::redeliver_all() {
  redeliver_.clear();
  for (auto& [seq, e] : inflight_)
    redeliver_.push_back(seq);
}

bool device_queue::slow(int64_t now_ms) const {
  auto oldest = oldest_waiting_ms();
  return oldest && now_ms - *oldest > params_.slow_after.count();
}

void device_queue::deadline_added(int64_t t) {
  deadlines_.push_back(t);
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
}

void device_queue::deadline_removed(int64_t t) {
  gone_.push_back(t);
  std::push_heap(gone_.begin(), gone_.end(), std::greater<>{});
}

void device_queue::recount_deadlines() const {
  deadlines_.clear();
  gone_.clear();
  for (auto& q : waiting_)
    for (auto& e : q)
      deadlines_.push_back(e.expires_ms);
  for (auto& [seq, e] : inflight_) {
    deadlines_.push_back(e.expires_ms);
    if (e.needs_ack)
      deadlines_.push_back(e.retry_ms);
  }
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
}

std::optional<int64_t> device_queue::next_deadline() const {
  // Gone ones that are not the earliest wait in gone_ until they are: past
  // half the heap, count again (amortized O(1) per removal; here, between
  // operations, where the entries are what the heaps describe).
  if (gone_.size() > 32 && gone_.size() * 2 > deadlines_.size())
    recount_deadlines();
  // gone_ is a sub-multiset of deadlines_: its minimum is deadlines_'s iff
  // that one went.
  while (!gone_.empty() && gone_.front() == deadlines_.front()) {
    std::pop_heap(gone_.begin(), gone_.end(), std::greater<>{});
    gone_.pop_back();
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
    deadlines_.pop_back();
  }
  if (deadlines_.empty()) {
    // An emptied queue keeps no heap memory.
    if (deadlines_.capacity() > 16) {
      deadlines_.shrink_to_fit();
      gone_.shrink_to_fit();
    }
    return std::nullopt;
  }
  return deadlines_.front();
}

std::vector<queue_entry> device_queue::take_all() {
  std::vector<queue_entry> out;
  out.reserve(count_);
  while (!inflight_.empty())
    out.push_back(take_inflight(inflight_.begin()));
  for (size_t p = 4; p-- > 0;) {
    auto& q = waiting_[p];
    while (!q.empty()) {
      account_remove(q.front());
      out.push_back(std::move(q.front()));
      q.pop_front();
    }
  }
  redeliver_.clear();
  return out;
}

void device_queue::restore(std::vector<queue_entry> entries) {
  for (auto i = entries.rbegin(); i != entries.rend(); ++i) {
    i->seq = 0;
    i->attempts = 0;
    i->retry_ms = 0;
    offer_notice(std::move(*i));
  }
}

std::vector<const queue_entry*> device_queue::entries() const {
  std::vector<const queue_entry*> out;
  for (auto& [seq, e] : inflight_)
    out.push_back(&e);
  for (size_t p = 4; p-- > 0;)
    for (auto& e : waiting_[p])
      out.push_back(&e);
  return out;
}

} // namespace tether::actors

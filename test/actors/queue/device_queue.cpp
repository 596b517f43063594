#define CAF_SUITE actors.device_queue
#include <caf/test/unit_test.hpp>

#include "actors/queue/device_queue.hpp"

using namespace tether::actors;
using tether::protocol::priority;

namespace {

queue_entry entry(const std::string& id, priority p = priority::normal,
                  uint64_t bytes = 100, int64_t expires = 1000000,
                  bool needs_ack = true) {
  auto m = std::make_shared<tether::protocol::mobile_message>();
  m->id = id;
  queue_entry e;
  e.msg = m;
  e.prio = p;
  e.bytes = bytes;
  e.enqueued_ms = 0;
  e.expires_ms = expires;
  e.needs_ack = needs_ack;
  return e;
}

std::vector<std::string> drain(device_queue& q, int64_t now = 0) {
  std::vector<std::string> ids;
  while (auto e = q.next(now))
    ids.push_back(e->msg->id);
  return ids;
}

std::vector<std::string> ids(const std::vector<queue_entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(e.msg->id);
  return out;
}

} // namespace

CAF_TEST(delivery is by priority and fifo within a priority) {
  device_queue q;
  q.offer(entry("a", priority::normal));
  q.offer(entry("b", priority::low));
  q.offer(entry("c", priority::high));
  q.offer(entry("d", priority::normal));
  q.offer(entry("e", priority::critical));
  // The original was LIFO within a priority (a, d reversed); FIFO here.
  CAF_CHECK_EQUAL(drain(q),
                  (std::vector<std::string>{"e", "c", "a", "d", "b"}));
}

CAF_TEST(sequence numbers increase in delivery order) {
  device_queue q{queue_params{}, 41};
  q.offer(entry("a"));
  q.offer(entry("b", priority::high));
  auto first = q.next(0);
  CAF_CHECK_EQUAL(first->msg->id, "b");
  CAF_CHECK_EQUAL(first->seq, 41u);
  CAF_CHECK_EQUAL(q.next(0)->seq, 42u);
  CAF_CHECK_EQUAL(q.next_seq(), 43u);
}

CAF_TEST(overflow evicts the oldest lowest priority and never critical) {
  queue_params p;
  p.max_items = 3;
  device_queue q{p};
  CAF_CHECK(q.offer(entry("low1", priority::low)).accepted);
  CAF_CHECK(q.offer(entry("low2", priority::low)).accepted);
  CAF_CHECK(q.offer(entry("norm", priority::normal)).accepted);
  // A high message evicts the oldest low one (the original could not evict
  // within the same millisecond; no such limit here).
  auto r = q.offer(entry("high", priority::high));
  CAF_CHECK(r.accepted);
  CAF_CHECK_EQUAL(ids(r.evicted), std::vector<std::string>{"low1"});
  // A low message may evict an older low one.
  r = q.offer(entry("low3", priority::low));
  CAF_CHECK_EQUAL(ids(r.evicted), std::vector<std::string>{"low2"});
  // Fill with critical: nothing evictable for them.
  device_queue c{p};
  for (auto id : {"c1", "c2", "c3"})
    CAF_CHECK(c.offer(entry(id, priority::critical)).accepted);
  CAF_CHECK(!c.offer(entry("c4", priority::critical)).accepted);
  CAF_CHECK(!c.offer(entry("n", priority::normal)).accepted);
  CAF_CHECK_EQUAL(c.size(), 3u);
  // A low message never evicts a normal one.
  device_queue n{p};
  for (auto id : {"n1", "n2", "n3"})
    n.offer(entry(id, priority::normal));
  CAF_CHECK(!n.offer(entry("l", priority::low)).accepted);
}

CAF_TEST(byte caps and the refuse_new policy) {
  queue_params p;
  p.max_bytes = 250;
  device_queue q{p};
  CAF_CHECK(q.offer(entry("a", priority::low, 100)).accepted);
  CAF_CHECK(q.offer(entry("b", priority::low, 100)).accepted);
  auto r = q.offer(entry("c", priority::low, 100));
  CAF_CHECK(r.accepted);
  CAF_CHECK_EQUAL(r.evicted.size(), 1u);
  CAF_CHECK(!q.offer(entry("huge", priority::critical, 300)).accepted);
  p.overflow = overflow_policy::refuse_new;
  device_queue strict{p};
  strict.offer(entry("a", priority::low, 200));
  CAF_CHECK(!strict.offer(entry("b", priority::critical, 100)).accepted);
}

CAF_TEST(cumulative and per id acks retire delivered messages) {
  device_queue q;
  for (auto id : {"a", "b", "c", "d"})
    q.offer(entry(id));
  drain(q);
  CAF_CHECK_EQUAL(q.inflight(), 4u);
  // A seq never given here (a client that kept another incarnation's
  // seqs) retires nothing.
  CAF_CHECK(q.ack_upto(q.next_seq()).empty());
  CAF_CHECK(q.ack_upto(1000).empty());
  CAF_CHECK_EQUAL(q.inflight(), 4u);
  CAF_CHECK_EQUAL(ids(q.ack_upto(2)), (std::vector<std::string>{"a", "b"}));
  CAF_CHECK(q.ack_id("d").has_value());
  CAF_CHECK(!q.ack_id("d").has_value());
  CAF_CHECK_EQUAL(q.size(), 1u);
}

CAF_TEST(no ack messages retire when their frame is written) {
  device_queue q;
  q.offer(entry("fire", priority::normal, 10, 1000000, false));
  q.offer(entry("acked", priority::normal, 10, 1000000, true));
  drain(q);
  CAF_CHECK_EQUAL(ids(q.written({1, 2})), std::vector<std::string>{"fire"});
  CAF_CHECK_EQUAL(q.size(), 1u);
}

CAF_TEST(unacked messages are redelivered with the same seq after a reconnect) {
  device_queue q;
  for (auto id : {"a", "b", "c"})
    q.offer(entry(id));
  q.next(0);
  q.next(0);
  q.redeliver_all();
  auto again = q.next(0);
  CAF_CHECK_EQUAL(again->msg->id, "a");
  CAF_CHECK_EQUAL(again->seq, 1u);
  CAF_CHECK_EQUAL(again->attempts, 2u);
  CAF_CHECK_EQUAL(q.next(0)->msg->id, "b");
  CAF_CHECK_EQUAL(q.next(0)->msg->id, "c");
  CAF_CHECK(q.next(0) == nullptr);
}

CAF_TEST(ack timeouts back off then dead letter) {
  queue_params p;
  p.ack_timeout = std::chrono::milliseconds{100};
  p.ack_backoff = 2;
  p.max_attempts = 3;
  device_queue q{p};
  q.offer(entry("a"));
  q.next(0); // attempt 1, retry at 100
  CAF_CHECK_EQUAL(q.check_timeouts(99).redeliver, 0u);
  CAF_CHECK_EQUAL(q.check_timeouts(100).redeliver, 1u);
  auto e = q.next(100); // attempt 2, retry at 100 + 200
  CAF_CHECK_EQUAL(e->attempts, 2u);
  CAF_CHECK_EQUAL(e->retry_ms, 300);
  CAF_CHECK_EQUAL(q.check_timeouts(299).redeliver, 0u);
  CAF_CHECK_EQUAL(q.check_timeouts(300).redeliver, 1u);
  q.next(300); // attempt 3, retry at 300 + 400
  auto r = q.check_timeouts(700);
  CAF_CHECK_EQUAL(r.redeliver, 0u);
  CAF_CHECK_EQUAL(ids(r.dead), std::vector<std::string>{"a"});
  CAF_CHECK_EQUAL(q.size(), 0u);
}

CAF_TEST(expired messages are never delivered) {
  device_queue q;
  q.offer(entry("old", priority::high, 10, 500));
  q.offer(entry("new", priority::normal, 10, 5000));
  CAF_CHECK_EQUAL(drain(q, 600), std::vector<std::string>{"new"});
  CAF_CHECK_EQUAL(ids(q.take_expired()), std::vector<std::string>{"old"});
  q.offer(entry("x", priority::low, 10, 700));
  CAF_CHECK_EQUAL(ids(q.expire(800)), (std::vector<std::string>{"x"}));
  // Delivered but unacked messages expire too.
  CAF_CHECK_EQUAL(ids(q.expire(6000)), (std::vector<std::string>{"new"}));
  CAF_CHECK_EQUAL(q.size(), 0u);
}

CAF_TEST(the inflight window bounds deliveries) {
  queue_params p;
  p.max_inflight = 2;
  device_queue q{p};
  for (auto id : {"a", "b", "c"})
    q.offer(entry(id));
  CAF_CHECK_EQUAL(drain(q).size(), 2u);
  q.ack_upto(1);
  CAF_CHECK_EQUAL(drain(q), std::vector<std::string>{"c"});
}

CAF_TEST(slow consumers and deadlines) {
  queue_params p;
  p.slow_after = std::chrono::milliseconds{1000};
  device_queue q{p};
  auto e = entry("a");
  e.enqueued_ms = 100;
  e.expires_ms = 9000;
  q.offer(e);
  CAF_CHECK(!q.slow(1100));
  CAF_CHECK(q.slow(1101));
  CAF_CHECK_EQUAL(q.next_deadline().value_or(0), 9000);
  CAF_CHECK_EQUAL(q.oldest_waiting_ms().value_or(0), 100);
}

CAF_TEST(the cached next deadline always equals a full count) {
  queue_params p;
  p.max_items = 50;
  p.max_inflight = 20;
  device_queue q{p};
  auto brute = [&]() -> std::optional<int64_t> {
    std::optional<int64_t> r;
    for (auto* e : q.entries()) {
      auto consider = [&](int64_t t) {
        if (!r || t < *r)
          r = t;
      };
      consider(e->expires_ms);
      if (e->seq != 0 && e->needs_ack)
        consider(e->retry_ms);
    }
    return r;
  };
  uint64_t rng = 42;
  auto draw = [&](uint64_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (rng >> 33) % n;
  };
  int64_t now = 0;
  std::vector<uint64_t> delivered;
  for (int step = 0; step < 3000; ++step) {
    now += static_cast<int64_t>(draw(50));
    switch (draw(7)) {
      case 0:
      case 1:
        q.offer(entry("m" + std::to_string(step),
                      static_cast<priority>(draw(4)), 100,
                      now + static_cast<int64_t>(draw(20000)), draw(2) == 0));
        break;
      case 2:
        if (auto e = q.next(now))
          delivered.push_back(e->seq);
        break;
      case 3:
        if (!delivered.empty())
          q.written({delivered[draw(delivered.size())]});
        break;
      case 4:
        if (!delivered.empty())
          q.ack_upto(delivered[draw(delivered.size())]);
        break;
      case 5:
        q.expire(now);
        q.check_timeouts(now);
        break;
      case 6:
        if (draw(10) == 0)
          q.redeliver_all();
        break;
    }
    q.take_expired();
    CAF_REQUIRE_EQUAL(q.next_deadline(), brute());
  }
}

CAF_TEST(messages without requiresAck retire when written not by id) {
  device_queue q;
  q.offer(entry("quiet", priority::normal, 100, 1000000, false));
  q.offer(entry("asks", priority::normal, 100, 1000000, true));
  auto first = q.next(0);
  CAF_REQUIRE(first);
  auto quiet = first->seq;
  auto second = q.next(0);
  CAF_REQUIRE(second);
  auto asks = second->seq;
  // An id ack of a message that asked none changes nothing.
  CAF_CHECK(!q.ack_id("quiet"));
  CAF_CHECK_EQUAL(q.inflight(), 2u);
  // Written: the one without requiresAck retires, the other waits.
  CAF_CHECK_EQUAL(ids(q.written({quiet, asks})),
                  std::vector<std::string>{"quiet"});
  CAF_CHECK(q.ack_id("asks").has_value());
  CAF_CHECK_EQUAL(q.size(), 0u);
}

CAF_TEST(take_all empties the queue delivered first then by priority) {
  device_queue q;
  q.offer(entry("a"));
  q.offer(entry("b", priority::high));
  q.offer(entry("c", priority::low));
  q.offer(entry("d"));
  auto first = q.next(0); // b in flight
  CAF_REQUIRE_EQUAL(first->msg->id, "b");
  q.redeliver_all();
  auto all = q.take_all();
  CAF_CHECK_EQUAL(ids(all), (std::vector<std::string>{"b", "a", "d", "c"}));
  CAF_CHECK_EQUAL(q.size(), 0u);
  CAF_CHECK_EQUAL(q.bytes(), 0u);
  CAF_CHECK_EQUAL(q.inflight(), 0u);
  CAF_CHECK(!q.redelivery_due());
  CAF_CHECK(!q.next(0));
  CAF_CHECK(!q.ack_id("b"));
  // It takes new messages as before.
  q.offer(entry("e"));
  CAF_CHECK_EQUAL(drain(q), std::vector<std::string>{"e"});
}

CAF_TEST(restore puts taken messages back first in their order) {
  queue_params p;
  p.max_items = 3;
  device_queue q{p};
  q.offer(entry("a"));
  q.offer(entry("b", priority::high));
  q.offer(entry("c"));
  auto taken = q.take_all();
  q.offer(entry("d")); // came during the handover
  q.offer(entry("e"));
  q.offer(entry("f"));
  q.restore(std::move(taken)); // over the cap: nothing is lost
  CAF_CHECK_EQUAL(q.size(), 6u);
  CAF_CHECK_EQUAL(drain(q),
                  (std::vector<std::string>{"b", "a", "c", "d", "e", "f"}));
}

CAF_TEST(withdraw removes waiting and delivered copies but not kept ones) {
  device_queue q;
  q.offer(entry("sent-acked", priority::high));
  q.offer(entry("sent-noack", priority::high, 100, 1000000, false));
  CAF_CHECK_EQUAL(drain(q),
                  (std::vector<std::string>{"sent-acked", "sent-noack"}));
  q.offer(entry("waiting"));
  q.offer(entry("other"));
  auto kept = entry("kept");
  auto m = std::make_shared<tether::protocol::mobile_message>(*kept.msg);
  m->optimization.withdrawable = false;
  kept.msg = m;
  q.offer(std::move(kept));
  auto notice = entry("withdrawn-1-1", priority::high);
  auto n = std::make_shared<tether::protocol::mobile_message>(*notice.msg);
  n->type = "tether.withdrawn";
  notice.msg = n;
  q.offer(std::move(notice));
  CAF_CHECK_EQUAL(q.size(), 6u);
  auto r = q.withdraw({"waiting", "sent-acked", "sent-noack", "kept",
                       "withdrawn-1-1", "unknown"});
  CAF_CHECK_EQUAL(ids(r.unsent), std::vector<std::string>{"waiting"});
  CAF_CHECK_EQUAL(ids(r.delivered),
                  (std::vector<std::string>{"sent-acked", "sent-noack"}));
  CAF_CHECK_EQUAL(r.kept, std::vector<std::string>{"kept"});
  CAF_CHECK_EQUAL(q.size(), 3u);
  CAF_CHECK_EQUAL(q.inflight(), 0u);
  CAF_CHECK_EQUAL(q.bytes(), 300u);
  // What stays is delivered as before; acks and writes of what went are
  // no-ops, and the deadlines are what remains.
  CAF_CHECK(q.ack_upto(2).empty());
  CAF_CHECK(q.written({1, 2}).empty());
  q.redeliver_all();
  CAF_CHECK_EQUAL(drain(q),
                  (std::vector<std::string>{"withdrawn-1-1", "other", "kept"}));
  CAF_CHECK_EQUAL(q.next_deadline(), std::optional<int64_t>{10000});
  // The notice of a type is taken out only while it waits.
  q.offer(entry("later"));
  CAF_CHECK(q.take_waiting("tether.withdrawn").empty());
  auto again = entry("withdrawn-2-2");
  auto a = std::make_shared<tether::protocol::mobile_message>(*again.msg);
  a->type = "tether.withdrawn";
  again.msg = a;
  q.offer(std::move(again));
  CAF_CHECK_EQUAL(ids(q.take_waiting("tether.withdrawn")),
                  std::vector<std::string>{"withdrawn-2-2"});
  CAF_CHECK_EQUAL(q.waiting(), 1u);
}

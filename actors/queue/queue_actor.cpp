#include "actors/queue/queue_actor.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/relay.hpp"
#include "actors/cluster/replication.hpp"
#include "actors/loop_affinity.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/validate.hpp"

namespace tether::actors {

namespace {

using self_ptr = queue_actor::stateful_pointer<queue_state>;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// A connection of the device is attached (its batcher may not run yet).
bool attached(self_ptr self) {
  return self->state.conn != nullptr;
}

// Something happened that a released queue would have to be restarted for.
void active(self_ptr self) {
  self->state.active_ms = wall_ms(self);
  self->state.release_offered = false;
}

// Whether the queue holds nothing its home's record would not restore: no
// message, no write or reservation on its way, no notice due, no handover.
bool holds_nothing(self_ptr self) {
  auto& st = self->state;
  return st.q.size() == 0 && !st.reserving && !st.gaps_pending && !st.gaps.due()
         && !st.in_handover && !st.handover_to;
}

// An attached queue that may offer its release once idle long enough.
bool may_offer_release(self_ptr self) {
  auto& st = self->state;
  return st.home && st.params.release_after.count() > 0 && attached(self)
         && !st.release_offered && holds_nothing(self);
}

// A rough encoded size: the envelope's fixed part plus its variable fields.
uint64_t estimate_bytes(const protocol::mobile_message& m) {
  uint64_t n = 192 + m.id.size() + m.type.size() + m.payload.raw.size()
               + m.source.user_id.size() + m.source.device_id.size();
  for (auto& x : m.extra)
    n += x.name.size() + x.value.raw.size();
  return n;
}

// The counters changed: they are written once the messages already queued
// are handled (an overloaded queue drops many in a row; one write for all).
void persist_gaps(self_ptr self) {
  auto& st = self->state;
  if (st.gaps_pending)
    return;
  st.gaps_pending = true;
  self->send(self, atom::gaps_v);
}

void write_gaps(self_ptr self) {
  auto& st = self->state;
  st.gaps_pending = false;
  auto c = st.gaps.persisted();
  self->send(st.store, atom::gaps_v,
             gap_counts{st.owner.user_id, st.owner.device_id, c[0], c[1], c[2],
                        true});
}

void forget(self_ptr self, std::vector<queue_entry>& entries, gap_cause cause) {
  if (entries.empty())
    return;
  auto& st = self->state;
  message_keys keys{st.owner.user_id, st.owner.device_id, {}};
  uint64_t n = 0;
  for (auto& e : entries) {
    if (e.durable)
      keys.qids.push_back(e.key);
    if (e.msg && e.msg->type == "tether.gap") {
      st.gaps.notice_dropped(); // its counts go in the next one
      continue;
    }
    st.gaps.dropped(cause, e.msg ? e.msg->id : std::string{});
    ++n;
  }
  if (!keys.qids.empty())
    self->send(st.store, atom::remove_v, std::move(keys));
  st.metrics->queue_event(cause == gap_cause::expired ? queue_counter::expired
                                                      : queue_counter::evicted,
                          n);
  persist_gaps(self);
}

void retire(self_ptr self, std::vector<queue_entry>& entries) {
  if (entries.empty())
    return;
  auto& st = self->state;
  message_keys keys{st.owner.user_id, st.owner.device_id, {}};
  for (auto& e : entries) {
    if (e.durable)
      keys.qids.push_back(e.key);
    if (e.msg && e.msg->type == "tether.gap") {
      st.gaps.retired();
      persist_gaps(self);
    }
  }
  if (!keys.qids.empty())
    self->send(st.store, atom::remove_v, std::move(keys));
  st.metrics->queue_event(queue_counter::retired, entries.size());
}

// These messages were delivered (acked, or written without an ack asked):
// a copy of them handed over again is dropped (delivered_ids.hpp).
void retire_delivered(self_ptr self, std::vector<queue_entry>& entries) {
  for (auto& e : entries)
    if (e.msg)
      self->state.delivered.add(e.msg->id);
  retire(self, entries);
}

// Offers a tether.gap notice once the device is attached and drops happened.
void notify_gaps(self_ptr self) {
  auto& st = self->state;
  if (!attached(self) || !st.gaps.due())
    return;
  auto gap = st.gaps.take();
  auto now = wall_ms(self);
  queue_entry e;
  e.msg = std::make_shared<const protocol::mobile_message>(
    protocol::make_gap(st.owner.user_id, st.owner.device_id, gap, now));
  e.prio = protocol::priority::critical;
  e.bytes = estimate_bytes(*e.msg);
  e.enqueued_ms = now;
  e.expires_ms = now + st.params.queue.default_ttl[3].count();
  st.q.offer_notice(std::move(e));
}

void reserve_seqs(self_ptr self) {
  auto& st = self->state;
  if (st.reserving)
    return;
  st.reserving = true;
  auto upto = st.q.next_seq() + st.params.seq_block - 1;
  self
    ->request(st.store, caf::infinite, atom::reserve_v,
              reservation{st.owner.user_id, st.owner.device_id, upto,
                          st.next_qid})
    .then(
      [self, upto](atom::ok) {
        self->state.reserving = false;
        self->state.seq_reserved = std::max(self->state.seq_reserved, upto);
        // pump is declared below; a message keeps the order simple.
        self->send(self, atom::written_v);
      },
      [self](caf::error& err) {
        self->state.reserving = false;
        spdlog::error("queue {}/{}: cannot reserve sequence numbers: {}",
                      self->state.owner.user_id, self->state.owner.device_id,
                      self->system().render(err));
      });
}

// Takes in what the batcher's session wrote since the last look: as much
// demand returns, and the no-ack messages among them retire.
void absorb(self_ptr self) {
  auto& st = self->state;
  if (!st.progress)
    return;
  auto w = st.progress->written();
  if (w <= st.absorbed)
    return;
  auto n = w - st.absorbed;
  st.absorbed = w;
  st.demand += static_cast<uint32_t>(n);
  // Buffers of the queue, kept between calls (two allocations a frame).
  auto& seqs = st.written_seqs;
  auto& done = st.written_done;
  seqs.clear();
  for (; n > 0 && !st.handed.empty(); --n) {
    seqs.push_back(st.handed.front());
    st.handed.pop_front();
  }
  st.q.written(seqs, done);
  retire_delivered(self, done);
  done.clear();
  // A burst's worth is not kept (a queue lives as long as its device).
  if (done.capacity() > 8) {
    std::vector<queue_entry>{}.swap(done);
    std::vector<uint64_t>{}.swap(seqs);
  }
}

// The batcher is gone or replaced: what its session wrote counts, the rest
// is delivered again to the next one.
void drop_batcher(self_ptr self) {
  auto& st = self->state;
  absorb(self);
  st.batcher = nullptr;
  st.batcher_asked = false;
  st.demand = 0;
  st.progress = nullptr;
  st.handed.clear();
}

// Whether more could go out but the batcher's credit is spent (or the
// delivered window is full, which written messages may free).
bool stalled(self_ptr self) {
  auto& st = self->state;
  return (st.q.waiting() > 0 || st.q.redelivery_due())
         && (st.demand == 0 || st.q.inflight() >= st.params.queue.max_inflight);
}

// The session, if the queue may write its next message itself: the batcher
// holds nothing (everything handed to it is written), the queue runs on the
// session's thread (so the frame is written at once, before any frame the
// batcher sends after it: a send from elsewhere is posted, and the batcher
// could pass it) and no app-level compression is on (the batcher's part).
// On a loaded loop too: a room's burst gives each member one message, which
// the batcher would only have held to the round's end; what comes for the
// device while this frame is in flight waits behind it in the batcher, and
// leaves there in one frame.
std::shared_ptr<session_port> direct_port(self_ptr self) {
  auto& st = self->state;
  if (!st.batcher || !st.progress || !st.handed.empty()
      || st.progress->compress() != 0)
    return nullptr;
  auto port = st.progress->port();
  if (!port || !port->runs_here())
    return nullptr;
  return port;
}

// Writes one delivery as its own frame: what the batcher would have
// written at once to an idle socket.
void write_direct(self_ptr self, session_port& port, const queue_entry& e) {
  auto& st = self->state;
  auto c = port.info().codec;
  std::string bytes;
  protocol::encode_delivery(
    c, {e.msg.get(), e.seq, e.encoded ? &e.encoded->get(c) : nullptr}, bytes);
  st.metrics->frame_sent(1, bytes.size());
  st.metrics->sent(traffic_kind::message, 1, bytes.size());
  port.send(std::make_shared<const std::string>(std::move(bytes)),
            c == protocol::codec::msgpack, st.progress->claim_direct());
}

// Hands deliverable messages to the attached batcher, within its demand and
// the reserved sequence numbers; the first one goes straight to the session
// while the batcher holds nothing (direct_port).
void pump(self_ptr self) {
  auto& st = self->state;
  if (!attached(self))
    return;
  notify_gaps(self);
  if (!st.batcher) {
    // An idle connection has no batcher: it is asked for one (once) when
    // there is something to deliver.
    if (!st.batcher_asked && st.q.waiting() > 0) {
      st.batcher_asked = true;
      self->send(st.conn, atom::start_v);
    }
    return;
  }
  delivery_list out;
  auto now = wall_ms(self);
  for (;;) {
    absorb(self);
    while (st.demand > 0) {
      if (st.q.next_seq() > st.seq_reserved && !st.q.redelivery_due())
        break;
      auto e = st.q.next(now);
      if (!e)
        break;
      if (auto port = out.empty() ? direct_port(self) : nullptr)
        write_direct(self, *port, *e);
      else
        out.push_back(
          queued_delivery{e->seq, e->msg, e->prio, e->bytes, e->encoded});
      st.handed.push_back(e->seq);
      if (e->attempts > 1)
        st.metrics->queue_event(queue_counter::redelivered, 1);
      else
        st.metrics->queue_event(queue_counter::delivered, 1);
      --st.demand;
    }
    // Waiting for credit: be told when frames are written (unless some
    // were meanwhile: then take them in and go on).
    if (!st.progress || !stalled(self)
        || st.progress->wait(write_progress::queue, st.absorbed))
      break;
  }
  auto expired = st.q.take_expired();
  forget(self, expired, gap_cause::expired);
  if (st.q.next_seq() + st.params.seq_block / 2 > st.seq_reserved)
    reserve_seqs(self);
  if (!out.empty())
    self->send(st.batcher, atom::deliver_v, std::move(out));
}

// How long a written no-ack message may wait for its retirement when
// nothing else wakes its queue: until the queue could be released
// (release_after; 10 s if release is off). Its retirement only frees memory
// and lets the queue be released, and a member of a large room gets one
// message per publish, seconds apart: a sweep each second woke every such
// queue once more for every three deliveries.
int64_t written_sweep_ms(self_ptr self) {
  auto after = self->state.params.release_after.count();
  return after > 0 ? after : 10000;
}

// Whether a waiting message calls for a push: the server's own notices
// (tether.*) never do.
bool calls_for_push(self_ptr self, const queue_entry& e) {
  return e.msg && !protocol::is_server_type(e.msg->type)
         && actors::calls_for_push(self->state.params.push, e.prio,
                                   e.msg->optimization.notify);
}

// When the next push is due from the messages waiting now (nullopt: none).
std::optional<int64_t> next_push(self_ptr self) {
  auto& st = self->state;
  if (!st.params.pusher || st.push.available)
    return std::nullopt;
  std::optional<int64_t> at;
  for (auto* e : st.q.entries())
    if (calls_for_push(self, *e))
      if (auto t = push_due(st.params.push, st.push, e->enqueued_ms);
          t && (!at || *t < *at))
        at = t;
  return at;
}

// The device can take messages now (attached, in the foreground), or
// cannot since now (unless it could not already: it went to the
// background, then lost its connection).
void set_available(self_ptr self, bool available) {
  auto& st = self->state;
  if (st.push.available == available)
    return;
  st.push.available = available;
  if (!available)
    st.push.unavailable_since_ms = wall_ms(self);
  st.push_at_ms = next_push(self);
}

// Asks for the device's push if one is due: one push for every message
// waiting now (the pusher reads the addresses).
void maybe_push(self_ptr self, int64_t now) {
  auto& st = self->state;
  if (!st.push_at_ms || *st.push_at_ms > now)
    return;
  st.push_at_ms = next_push(self); // exact now: messages may have left
  if (!st.push_at_ms || *st.push_at_ms > now)
    return;
  push_request r;
  r.user_id = st.owner.user_id;
  r.device_id = st.owner.device_id;
  const queue_entry* shown = nullptr; // the newest calling one with a text
  for (auto* e : st.q.entries()) {
    if (!e->msg || protocol::is_server_type(e->msg->type))
      continue;
    ++r.count;
    r.top = std::max(r.top, static_cast<uint8_t>(e->prio));
    if (!calls_for_push(self, *e)
        || !push_due(st.params.push, st.push, e->enqueued_ms))
      continue;
    if (r.message_ids.size() < protocol::max_webhook_ids)
      r.message_ids.push_back(e->msg->id);
    if (e->msg->optimization.notification
        && (!shown || e->enqueued_ms >= shown->enqueued_ms))
      shown = e;
  }
  if (shown) {
    r.has_notification = true;
    r.title = shown->msg->optimization.notification->title;
    r.body = shown->msg->optimization.notification->body;
  }
  self->send(st.params.pusher, atom::push_v, std::move(r));
  st.push.last_push_ms = now;
  self->send(st.store, atom::push_v, atom::written_v, st.owner.user_id,
             st.owner.device_id, now);
  st.push_at_ms = next_push(self);
}

void schedule_tick(self_ptr self) {
  auto& st = self->state;
  auto now = wall_ms(self);
  std::optional<int64_t> at = st.q.next_deadline();
  auto consider = [&](int64_t t) {
    if (!at || t < *at)
      at = t;
  };
  if (st.push_at_ms)
    consider(*st.push_at_ms);
  if (attached(self)) {
    if (auto oldest = st.q.oldest_waiting_ms())
      consider(*oldest + st.params.queue.slow_after.count() + 1);
  } else if (st.detached_since_ms) {
    consider(*st.detached_since_ms + st.params.resume_window.count());
  }
  if (may_offer_release(self))
    consider(st.active_ms + st.params.release_after.count());
  // Messages handed to the batcher are taken in when the queue next runs;
  // a queue that is not woken again takes them in by this sweep.
  if (!st.handed.empty())
    consider(now + written_sweep_ms(self));
  if (!at || (st.tick_at_ms && *st.tick_at_ms <= *at && *st.tick_at_ms > now))
    return;
  st.tick_at_ms = *at;
  auto delay = milliseconds{std::max<int64_t>(0, *at - now)};
  self->delayed_send(self, delay, atom::tick_v, ++st.tick_generation);
}

// After a retirement: a queue that holds nothing now gets its release timer
// (nothing else for the timer changes on this path, and under load, with
// messages still held, the retirements of every frame skip it).
void arm_release(self_ptr self) {
  if (may_offer_release(self))
    schedule_tick(self);
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  st.tick_at_ms.reset();
  absorb(self);
  auto now = wall_ms(self);
  auto expired = st.q.expire(now);
  forget(self, expired, gap_cause::expired);
  maybe_push(self, now);
  auto timeouts = st.q.check_timeouts(now);
  if (!timeouts.dead.empty()) {
    message_keys keys{st.owner.user_id, st.owner.device_id, {}};
    for (auto& e : timeouts.dead) {
      if (e.durable)
        keys.qids.push_back(e.key);
      st.gaps.dropped(gap_cause::dead, e.msg ? e.msg->id : std::string{});
    }
    if (!keys.qids.empty())
      self->send(st.store, atom::bury_v, std::move(keys));
    st.metrics->queue_event(queue_counter::dead_lettered, timeouts.dead.size());
    spdlog::warn("queue {}/{}: {} messages dead-lettered after {} attempts",
                 st.owner.user_id, st.owner.device_id, timeouts.dead.size(),
                 st.params.queue.max_attempts);
    persist_gaps(self);
  }
  if (attached(self) && st.q.slow(now)) {
    spdlog::warn("queue {}/{}: consumer too slow ({} waiting); closing with "
                 "4002",
                 st.owner.user_id, st.owner.device_id, st.q.waiting());
    st.metrics->queue_event(queue_counter::slow_consumer, 1);
    self->send(st.conn, atom::close_v,
               protocol::to_int(protocol::close_code::slow_consumer));
  }
  if (!attached(self) && st.detached_since_ms
      && now - *st.detached_since_ms >= st.params.resume_window.count()
      && st.q.memory_only() == 0 && !st.handover_to) {
    if (st.gaps_pending)
      write_gaps(self);
    self->quit();
    return;
  }
  pump(self);
  if (may_offer_release(self)
      && now - st.active_ms >= st.params.release_after.count()) {
    // The home asks for the record once the user's connections route
    // around this queue (atom::release below), or keeps it running.
    st.release_offered = true;
    self->send(st.home, atom::release_v);
  }
  schedule_tick(self);
}

// Messages handed over per request: bounds the reply time (the request
// times out after node.request_timeout) and the message (peers refuse a
// BASP message over their cap: 16 MiB or more); at least one goes.
constexpr size_t handover_batch = 256;
constexpr size_t handover_batch_bytes = 4u << 20;

void retry_handover(self_ptr self) {
  auto& st = self->state;
  st.handover_retry = std::min(
    milliseconds{30000}, std::max(milliseconds{500}, st.handover_retry * 2));
  self->delayed_send(self, st.handover_retry, atom::handover_v);
}

// While the device is connected to another node (and not here), hands
// every message to that node's queue of the device, then quits once empty:
// the device's queue is there now. Messages leave this node's store only
// after the other node took them (durable ones on its disk); what it
// refused (its queue was full) or what a failed request carried is put
// back first, in order, and tried again after a backoff.
void hand_over(self_ptr self) {
  auto& st = self->state;
  if (!st.handover_to || attached(self) || st.in_handover)
    return;
  auto all = st.q.take_all();
  std::vector<queue_entry> batch;
  std::vector<queue_entry> rest;
  std::vector<std::string> forms;
  size_t bytes = 0;
  for (auto& e : all) {
    // Notices tell of this node's drops; they and their counters stay.
    auto full = batch.size() >= handover_batch
                || (!batch.empty() && bytes >= handover_batch_bytes);
    if (!e.msg || e.msg->type == "tether.gap" || full) {
      rest.push_back(std::move(e));
      continue;
    }
    forms.push_back(forwarded_form(*e.msg));
    bytes += forms.back().size();
    batch.push_back(std::move(e));
  }
  st.q.restore(std::move(rest));
  if (batch.empty()) {
    if (st.gaps_pending)
      write_gaps(self);
    self->quit();
    return;
  }
  st.in_handover = true;
  st.handing = std::move(batch);
  self
    ->request(st.handover_to, st.params.handover_timeout, atom::handover_v,
              st.owner, st.gen, std::move(forms))
    .then(
      [self](std::vector<std::string>& refused) {
        auto& st = self->state;
        st.in_handover = false;
        auto sent = std::move(st.handing);
        st.handing.clear();
        std::vector<queue_entry> done;
        std::vector<queue_entry> back;
        for (auto& e : sent)
          (std::find(refused.begin(), refused.end(), e.msg->id) != refused.end()
             ? back
             : done)
            .push_back(std::move(e));
        retire(self, done);
        st.metrics->queue_event(queue_counter::handed_over, done.size());
        spdlog::info("queue {}/{}: handed {} messages over to the node of "
                     "the device{}",
                     st.owner.user_id, st.owner.device_id, done.size(),
                     back.empty()
                       ? ""
                       : fmt::format(" ({} refused there, kept)", back.size()));
        if (back.empty()) {
          st.handover_retry = milliseconds{0};
          hand_over(self); // the rest, what came meanwhile, or quit
          return;
        }
        st.q.restore(std::move(back));
        retry_handover(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.in_handover = false;
        st.q.restore(std::move(st.handing));
        st.handing.clear();
        retry_handover(self);
        spdlog::warn("queue {}/{}: handover failed ({}); retrying in {} ms",
                     st.owner.user_id, st.owner.device_id,
                     reason_of(self->system(), err), st.handover_retry.count());
        pump(self);
      });
}

struct admission {
  caf::error error;
  uint32_t evicted = 0;
  /// Set (qid != 0) for a durable message: the row to store.
  stored_message row;
};

admission admit(self_ptr self, const protocol::message_ptr& msg,
                encoded_ptr encoded) {
  auto& st = self->state;
  active(self);
  // Messages written meanwhile leave room.
  absorb(self);
  auto now = wall_ms(self);
  auto& opt = msg->optimization;
  queue_entry e;
  e.msg = msg;
  e.encoded = std::move(encoded);
  e.prio = opt.prio;
  e.bytes = estimate_bytes(*msg);
  e.enqueued_ms = now;
  e.expires_ms
    = now
      + (opt.ttl_ms
           ? *opt.ttl_ms
           : st.params.queue.default_ttl[static_cast<size_t>(e.prio)].count());
  e.needs_ack = opt.requires_ack;
  e.durable = opt.requires_ack || opt.offline_capable;
  admission a;
  if (e.durable) {
    e.key = st.next_qid++;
    auto& row = a.row;
    row.user_id = st.owner.user_id;
    row.device_id = st.owner.device_id;
    row.qid = e.key;
    row.priority = static_cast<uint8_t>(e.prio);
    row.enqueued_ms = e.enqueued_ms;
    row.expires_ms = e.expires_ms;
    row.needs_ack = e.needs_ack;
    row.msg_id = msg->id;
    row.sender_device = msg->source.device_id;
    row.body = protocol::encode(protocol::codec::msgpack, *msg);
  }
  auto pushy = st.params.pusher && calls_for_push(self, e);
  auto result = st.q.offer(std::move(e));
  if (!result.accepted) {
    st.metrics->queue_event(queue_counter::overflow, 1);
    a.row = stored_message{};
    a.error = make_tether_error(protocol::errc::queue_overflow,
                                "the queue of device '" + st.owner.device_id
                                  + "' is full (" + std::to_string(st.q.size())
                                  + " messages, " + std::to_string(st.q.bytes())
                                  + " bytes) and nothing in it may be evicted");
    return a;
  }
  st.metrics->queue_event(queue_counter::enqueued, 1);
  if (pushy && !st.push.available)
    if (auto t = push_due(st.params.push, st.push, now);
        t && (!st.push_at_ms || *t < *st.push_at_ms))
      st.push_at_ms = t;
  a.evicted = static_cast<uint32_t>(result.evicted.size());
  forget(self, result.evicted, gap_cause::evicted);
  pump(self);
  schedule_tick(self);
  if (a.row.qid == 0)
    hand_over(self); // (a durable one goes once it is on disk)
  return a;
}

void detach(self_ptr self) {
  auto& st = self->state;
  drop_batcher(self);
  st.conn = nullptr;
  st.detached_since_ms = wall_ms(self);
  st.q.redeliver_all();
  set_available(self, false);
  schedule_tick(self);
}

/// Queues `msg`; the reply (evicted count) waits for the disk if durable.
caf::result<uint32_t> enqueue(self_ptr self, const protocol::message_ptr& msg,
                              encoded_ptr encoded) {
  // Delivered here already (a copy handed over, or its sender's resend):
  // taken, and not delivered twice.
  if (self->state.delivered.contains(msg->id)) {
    self->state.metrics->queue_event(queue_counter::duplicate, 1);
    return uint32_t{0};
  }
  auto a = admit(self, msg, std::move(encoded));
  if (a.error)
    return std::move(a.error);
  if (a.row.qid == 0)
    return a.evicted;
  auto rp = self->make_response_promise<uint32_t>();
  self
    ->request(self->state.store, caf::infinite, atom::append_v,
              std::move(a.row))
    .then(
      [self, rp, n = a.evicted](atom::ok) mutable {
        rp.deliver(n);
        hand_over(self);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

// Tells the device that messages it may have received were handled on
// another device of its user: one tether.withdrawn notice (durable) listing
// `ids`, merged with the ids of one still waiting for it.
void notify_withdrawn(self_ptr self, const std::vector<std::string>& ids) {
  auto& st = self->state;
  std::vector<std::string> all;
  auto prior = st.q.take_waiting("tether.withdrawn");
  for (auto& e : prior) {
    std::vector<std::string> listed;
    std::vector<protocol::field_error> errors;
    if (protocol::read_message_ids(e.msg->payload, protocol::max_withdrawn_ids,
                                   listed, errors))
      all.insert(all.end(), listed.begin(), listed.end());
  }
  retire(self, prior); // replaced by the merged one
  for (auto& id : ids)
    if (std::find(all.begin(), all.end(), id) == all.end())
      all.push_back(id);
  if (all.size() > protocol::max_withdrawn_ids)
    all.erase(all.begin(),
              all.end() - static_cast<ptrdiff_t>(protocol::max_withdrawn_ids));
  auto msg = std::make_shared<const protocol::mobile_message>(
    protocol::make_withdrawn(st.owner.user_id, st.owner.device_id, all,
                             st.next_qid, wall_ms(self)));
  auto a = admit(self, msg, nullptr);
  if (a.error) {
    spdlog::warn("queue {}/{}: no room for a tether.withdrawn notice of {} "
                 "ids: {}",
                 st.owner.user_id, st.owner.device_id, all.size(),
                 self->system().render(a.error));
    return;
  }
  self->request(st.store, caf::infinite, atom::append_v, std::move(a.row))
    .then([self](atom::ok) { hand_over(self); },
          [self](caf::error& err) {
            spdlog::error("queue {}/{}: cannot store a tether.withdrawn "
                          "notice: {}",
                          self->state.owner.user_id,
                          self->state.owner.device_id,
                          self->system().render(err));
          });
}

// Another device of the user handled `ids` (SPEC §5.9): the copies here go,
// from memory and the store, counted as withdrawn; the device is told of
// the ids it may have had (delivered, or gone from here: retired), not of
// those it never got, those their sender kept (withdrawable: false), nor
// those it sent itself (`sent`).
void withdraw(self_ptr self, const std::vector<std::string>& ids,
              const std::vector<std::string>& sent) {
  auto& st = self->state;
  absorb(self);
  // Handled: none comes here again from another copy of the queue.
  for (auto& id : ids)
    st.delivered.add(id);
  auto r = st.q.withdraw(ids);
  std::vector<std::string_view> untold(r.kept.begin(), r.kept.end());
  untold.insert(untold.end(), sent.begin(), sent.end());
  for (auto& e : r.unsent)
    untold.emplace_back(e.msg->id);
  auto n = r.unsent.size() + r.delivered.size();
  message_keys keys{st.owner.user_id, st.owner.device_id, {}};
  for (auto* list : {&r.unsent, &r.delivered})
    for (auto& e : *list)
      if (e.durable)
        keys.qids.push_back(e.key);
  if (!keys.qids.empty())
    self->send(st.store, atom::remove_v, std::move(keys));
  st.metrics->queue_event(queue_counter::withdrawn, n);
  std::vector<std::string> tell;
  for (auto& id : ids)
    if (std::find(untold.begin(), untold.end(), id) == untold.end())
      tell.push_back(id);
  if (!tell.empty())
    notify_withdrawn(self, tell);
  pump(self);
  schedule_tick(self);
}

} // namespace

queue_actor::behavior_type
queue(queue_actor::stateful_pointer<queue_state> self, device_identity owner,
      store_actor store, const queue_actor_params& params,
      std::shared_ptr<node_metrics> metrics, queue_home home,
      queue_restore restore) {
  auto& st = self->state;
  st.owner = std::move(owner);
  st.home = std::move(home);
  st.store = std::move(store);
  st.params = params;
  st.delivered = delivered_ids{params.delivered_window};
  st.metrics = std::move(metrics);
  st.clock = wall_clock{self->clock().now(), params.test_clock_skew};
  st.active_ms = wall_ms(self);
  // Until a connection attaches the device counts as away since now: a
  // restarted queue gives it push.delay to come back.
  st.push.unavailable_since_ms = st.active_ms;
  if (restore.record) {
    // A released queue again: it held nothing, so the record is all there
    // is (no store read; seqs continue where they were).
    auto& r = *restore.record;
    st.epoch = r.epoch;
    st.gen = r.gen;
    st.seq_reserved = r.seq_reserved;
    st.next_qid = r.next_qid;
    st.gaps.restore({r.gap_expired, r.gap_evicted, r.gap_dead});
    if (r.push_last_ms > 0)
      st.push.last_push_ms = r.push_last_ms;
    st.q = device_queue{params.queue, r.next_seq};
    if (restore.conn) {
      st.conn = std::move(restore.conn);
      self->monitor(st.conn);
      st.push.available = true;
    } else {
      st.detached_since_ms = wall_ms(self);
    }
    st.metrics->queue_event(queue_counter::restored, 1);
  } else {
    st.q = device_queue{params.queue};
    st.detached_since_ms = wall_ms(self);
  }
  // Nothing else is handled before the backlog is loaded.
  // A new device's first seqs are reserved with its record.
  if (!restore.record)
    self
      ->request(st.store, caf::infinite, atom::open_v, st.owner,
                params.seq_block)
      .await(
        [self](device_record& rec, std::vector<stored_message>& backlog,
               bool fresh) {
          auto& st = self->state;
          st.epoch = rec.epoch;
          st.gen = rec.gen;
          st.seq_reserved = rec.seq_reserved;
          st.gaps.restore({rec.gap_expired, rec.gap_evicted, rec.gap_dead});
          if (rec.push_last_ms > 0)
            st.push.last_push_ms = rec.push_last_ms;
          // Seqs up to the reservation may have been used before a restart;
          // a new device's have not.
          st.q = device_queue{st.params.queue,
                              fresh ? 1 : rec.seq_reserved + 1};
          // Evictions while reloading: the caps may have been lowered.
          std::vector<queue_entry> evicted;
          for (auto& m : backlog) {
            st.next_qid = std::max(st.next_qid, m.qid + 1);
            auto f = protocol::decode(protocol::codec::msgpack, m.body,
                                      protocol::limits{});
            if (!f.ok() || f.messages.size() != 1) {
              spdlog::error("queue {}/{}: stored message {} is unreadable; "
                            "dropped",
                            m.user_id, m.device_id, m.qid);
              continue;
            }
            queue_entry e;
            e.key = m.qid;
            e.msg = std::make_shared<const protocol::mobile_message>(
              std::move(f.messages.front().msg));
            e.prio = static_cast<protocol::priority>(
              std::min<uint8_t>(m.priority, 3));
            e.bytes = estimate_bytes(*e.msg);
            e.enqueued_ms = m.enqueued_ms;
            e.expires_ms = m.expires_ms;
            e.needs_ack = m.needs_ack;
            e.durable = true;
            auto r = st.q.offer(std::move(e));
            for (auto& x : r.evicted)
              evicted.push_back(std::move(x));
          }
          forget(self, evicted, gap_cause::evicted);
          if (!backlog.empty())
            spdlog::info("queue {}/{}: recovered {} stored messages",
                         st.owner.user_id, st.owner.device_id, backlog.size());
          // A known device's seqs continue past its reservation: the next
          // block is reserved at once (a new device starts inside its first).
          if (!fresh)
            reserve_seqs(self);
          st.push_at_ms = next_push(self);
          schedule_tick(self);
        },
        [self](caf::error& err) {
          spdlog::error("queue {}/{}: cannot load: {}",
                        self->state.owner.user_id, self->state.owner.device_id,
                        self->system().render(err));
          self->quit(err);
        });
  // Counters not written yet go to the store before the queue does.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    if (self->state.gaps_pending)
      write_gaps(self);
    self->quit(msg.reason);
  });
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.conn.address())
      detach(self);
  });
  return {
    [=](atom::enqueue, const protocol::message_ptr& msg) {
      return enqueue(self, msg, nullptr);
    },
    [=](atom::enqueue, const protocol::message_ptr& msg,
        const encoded_ptr& encoded) { return enqueue(self, msg, encoded); },
    [=](atom::enqueue, const protocol::message_ptr& msg,
        connection_actor& sender, const std::string& batch_id) {
      // Not durable: nothing to wait for but a refusal.
      if (auto a = admit(self, msg, nullptr); a.error)
        self->send(sender, atom::enqueue_v, msg->id, batch_id,
                   std::move(a.error));
    },
    [=](atom::publish, const protocol::message_ptr& msg,
        const encoded_ptr& encoded) {
      // Nobody waits for this one: if it does not fit, the device is told.
      if (admit(self, msg, encoded).error) {
        auto& st = self->state;
        st.gaps.dropped(gap_cause::evicted, msg->id);
        persist_gaps(self);
        pump(self);
      }
    },
    [=](atom::attach, connection_actor& c,
        const resume_request& resume) -> resume_info {
      auto& st = self->state;
      // The queue serves this connection from the loop of its socket.
      move_to_loop(self, resume.loop);
      resume_info info;
      info.token = st.epoch;
      if (!resume.token.empty() && resume.token == st.epoch) {
        auto acked = st.q.ack_upto(resume.last_seq);
        retire_delivered(self, acked);
        info.resumed = true;
      }
      if (st.conn)
        self->demonitor(st.conn.address());
      active(self);
      drop_batcher(self);
      st.q.redeliver_all();
      st.conn = std::move(c);
      st.detached_since_ms.reset();
      st.handover_to = nullptr; // the device is back here
      self->monitor(st.conn);
      set_available(self, true); // a new connection starts in the foreground
      info.backlog = st.q.size();
      // With a backlog the connection starts its batcher once its welcome
      // is out; otherwise when asked (pump).
      schedule_tick(self);
      return info;
    },
    [=](atom::start, batcher_actor& b, int32_t loop,
        write_progress_ptr& progress) {
      // Only the attached connection's batcher (not one of a connection
      // this device replaced).
      auto& st = self->state;
      if (!st.conn
          || self->current_sender()
               != caf::actor_cast<caf::strong_actor_ptr>(st.conn))
        return;
      // A restored queue was spawned elsewhere: it serves the connection
      // from the loop of its socket.
      move_to_loop(self, loop);
      drop_batcher(self);
      st.batcher = std::move(b);
      st.progress = std::move(progress);
      // Nothing counts before the batcher's demand says from where.
      st.absorbed = ~uint64_t{0};
    },
    [=](atom::release) -> caf::result<queue_record> {
      // The user's connections route around this queue now: anything they
      // sent it before is in the mailbox ahead of this request.
      auto& st = self->state;
      absorb(self);
      if (!holds_nothing(self)) {
        active(self);
        schedule_tick(self);
        return make_tether_error(protocol::errc::internal_error,
                                 "the queue took messages meanwhile");
      }
      queue_record r;
      r.epoch = st.epoch;
      r.gen = st.gen;
      r.next_seq = st.q.next_seq();
      r.seq_reserved = st.seq_reserved;
      r.next_qid = st.next_qid;
      auto c = st.gaps.persisted();
      r.gap_expired = c[0];
      r.gap_evicted = c[1];
      r.gap_dead = c[2];
      r.push_last_ms = st.push.last_push_ms.value_or(0);
      st.metrics->queue_event(queue_counter::released, 1);
      auto rp = self->make_response_promise<queue_record>();
      rp.deliver(std::move(r));
      self->quit();
      return rp;
    },
    [=](atom::demand, uint32_t n, uint64_t base) {
      auto& st = self->state;
      st.demand = n;
      st.absorbed = base;
      pump(self);
      schedule_tick(self);
    },
    [=](atom::status, bool background) {
      // Only the attached connection speaks for the device's app.
      auto& st = self->state;
      if (!st.conn || self->current_sender() != st.conn.address())
        return;
      set_available(self, !background);
      schedule_tick(self);
    },
    [=](atom::ack, uint64_t seq) {
      active(self);
      auto acked = self->state.q.ack_upto(seq);
      retire_delivered(self, acked);
      pump(self);
      arm_release(self);
    },
    [=](atom::ack, const std::string& id) {
      active(self);
      if (auto e = self->state.q.ack_id(id)) {
        std::vector<queue_entry> acked;
        acked.push_back(std::move(*e));
        retire_delivered(self, acked);
        pump(self);
        arm_release(self);
      }
    },
    [=](atom::withdraw, const std::vector<std::string>& ids,
        const std::vector<std::string>& sent) { withdraw(self, ids, sent); },
    [=](atom::written) {
      // The batcher's credit moved on (pump takes it in), or a
      // reservation completed.
      pump(self);
      arm_release(self);
    },
    [=](atom::handover, peer_link_actor& target, uint64_t) {
      auto& st = self->state;
      st.handover_to = std::move(target);
      st.handover_retry = milliseconds{0};
      hand_over(self);
    },
    [=](atom::handover) { hand_over(self); },
    [=](atom::generation, uint64_t sender) {
      auto& st = self->state;
      auto gen = generation_after_handover(st.gen, sender);
      if (gen == st.gen)
        return;
      st.gen = gen;
      self
        ->request(st.store, caf::infinite, atom::generation_v, st.owner.user_id,
                  st.owner.device_id, gen)
        .then([](atom::ok) {},
              [self](caf::error& err) {
                spdlog::error("queue {}/{}: cannot record its generation: {}",
                              self->state.owner.user_id,
                              self->state.owner.device_id,
                              self->system().render(err));
              });
    },
    [=](atom::gaps) { write_gaps(self); },
    [=](atom::tick, uint64_t generation) {
      // Generation 0 is an explicit sweep (the clock was moved).
      if (generation == 0 || generation == self->state.tick_generation)
        on_tick(self);
    },
    [=](atom::get, atom::queue) {
      auto& st = self->state;
      absorb(self);
      auto now = wall_ms(self);
      queue_summary s;
      s.user_id = st.owner.user_id;
      s.device_id = st.owner.device_id;
      s.waiting = static_cast<uint32_t>(st.q.waiting());
      s.unacked = static_cast<uint32_t>(st.q.inflight());
      s.bytes = st.q.bytes();
      if (auto oldest = st.q.oldest_waiting_ms())
        s.oldest_age_ms = std::max<int64_t>(0, now - *oldest);
      s.connected = attached(self);
      s.slow = s.connected && st.q.slow(now);
      return s;
    },
  };
}

} // namespace tether::actors

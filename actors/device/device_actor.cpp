#include "actors/device/device_actor.hpp"

#include <tuple>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "protocol/client.hpp"
#include "protocol/codec.hpp"
#include "protocol/compression.hpp"
#include "protocol/errc.hpp"
#include "protocol/presence.hpp"

namespace tether::actors {

namespace {

using self_ptr = device_actor::stateful_pointer<device_state>;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

using timer = device_script::timer;

// How long a deliberate close may take before the link is dropped.
constexpr milliseconds close_grace{2000};

/// Posts the link's events to the device; frames go through its inbox.
/// Holds the device weakly (the device owns the link, the link owns this).
class link_events_adapter final : public link_events {
public:
  link_events_adapter(caf::weak_actor_ptr device,
                      std::shared_ptr<frame_inbox> inbox)
    : device_(std::move(device)), inbox_(std::move(inbox)) {}

  void on_open(link_opened result) override {
    if (auto h = handle())
      caf::anon_send(h, atom::open_v, std::move(result));
  }

  void on_frame(std::string_view bytes, bool binary) override {
    bool post = false;
    {
      std::lock_guard<std::mutex> guard{inbox_->mtx};
      inbox_->bytes.append(bytes.data(), bytes.size());
      inbox_->frames.emplace_back(static_cast<uint32_t>(bytes.size()), binary);
      post = !inbox_->posted;
      inbox_->posted = true;
    }
    if (post)
      if (auto h = handle())
        caf::anon_send(h, atom::frame_v);
  }

  void on_closed(uint16_t code, uint32_t retry_after_ms) override {
    // After every frame: the device takes them before this.
    if (auto h = handle())
      caf::anon_send(h, atom::closed_v, code, retry_after_ms);
  }

private:
  device_actor handle() const {
    return caf::actor_cast<device_actor>(device_.lock());
  }

  caf::weak_actor_ptr device_;
  std::shared_ptr<frame_inbox> inbox_;
};

uint64_t steady_ns(steady::time_point t) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
      .count());
}

bool flag(const std::shared_ptr<std::atomic<bool>>& f, bool fallback) {
  return f ? f->load(std::memory_order_relaxed) : fallback;
}

void tick_after(self_ptr self, steady::duration d, timer k) {
  self->delayed_send(self, std::max(d, steady::duration::zero()), atom::tick_v,
                     static_cast<uint8_t>(k), uint64_t{0});
}

void write(self_ptr self, std::string bytes) {
  auto& st = self->state;
  if (st.link)
    st.link->send(std::make_shared<const std::string>(std::move(bytes)),
                  st.spec.codec == protocol::codec::msgpack);
}

void send_shared(self_ptr self, const shared_bytes& bytes) {
  auto& st = self->state;
  if (st.link)
    st.link->send(bytes, st.spec.codec == protocol::codec::msgpack);
}

// An ack is due: the timer sends it within ack_interval.
void want_ack(self_ptr self) {
  auto& st = self->state;
  st.need_ack = true;
  if (!st.ack_armed) {
    st.ack_armed = true;
    tick_after(self, st.params.ack_interval, timer::ack);
  }
}

void flush_ack(self_ptr self) {
  auto& st = self->state;
  if (!st.open || !st.need_ack || st.holding_acks
      || st.memory->last_seq <= st.acked_seq)
    return;
  st.acked_seq = st.memory->last_seq;
  st.need_ack = false;
  write(self, protocol::encode(st.spec.codec, protocol::make_delivery_ack(
                                                st.acked_seq, wall_ms(self))));
}

void request(self_ptr self, const std::string& type, std::string payload_json,
             std::string id = {}) {
  auto& st = self->state;
  if (id.empty())
    id = st.spec.key() + "~" + st.params.run + "~"
         + std::to_string(st.memory->next_order++);
  auto m = protocol::make_request(st.source, std::move(id), type,
                                  std::move(payload_json), true, wall_ms(self));
  write(self, protocol::encode(st.spec.codec, m));
}

void join_room(self_ptr self) {
  auto& st = self->state;
  if (st.spec.room.empty())
    return;
  st.join_id = st.spec.key() + "~" + st.params.run + "~join~"
               + std::to_string(st.memory->connects);
  bool presence = st.params.presence || st.params.status_every.count() > 0;
  request(self, "tether.join",
          "{\"room\":\"" + st.spec.room
            + "\",\"presence\":" + (presence ? "true" : "false") + "}",
          st.join_id);
  st.in_room = true;
}

void send_one(self_ptr self, steady::time_point intended) {
  auto& st = self->state;
  auto& mem = *st.memory;
  auto order = mem.next_order++;
  protocol::mobile_message m;
  m.id = make_message_id(st.spec.key(), st.params.run, order);
  m.timestamp = wall_ms(self);
  m.source = st.source;
  m.source.timestamp = m.timestamp;
  m.type = "chat";
  m.payload = protocol::make_probe_payload(steady_ns(intended),
                                           st.params.payload_bytes);
  m.optimization.prio = st.script->next_priority();
  m.optimization.requires_ack = st.params.requires_ack;
  device_ledger::sent_record rec;
  rec.id = m.id;
  rec.prio = m.optimization.prio;
  uint32_t recipients = 1;
  if (st.spec.room_members && st.script->next_to_room()) {
    protocol::broadcast_info b;
    b.scope = protocol::broadcast_scope::room;
    b.room = st.spec.room;
    m.destination.to = protocol::target::broadcast;
    m.destination.broadcast = std::move(b);
    rec.members = st.spec.room_members;
    recipients = static_cast<uint32_t>(st.spec.room_members->size() - 1);
  } else {
    std::string to = st.spec.device_id;
    if (!st.params.echo && !st.spec.peers.empty())
      to = st.spec.peers[st.next_peer++ % st.spec.peers.size()];
    m.destination.to = protocol::target::device;
    m.destination.device_id = to;
    rec.to = st.spec.user_id + "/" + to;
  }
  auto frame
    = std::make_shared<const std::string>(protocol::encode(st.spec.codec, m));
  // Counted before it leaves: a drain that compares acks with this count
  // (on another thread) must never see the ack before the send.
  st.counters->sent.fetch_add(1, std::memory_order_relaxed);
  send_shared(self, frame);
  if (st.params.requires_ack) {
    mem.ledger.sent.push_back(std::move(rec));
    mem.pending.emplace(order,
                        pending_send{m.id, std::move(frame), recipients});
  }
}

void on_send_tick(self_ptr self) {
  auto& st = self->state;
  if (!st.welcomed)
    return;
  auto sending = flag(st.params.go, true) && !flag(st.params.quiet, false);
  auto step = st.script->on_send(self->clock().now(), sending);
  for (auto intended : step.intended)
    send_one(self, intended);
  tick_after(self, step.next, timer::send);
}

void on_server_ack(self_ptr self, const protocol::message_ack& a) {
  auto& st = self->state;
  auto& c = *st.counters;
  if (!st.join_id.empty() && a.message_id == st.join_id) {
    if (a.status == protocol::ack_status::processed)
      c.joined.fetch_add(1, std::memory_order_relaxed);
    else
      c.errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& mem = *st.memory;
  std::string sender;
  uint64_t order = 0;
  if (!parse_message_id(a.message_id, sender, order) || sender != st.spec.key())
    return; // a request's ack
  auto p = mem.pending.find(order);
  if (p == mem.pending.end())
    return; // acked before (a resend's second ack)
  if (a.status == protocol::ack_status::failed) {
    mem.ledger.failed.insert(a.message_id);
    if (a.error)
      mem.last_error = a.error->code;
    c.failed.fetch_add(1, std::memory_order_relaxed);
  } else {
    mem.ledger.accepted.insert(a.message_id);
    c.accepted.fetch_add(1, std::memory_order_relaxed);
    c.expected.fetch_add(p->second.recipients, std::memory_order_relaxed);
    if (a.recipients && *a.recipients != p->second.recipients)
      c.recipient_mismatch.fetch_add(1, std::memory_order_relaxed);
  }
  mem.pending.erase(p);
}

void start_scenario(self_ptr self) {
  auto& st = self->state;
  // Unacked messages of the last incarnation go again, oldest first, before
  // anything new: per-sender order holds across reconnects.
  for (auto& [order, ps] : st.memory->pending) {
    send_shared(self, ps.frame);
    st.counters->resent.fetch_add(1, std::memory_order_relaxed);
  }
  join_room(self);
  // The push scenario: the webhook knows the device by its key (each new
  // connection starts in the foreground).
  if (st.params.push) {
    st.holding_acks = false;
    request(self, "tether.push.register",
            R"({"provider":"webhook","token":")" + st.spec.key() + "\"}");
  }
  for (auto& a : st.script->start(self->clock().now()))
    tick_after(self, a.after, a.which);
}

void on_control(self_ptr self, const protocol::mobile_message& m) {
  auto& st = self->state;
  auto& c = *st.counters;
  if (m.type == "tether.welcome") {
    protocol::welcome_info w;
    if (!protocol::read_welcome(m.payload, w)) {
      c.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (st.welcomed)
      return;
    st.welcomed = true;
    st.welcomed_at = self->clock().now();
    st.memory->welcomed_at = st.welcomed_at;
    st.memory->online.store(true, std::memory_order_relaxed);
    st.memory->ever_online.store(true, std::memory_order_relaxed);
    st.memory->welcomed_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch())
        .count(),
      std::memory_order_relaxed);
    if (!w.resumed && !st.memory->resume_token.empty()
        && st.memory->resume_token != w.resume_token) {
      // Another queue incarnation (the queue moved to another node, or
      // started again): its seqs start afresh (SPEC 5.6). Acking the old
      // ones' highest here would retire what this link has not shown yet.
      st.memory->last_seq = 0;
    }
    st.acked_seq = std::min(st.acked_seq, st.memory->last_seq);
    st.memory->resume_token = w.resume_token;
    c.welcomes.fetch_add(1, std::memory_order_relaxed);
    if (w.resumed) {
      ++st.memory->resumes;
      c.resumed.fetch_add(1, std::memory_order_relaxed);
    }
    start_scenario(self);
  } else if (m.type == "tether.gap") {
    protocol::gap_info g;
    if (protocol::read_gap(m.payload, g)) {
      c.gaps.fetch_add(g.count, std::memory_order_relaxed);
      for (auto& id : g.message_ids)
        st.memory->ledger.gapped.insert(id);
      if (g.count > g.message_ids.size())
        st.memory->ledger.gapped_unnamed += g.count - g.message_ids.size();
    }
  } else if (m.type.rfind("tether.presence.", 0) == 0) {
    c.presence_diffs.fetch_add(1, std::memory_order_relaxed);
  }
}

// A message for this device (not a control message), as either reader
// found it; `now_ns` is when its frame was taken.
void on_delivery(self_ptr self, std::string_view id, const uint64_t* seq,
                 bool requires_ack, protocol::priority prio,
                 const uint64_t* probe, uint64_t now_ns) {
  auto& st = self->state;
  auto& c = *st.counters;
  auto& mem = *st.memory;
  if (seq) {
    mem.last_seq = std::max(mem.last_seq, *seq);
    if (requires_ack)
      want_ack(self);
  }
  // The push scenario: what calls for a push (push.min_priority high).
  if (st.params.push && seq && prio >= protocol::priority::high)
    mem.push.receipts.push_back({static_cast<int64_t>(now_ns), *seq});
  if (!mem.ledger.receive(id, prio)) {
    c.duplicates.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  c.received.fetch_add(1, std::memory_order_relaxed);
  if (probe) {
    auto t = *probe;
    // Sent before this link was established: it waited for the device.
    auto& h = t < steady_ns(st.welcomed_at) ? c.offline_wait : c.latency;
    h.record(now_ns > t ? (now_ns - t) / 1000 : 0);
  }
}

void on_message(self_ptr self, const protocol::mobile_message& m,
                uint64_t now_ns) {
  if (m.source.user_id == protocol::server_user_id
      && m.type.rfind(protocol::control_type_prefix, 0) == 0) {
    auto& st = self->state;
    if (m.seq) {
      st.memory->last_seq = std::max(st.memory->last_seq, *m.seq);
      if (m.optimization.requires_ack)
        want_ack(self);
    }
    on_control(self, m);
    return;
  }
  uint64_t t = 0;
  auto probe = protocol::read_probe_time(m.payload, t);
  on_delivery(self, m.id, m.seq ? &*m.seq : nullptr,
              m.optimization.requires_ack, m.optimization.prio,
              probe ? &t : nullptr, now_ns);
}

void on_frame(self_ptr self, std::string_view bytes, uint64_t now_ns) {
  auto& st = self->state;
  auto& c = *st.counters;
  static const protocol::limits lim = [] {
    protocol::limits l;
    l.max_batch_messages = 100000;
    l.max_payload_bytes = 64 * 1024 * 1024;
    return l;
  }();
  std::string inflated;
  std::string_view view = bytes;
  if (protocol::is_compressed_frame(view)) {
    if (protocol::open_compressed_frame(view, 64 * 1024 * 1024, inflated)
        != protocol::inflate_error::none) {
      c.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    view = inflated;
  }
  // Deliveries, the bulk of what arrives: read in one pass, no DOM.
  if (st.spec.codec == protocol::codec::json && st.scan.scan(view)) {
    for (size_t i = 0; i < st.scan.size(); ++i) {
      auto& d = st.scan[i];
      on_delivery(self, d.id, d.has_seq ? &d.seq : nullptr, d.requires_ack,
                  d.prio, d.has_probe ? &d.probe : nullptr, now_ns);
    }
    return;
  }
  auto f = protocol::decode(st.spec.codec, view, lim);
  if (!f.ok()) {
    c.errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  switch (f.kind) {
    case protocol::frame_kind::message:
    case protocol::frame_kind::batch:
      for (auto& d : f.messages) {
        if (d.ok())
          on_message(self, d.msg, now_ns);
        else
          c.errors.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    case protocol::frame_kind::ack:
      on_server_ack(self, f.ack);
      return;
    case protocol::frame_kind::heartbeat:
      return;
  }
}

// Takes every frame of the inbox and reads them in order.
void take_frames(self_ptr self) {
  auto& st = self->state;
  {
    std::lock_guard<std::mutex> guard{st.inbox->mtx};
    std::swap(st.inbox->bytes, st.taken_bytes);
    std::swap(st.inbox->frames, st.taken_frames);
    st.inbox->posted = false;
  }
  if (st.taken_frames.empty())
    return;
  st.counters->frames.fetch_add(st.taken_frames.size(),
                                std::memory_order_relaxed);
  auto now = steady_ns(self->clock().now());
  size_t at = 0;
  for (auto& [size, binary] : st.taken_frames) {
    on_frame(self, std::string_view{st.taken_bytes}.substr(at, size), now);
    at += size;
  }
  st.taken_frames.clear();
  st.taken_bytes.clear();
  // A burst's buffer is not kept for good.
  if (st.taken_bytes.capacity() > 1024 * 1024)
    st.taken_bytes.shrink_to_fit();
}

void on_tick(self_ptr self, uint8_t which) {
  auto& st = self->state;
  auto& p = st.params;
  auto& script = *st.script;
  switch (static_cast<timer>(which)) {
    case timer::send:
      on_send_tick(self);
      return;
    case timer::ack:
      st.ack_armed = false;
      flush_ack(self);
      return;
    case timer::drop:
      if (flag(p.quiet, false))
        return; // the network calms down for the drain
      st.counters->drops.fetch_add(1, std::memory_order_relaxed);
      if (st.link)
        st.link->abort();
      return;
    case timer::background:
      if (flag(p.quiet, false))
        return;
      if (p.push) {
        // The app leaves the screen but keeps its link (Android, or iOS's
        // first seconds): it says so and stops acking until it is back.
        auto now = static_cast<int64_t>(steady_ns(self->clock().now()));
        st.memory->push.episodes.push_back({now, 0, st.acked_seq});
        st.holding_acks = true;
        request(self, "tether.lifecycle", R"({"state":"background"})");
        tick_after(self, p.background_for, timer::foreground);
        return;
      }
      // The OS suspends the app: it closes its link and comes back later.
      flush_ack(self);
      st.backgrounding = true;
      if (st.link)
        st.link->close(1001);
      tick_after(self, close_grace, timer::give_up);
      return;
    case timer::status: {
      auto step = script.on_status(st.in_room);
      switch (step.action) {
        case device_script::status_action::leave:
          request(self, "tether.leave", "{\"room\":\"" + st.spec.room + "\"}");
          st.in_room = false;
          st.counters->room_changes.fetch_add(1, std::memory_order_relaxed);
          break;
        case device_script::status_action::join:
          join_room(self);
          st.counters->room_changes.fetch_add(1, std::memory_order_relaxed);
          break;
        case device_script::status_action::set:
          request(self, "tether.presence.set",
                  std::string{"{\"status\":\""}
                    + std::string{protocol::to_string(step.status)} + "\"}");
          break;
      }
      tick_after(self, step.next, timer::status);
      return;
    }
    case timer::slow:
      if (flag(p.quiet, false))
        return; // reads at full speed for the drain
      if (st.link)
        st.link->pause(true);
      tick_after(self, script.slow_for(), timer::unslow);
      return;
    case timer::unslow:
      if (st.link)
        st.link->pause(false);
      tick_after(self, script.next_slow(), timer::slow);
      return;
    case timer::foreground: {
      if (!st.holding_acks)
        return;
      auto& episodes = st.memory->push.episodes;
      if (!episodes.empty() && episodes.back().foreground_ns == 0)
        episodes.back().foreground_ns
          = static_cast<int64_t>(steady_ns(self->clock().now()));
      st.holding_acks = false;
      request(self, "tether.lifecycle", R"({"state":"foreground"})");
      flush_ack(self);
      if (!flag(p.quiet, false))
        tick_after(self, script.next_background(), timer::background);
      return;
    }
    case timer::welcome:
      if (!st.welcomed && st.link) {
        st.counters->errors.fetch_add(1, std::memory_order_relaxed);
        st.link->abort();
      }
      return;
    case timer::give_up:
      // The peer did not answer the close in time.
      if (st.link)
        st.link->abort();
      return;
  }
}

} // namespace

device_state::~device_state() {
  if (memory)
    memory->online.store(false, std::memory_order_relaxed);
  if (link)
    link->abort();
  if (open && counters)
    counters->connected.fetch_sub(1, std::memory_order_relaxed);
}

device_actor::behavior_type
device(device_actor::stateful_pointer<device_state> self, device_spec spec,
       device_params params, std::shared_ptr<device_memory> memory,
       std::shared_ptr<fleet_counters> counters, const link_factory& connect) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.params = std::move(params);
  st.memory = std::move(memory);
  st.counters = std::move(counters);
  st.clock = wall_clock{self->clock().now()};
  st.source.user_id = st.spec.user_id;
  st.source.device_id = st.spec.device_id;
  st.source.type = st.spec.type;
  st.script.emplace(
    st.params, !st.spec.room.empty(), st.spec.slow,
    static_cast<uint32_t>(std::hash<std::string>{}(st.spec.key())
                          ^ (st.memory->connects * 7919u)));
  ++st.memory->connects;
  auto opts = st.params.link;
  if (st.spec.port != 0) {
    opts.host = st.spec.host;
    opts.port = st.spec.port;
  }
  if (auto k = st.memory->node_turn % (st.spec.fallbacks.size() + 1); k > 0)
    std::tie(opts.host, opts.port) = st.spec.fallbacks[k - 1];
  if (!st.spec.source.empty())
    opts.source = st.spec.source;
  opts.token = st.spec.token;
  opts.subprotocols = {std::string{protocol::subprotocol(st.spec.codec)}};
  opts.deflate = st.spec.deflate;
  opts.target = protocol::session_target(opts.target, st.memory->resume_token,
                                         st.memory->last_seq);
  st.inbox = std::make_shared<frame_inbox>();
  st.link = connect(opts,
                    std::make_shared<link_events_adapter>(
                      caf::actor_cast<caf::weak_actor_ptr>(self), st.inbox));
  return {
    [=](atom::open, link_opened& r) {
      auto& st = self->state;
      if (!r.ok) {
        st.memory->last_close = 1006;
        if (r.status == 0)
          ++st.memory->node_turn; // nobody listens there: the next node
        if (r.status == 503 && r.retry_after_ms > 0)
          st.counters->paced.fetch_add(1, std::memory_order_relaxed);
        self->quit(make_link_error(link_exit::refused, 1006, r.retry_after_ms,
                                   r.status));
        return;
      }
      if (st.stopping) {
        st.link->close(1000);
        return;
      }
      st.open = true;
      st.counters->connected.fetch_add(1, std::memory_order_relaxed);
      tick_after(self, st.params.link.timeout, timer::welcome);
    },
    [=](atom::frame) { take_frames(self); },
    [=](atom::closed, uint16_t code, uint32_t retry_after_ms) {
      take_frames(self);
      auto& st = self->state;
      if (st.open) {
        st.open = false;
        st.counters->connected.fetch_sub(1, std::memory_order_relaxed);
      }
      st.link.reset();
      st.memory->last_close = code;
      if (st.stopping) {
        self->quit();
      } else if (st.backgrounding) {
        self->quit(make_link_error(link_exit::background, code,
                                   st.params.background_for.count(), 101));
      } else {
        // A drain's time to come back holds like a refusal's Retry-After;
        // a cluster's device comes back to its next node.
        if (retry_after_ms > 0)
          st.counters->drained.fetch_add(1, std::memory_order_relaxed);
        if (code == protocol::to_int(protocol::close_code::service_restart))
          ++st.memory->node_turn;
        self->quit(
          make_link_error(link_exit::closed, code, retry_after_ms, 101));
      }
    },
    [=](atom::drop) {
      auto& st = self->state;
      st.counters->drops.fetch_add(1, std::memory_order_relaxed);
      if (st.link)
        st.link->abort();
    },
    [=](atom::stop) {
      auto& st = self->state;
      if (st.stopping)
        return;
      st.stopping = true;
      if (!st.link) {
        self->quit();
        return;
      }
      flush_ack(self);
      if (st.open)
        st.link->close(1000);
      else
        st.link->abort(); // still connecting
      tick_after(self, close_grace, timer::give_up);
    },
    [=](atom::tick, uint8_t which, uint64_t) { on_tick(self, which); },
    // Handlers run one at a time: a send that began before this is done.
    [=](atom::flush) { return atom::ok_v; },
  };
}

} // namespace tether::actors

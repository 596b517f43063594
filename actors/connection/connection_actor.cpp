#include "actors/connection/connection_actor.hpp"
#include "actors/connection/connection_detail.hpp"
#include "actors/directory/dedup_window.hpp"
#include "actors/directory/routing.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/relay.hpp"
#include "actors/fan_in.hpp"
#include "actors/loop_affinity.hpp"
#include "protocol/compression.hpp"
#include "protocol/control.hpp"
#include "protocol/presence.hpp"

namespace tether::actors {

namespace connection_detail {

using protocol::errc;

/// Forwards session events as messages: frames and the close to the
/// connection; write completions advance the batcher's write_progress, and
/// reach the batcher as a message only when it (or its queue) waits for one
/// (both set once, when the connection spawns the batcher; the session
/// calls from its loop's thread).
class events_adapter final : public session_events {
public:
  explicit events_adapter(connection_actor conn) : conn_(std::move(conn)) {}

  void set_batcher(batcher_actor batcher, write_progress_ptr progress) {
    batcher_ = std::move(batcher);
    progress_ = std::move(progress);
    has_batcher_.store(true, std::memory_order_release);
  }

  void on_frame(std::string bytes, bool binary) override {
    caf::anon_send(conn_, atom::frame_v, std::move(bytes), binary);
  }

  void on_written(uint64_t tag) override {
    // Tagged frames are the batcher's: it runs before any is written.
    if (!has_batcher_.load(std::memory_order_acquire))
      return;
    if (tag == round_end_tag || progress_->advance(tag))
      caf::anon_send(batcher_, atom::written_v, tag);
  }

  void on_closed(uint16_t code) override {
    caf::anon_send(conn_, atom::closed_v, code);
  }

private:
  connection_actor conn_;
  batcher_actor batcher_;
  write_progress_ptr progress_;
  std::atomic<bool> has_batcher_{false};
};

void pull_from(self_ptr self, const queue_actor& q);

// Spawns the batcher (on this loop), lets it pull from the queue, and ends it
// with the connection (a batcher that fails ends the connection: linked).
void start_batcher(self_ptr self) {
  auto& st = self->state;
  auto port = st.port.lock();
  if (st.batcher || st.closing || !st.queue || !port || !st.events)
    return;
  // App-level compression as the device chose it, else as its handshake
  // asked.
  st.progress = std::make_shared<write_progress>(
    port, st.compress != 0 ? st.compress : port->info().compress);
  auto b = self->spawn(batcher, port, st.params->batcher, st.metrics,
                       st.progress);
  self->link_to(b);
  self->attach_functor([b](const caf::error&) {
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  });
  st.batcher = b;
  static_cast<events_adapter&>(*st.events).set_batcher(b, st.progress);
  pull_from(self, st.queue);
}

// The batcher pulls from `q` (the device's queue, or its next incarnation
// after a release: the batcher's window starts afresh there).
void pull_from(self_ptr self, const queue_actor& q) {
  auto& st = self->state;
  // The queue learns its batcher before the batcher's demand reaches it
  // (a mailbox has a message once it is sent).
  self->send(q, atom::start_v, st.batcher, current_loop(self), st.progress);
  self->send(st.batcher, atom::start_v, caf::actor_cast<delivery_source>(q));
}

// A queue has messages for this device. A queue other than the one joined
// is its next incarnation (the joined one was released while idle).
void on_queue_ready(self_ptr self) {
  auto& st = self->state;
  auto q = caf::actor_cast<queue_actor>(self->current_sender());
  if (q && q.address() != st.queue.address()) {
    st.queue = q;
    // A queue started since the app went to the background learns it.
    if (st.background)
      self->send(q, atom::status_v, true);
    if (st.batcher) {
      pull_from(self, q);
      return;
    }
  }
  start_batcher(self);
}

void write(self_ptr self, std::string bytes, traffic_kind kind,
           size_t messages) {
  auto& st = self->state;
  if (auto port = st.port.lock()) {
    st.metrics->sent(kind, messages, bytes.size());
    port->send(std::make_shared<const std::string>(std::move(bytes)),
               st.me.codec == protocol::codec::msgpack);
  }
}

void send_ack(self_ptr self, const protocol::message_ack& ack) {
  write(self, protocol::encode(self->state.me.codec, ack), traffic_kind::ack,
        1);
}

void close_connection(self_ptr self, protocol::close_code code,
                      std::string reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  if (auto port = st.port.lock()) {
    port->close(protocol::to_int(code), std::move(reason));
    // If the session never confirms, quit anyway.
    self->delayed_send(self, st.params->close_grace, atom::closed_v,
                       uint16_t{1006});
  } else {
    self->quit();
  }
}

void close_connection(self_ptr self, protocol::close_code code) {
  close_connection(self, code, std::string{protocol::reason(code)});
}

/// Counts a rejected frame or message; closes with 1008 past the budget.
void violation(self_ptr self) {
  auto& st = self->state;
  if (st.guard.violation(self->clock().now())) {
    spdlog::warn("closing user={} device={}: more than {} rejected frames "
                 "within {}s",
                 st.me.user_id, st.me.device_id,
                 st.guard.params().max_violations,
                 st.guard.params().violation_window.count());
    close_connection(self, protocol::close_code::policy_violation);
  }
}

void refuse(self_ptr self, std::string message_id,
            const std::optional<std::string>& batch_id, errc code,
            std::string reason,
            const std::vector<protocol::field_error>& errors) {
  self->state.metrics->error(code);
  auto ack = protocol::make_failed_ack(
    std::move(message_id), code, std::move(reason), errors, wall_ms(self));
  ack.batch_id = batch_id;
  send_ack(self, ack);
  violation(self);
}

// The sender's identity comes from its token; `source` must agree with it.
std::vector<protocol::field_error>
source_mismatches(const device_identity& me,
                  const protocol::mobile_message& m) {
  std::vector<protocol::field_error> out;
  if (m.source.user_id != me.user_id)
    out.push_back(
      {"source.userId", "must be the authenticated user '" + me.user_id + "'"});
  if (m.source.device_id != me.device_id)
    out.push_back({"source.deviceId",
                   "must be the authenticated device '" + me.device_id + "'"});
  if (m.source.type != me.type)
    out.push_back({"source.deviceType",
                   "must be the authenticated device type '"
                     + std::string{protocol::to_string(me.type)} + "'"});
  return out;
}

void ack_processed(self_ptr self, const std::string& id, bool wants_ack,
                   const std::optional<std::string>& batch_id) {
  if (!wants_ack)
    return;
  auto ack = protocol::make_ack(id, protocol::ack_status::processed,
                                wall_ms(self));
  ack.batch_id = batch_id;
  send_ack(self, ack);
}

// `received` by `recipients` queues, if the sender asked for an ack.
void ack_received(self_ptr self, const protocol::mobile_message& m,
                  const std::optional<std::string>& batch_id,
                  uint32_t recipients) {
  if (!m.optimization.requires_ack)
    return;
  auto ack = protocol::make_ack(m.id, protocol::ack_status::received,
                                wall_ms(self));
  ack.batch_id = batch_id;
  ack.recipients = recipients;
  send_ack(self, ack);
}

void fail_request(self_ptr self, const std::string& id,
                  const std::optional<std::string>& batch_id,
                  const caf::error& err) {
  auto code = to_errc(err);
  self->state.metrics->error(code);
  auto ack = protocol::make_failed_ack(id, code, reason_of(self->system(), err),
                                       std::vector<protocol::field_error>{},
                                       wall_ms(self));
  ack.batch_id = batch_id;
  send_ack(self, ack);
}

using lane = route_gate::lane;

// A message id the device sent before (within the window) is acked again
// with its first recipient count and not routed twice.
bool duplicate(self_ptr self, const protocol::mobile_message& m,
               const std::optional<std::string>& batch_id) {
  auto& st = self->state;
  std::optional<uint32_t> n;
  {
    std::lock_guard<std::mutex> guard{st.dedup->mx};
    n = st.dedup->window.seen(m.id, steady_ms(self));
  }
  if (!n)
    return false;
  st.metrics->queue_event(queue_counter::duplicate, 1);
  ack_received(self, m, batch_id, *n);
  self->state.gate.done();
  return true;
}

// The first acceptance of `id`, by `recipients` queues (SPEC §5.4).
void remember(self_ptr self, const std::string& id, uint32_t recipients) {
  auto& st = self->state;
  std::lock_guard<std::mutex> guard{st.dedup->mx};
  st.dedup->window.remember(id, recipients, steady_ms(self));
}

// A routed message's outcome: remembered, acked, and the gate moves on.
void routed(self_ptr self, const protocol::mobile_message& m,
            const std::optional<std::string>& batch_id,
            caf::expected<uint32_t> result) {
  if (!result) {
    fail_request(self, m.id, batch_id, result.error());
  } else {
    remember(self, m.id, *result);
    ack_received(self, m, batch_id, *result);
  }
  self->state.gate.done();
}

// A queue refused a message sent to it one-way: the sender gets the failed
// ack, and a resend of the id is taken again (the other recipients keep
// their copy, as when a request fails for some of them).
void refused(self_ptr self, const std::string& id, const std::string& batch_id,
             const caf::error& err) {
  auto& st = self->state;
  {
    std::lock_guard<std::mutex> guard{st.dedup->mx};
    st.dedup->window.forget(id);
  }
  fail_request(self, id,
               batch_id.empty() ? std::nullopt
                                : std::optional<std::string>{batch_id},
               err);
}

namespace {

auto room_entry(self_ptr self, const std::string& name) {
  auto& rooms = self->state.rooms;
  return std::find_if(rooms.begin(), rooms.end(),
                      [&](const auto& e) { return e.first == name; });
}

} // namespace

room_actor known_room(self_ptr self, const std::string& name) {
  auto i = room_entry(self, name);
  return i != self->state.rooms.end() ? i->second : room_actor{};
}

void set_room(self_ptr self, const std::string& name, room_actor r) {
  auto& rooms = self->state.rooms;
  auto i = room_entry(self, name);
  if (!r) {
    if (i != rooms.end())
      rooms.erase(i);
  } else if (i != rooms.end()) {
    i->second = std::move(r);
  } else {
    rooms.emplace_back(name, std::move(r));
  }
}

namespace {

void publish_to_room(self_ptr self, const protocol::message_ptr& msg,
                     const std::optional<std::string>& batch_id,
                     bool retry = true);

// Asks the shard for the device's room of that name (one it joined on an
// earlier connection, or the user's own), then publishes to it.
void find_room(self_ptr self, const protocol::message_ptr& msg,
               const std::optional<std::string>& batch_id, bool retry) {
  auto& st = self->state;
  auto name = *msg->destination.broadcast->room;
  self
    ->request(st.directory, st.params->request_timeout, atom::get_v,
              atom::room_v, st.me, name)
    .then(
      [self, msg, batch_id, retry, name](room_actor& r) {
        if (!r) {
          routed(self, *msg, batch_id, not_a_member(name));
          return;
        }
        set_room(self, name, std::move(r));
        publish_to_room(self, msg, batch_id, retry);
      },
      [self, msg, batch_id](caf::error& err) {
        routed(self, *msg, batch_id, std::move(err));
      });
}

// A room publish goes straight to the room, which checks membership and
// rules and answers with its recipients; a room that ended (it quits when
// its last member leaves) is looked up once more.
void publish_to_room(self_ptr self, const protocol::message_ptr& msg,
                     const std::optional<std::string>& batch_id, bool retry) {
  auto& st = self->state;
  auto& name = *msg->destination.broadcast->room;
  auto r = known_room(self, name);
  if (!r) {
    find_room(self, msg, batch_id, retry);
    return;
  }
  // No timeout: the room answers at once, or once every member's queue
  // answered (durable publishes); a dead room bounces the request.
  self->request(r, caf::infinite, atom::publish_v, st.me, msg)
    .then([self, msg,
           batch_id](uint32_t n) { routed(self, *msg, batch_id, n); },
          [self, msg, batch_id, retry, r](caf::error& err) {
            if (retry && err == caf::sec::request_receiver_down) {
              if (known_room(self, *msg->destination.broadcast->room) == r)
                set_room(self, *msg->destination.broadcast->room, {});
              find_room(self, msg, batch_id, false);
              return;
            }
            routed(self, *msg, batch_id, std::move(err));
          });
}

} // namespace

// Routes through the user's directory shard (devices whose queue does not
// run).
void route_via_directory(self_ptr self, const protocol::message_ptr& msg,
                         const std::optional<std::string>& batch_id) {
  if (duplicate(self, *msg, batch_id))
    return;
  auto& st = self->state;
  // No timeout: the shard always answers (every queue and room answers
  // it), and if it dies the orchestrator closes this connection.
  self->request(st.directory, caf::infinite, atom::route_v, st.me, msg)
    .then([self, msg,
           batch_id](uint32_t n) { routed(self, *msg, batch_id, n); },
          [self, msg, batch_id](caf::error& err) {
            routed(self, *msg, batch_id, std::move(err));
          });
}

void handle_message(self_ptr self, protocol::mobile_message&& m,
                    const std::optional<std::string>& batch_id) {
  auto& st = self->state;
  if (!st.guard.admit(self->clock().now())) {
    refuse(self, m.id, batch_id, errc::rate_limited,
           "more than " + std::to_string(st.guard.params().rate_per_second)
             + " messages per second; slow down and resend");
    return;
  }
  if (auto errors = source_mismatches(st.me, m); !errors.empty()) {
    refuse(self, m.id, batch_id, errc::source_mismatch,
           "source does not match the authenticated device", errors);
    return;
  }
  // Application activity keeps the device from showing as away.
  if (auto now = self->clock().now();
      now - st.activity_reported >= st.params->activity_interval) {
    st.activity_reported = now;
    presence_update u;
    u.user_id = st.me.user_id;
    u.device_id = st.me.device_id;
    u.activity_only = true;
    self->send(st.directory, atom::status_v, std::move(u));
  }
  if (m.destination.to == protocol::target::cloud) {
    handle_cloud(self, m, batch_id);
    return;
  }
  // Sequence numbers are the server's: whatever the device wrote is dropped.
  m.seq.reset();
  auto to_room
    = m.destination.to == protocol::target::broadcast && m.destination.broadcast
      && m.destination.broadcast->scope == protocol::broadcast_scope::room;
  auto msg = std::make_shared<const protocol::mobile_message>(std::move(m));
  if (to_room) {
    // Membership, rules and members are the room's.
    self->state.gate.run(lane::room, [self, msg, batch_id] {
      if (!duplicate(self, *msg, batch_id))
        publish_to_room(self, msg, batch_id);
    });
    return;
  }
  // Recipients from the route table (offline devices receive too: their
  // queues hold the message).
  auto plan = plan_route(st.routes->devices, st.me.user_id, st.me.device_id,
                         msg->destination, true);
  if (!plan.ok()) {
    fail_request(self, msg->id, batch_id,
                 make_tether_error(plan.error, plan.reason));
    return;
  }
  // Straight into the queues when they all run; otherwise the shard starts
  // them. Decided now: the gate may run this later, and the handles of
  // connected devices' queues stay valid that long.
  // Devices connected to other nodes (a cluster) are reached through
  // their node, on the same lane: each path is first in, first out.
  std::vector<std::pair<std::string, queue_actor>> targets;
  targets.reserve(plan.recipients.size());
  remote_groups remote;
  auto& t = *st.routes;
  for (auto i : plan.recipients) {
    if (auto& q = t.queues[i]) {
      targets.emplace_back(t.devices[i].device_id, q);
    } else if (i < t.remotes.size() && t.remotes[i]) {
      remote.add(t.remotes[i], t.devices[i].device_id);
    } else {
      self->state.gate.run(lane::directory, [self, msg, batch_id] {
        route_via_directory(self, msg, batch_id);
      });
      return;
    }
  }
  self->state.gate.run(lane::queues, [self, msg, batch_id,
                                      targets = std::move(targets),
                                      remote = std::move(remote)] {
    if (duplicate(self, *msg, batch_id))
      return;
    auto& opt = msg->optimization;
    if (!opt.requires_ack && !opt.offline_capable && remote.size() == 0
        && !targets.empty()) {
      // Nobody waits for it (not durable, no ack asked): one-way into this
      // node's queues, without a reply; a queue that refuses it tells this
      // connection (refused() below). Each mailbox has it as sent, so what
      // this device routes next, on any lane, reaches a queue after it
      // (SPEC §5.5 order): nothing is in flight for the gate.
      remember(self, msg->id, static_cast<uint32_t>(targets.size()));
      auto me = caf::actor_cast<connection_actor>(self);
      for (auto& [device, q] : targets)
        self->send(q, atom::enqueue_v, msg, me, batch_id.value_or(""));
      self->state.gate.done();
      return;
    }
    auto done = [self, msg, batch_id](caf::expected<uint32_t> r) {
      routed(self, *msg, batch_id, std::move(r));
    };
    if (targets.empty() && remote.size() == 0) {
      done(uint32_t{0});
      return;
    }
    auto fi = std::make_shared<fan_in>(done, targets.size() + remote.size());
    remote.forward(self, self->state.me, msg,
                   self->state.params->request_timeout, fi,
                   *self->state.metrics);
    for (auto& [device, q] : targets)
      // No timeout (a timer per message is costly): a queue answers
      // at once, or after its own store request, which has one; a
      // dead queue bounces the request.
      self->request(q, caf::infinite, atom::enqueue_v, msg)
        .then([fi](uint32_t) { fi->accepted(); },
              [self, fi, device = device](caf::error& err) {
                fi->failed(device, to_errc(err),
                           reason_of(self->system(), err));
              });
  });
}

void handle_frame(self_ptr self, const std::string& raw, bool binary) {
  auto& st = self->state;
  auto codec = st.me.codec;
  // App-level compressed frames carry a frame of the session's codec.
  std::string inflated;
  if (binary && protocol::is_compressed_frame(raw)) {
    auto err = protocol::open_compressed_frame(
      raw, st.params->max_message_bytes, inflated);
    if (err != protocol::inflate_error::none) {
      st.metrics->received(traffic_kind::invalid, 1, raw.size());
      refuse(self, "", std::nullopt, errc::decompression_failed,
             std::string{protocol::to_string(err)});
      return;
    }
    binary = codec == protocol::codec::msgpack;
  }
  const std::string& bytes = inflated.empty() ? raw : inflated;
  if (binary != (codec == protocol::codec::msgpack)) {
    st.metrics->received(traffic_kind::invalid, 1, bytes.size());
    refuse(self, "", std::nullopt, errc::malformed_frame,
           codec == protocol::codec::json
             ? "this session speaks tether.v1.json: send text frames"
             : "this session speaks tether.v1.msgpack: send binary frames");
    return;
  }
  auto frame = protocol::decode(codec, bytes, st.params->limits);
  if (!frame.ok()) {
    st.metrics->received(traffic_kind::invalid, 1, bytes.size());
    refuse(self, "", std::nullopt, frame.error, frame.error_message);
    return;
  }
  st.metrics->received(
    traffic_kind_of(frame.kind),
    frame.kind == protocol::frame_kind::batch ? frame.messages.size() : 1,
    bytes.size());
  switch (frame.kind) {
    case protocol::frame_kind::heartbeat:
      if (!frame.hb.pong)
        write(self,
              protocol::encode(codec, protocol::make_pong(frame.hb.timestamp,
                                                          wall_ms(self))),
              traffic_kind::heartbeat, 1);
      return;
    case protocol::frame_kind::ack: {
      // Delivery acks retire queued messages: cumulative by seq, or by id
      // (what the original client sends for requiresAck messages).
      auto& a = frame.ack;
      if (!st.queue)
        return;
      if (a.seq)
        self->send(st.queue, atom::ack_v, *a.seq);
      if (!a.message_id.empty() && a.status != protocol::ack_status::expired)
        self->send(st.queue, atom::ack_v, a.message_id);
      return;
    }
    case protocol::frame_kind::batch: {
      std::optional<std::string> batch_id;
      if (!frame.batch_id.empty())
        batch_id = frame.batch_id;
      if (!frame.batch_errors.empty()) {
        refuse(self, "", batch_id, errc::validation_error,
               "invalid batch: no message of it was accepted",
               frame.batch_errors);
        return;
      }
      for (auto& dm : frame.messages) {
        if (!dm.ok())
          refuse(self, dm.msg.id, batch_id, dm.error,
                 dm.error == errc::unsupported_version
                   ? dm.errors.front().message
                   : "invalid message: see details.errors",
                 dm.errors);
        else
          handle_message(self, std::move(dm.msg), batch_id);
      }
      return;
    }
    case protocol::frame_kind::message: {
      auto& dm = frame.messages.front();
      if (!dm.ok())
        refuse(self, dm.msg.id, std::nullopt, dm.error,
               dm.error == errc::unsupported_version
                 ? dm.errors.front().message
                 : "invalid message: see details.errors",
               dm.errors);
      else
        handle_message(self, std::move(dm.msg), std::nullopt);
      return;
    }
  }
}

void send_welcome(self_ptr self, const session_info& info,
                  const resume_info& resume) {
  auto& st = self->state;
  protocol::welcome_info w;
  w.session_id = info.session_id;
  w.user_id = info.user_id;
  w.device_id = info.device_id;
  w.type = info.type;
  w.negotiated_codec = info.codec;
  w.compression = info.deflate ? "permessage-deflate" : "none";
  w.heartbeat_interval_ms = st.params->ping_interval.count();
  w.pong_timeout_ms = st.params->pong_timeout.count();
  w.server_version = TETHER_VERSION;
  w.max_message_bytes = st.params->max_message_bytes;
  w.max_batch_messages = st.params->limits.max_batch_messages;
  w.rate_per_second = st.params->guard.rate_per_second;
  w.resume_token = resume.token;
  w.resumed = resume.resumed;
  w.frame_compression = info.compress == 1   ? "deflate"
                        : info.compress == 2 ? "gzip"
                                             : "none";
  write(self,
        protocol::encode(info.codec, protocol::make_welcome(w, wall_ms(self))),
        traffic_kind::control, 1);
}

} // namespace connection_detail

using namespace connection_detail;

connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           const std::shared_ptr<session_port>& port, directory_actor directory,
           std::shared_ptr<const connection_params> params,
           std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  auto info = port->info();
  st.port = port;
  st.me = device_identity{info.user_id, info.device_id,  info.type,
                          info.role,    info.session_id, info.codec,
                          port->loop()};
  st.directory = std::move(directory);
  st.deflate = info.deflate;
  st.params = std::move(params);
  st.guard = inbound_guard{st.params->guard, self->clock().now()};
  st.clock = wall_clock{self->clock().now()};
  st.metrics = std::move(metrics);
  auto fail = [self](const char* what, caf::error& err) {
    spdlog::error("user={} device={}: {} failed: {}", self->state.me.user_id,
                  self->state.me.device_id, what, self->system().render(err));
    close_connection(self, protocol::close_code::internal_error);
  };
  // Join, attach to the device's queue, welcome, then read: the welcome is
  // the first frame, and deliveries follow it (the batcher starts now if
  // the queue holds a backlog, else when the queue asks).
  self
    ->request(st.directory, st.params->request_timeout, atom::join_v, st.me,
              caf::actor_cast<connection_actor>(self))
    .then(
      [self, info, fail](joined_info& joined) {
        auto& st = self->state;
        st.dedup = std::move(joined.dedup);
        st.routes = std::move(joined.routes);
        auto welcome = [self, info](const resume_info& resume) {
          auto& st = self->state;
          send_welcome(self, info, resume);
          if (auto p = st.port.lock()) {
            st.events = std::make_shared<events_adapter>(
              caf::actor_cast<connection_actor>(self));
            p->attach(st.events);
          }
          if (resume.backlog > 0)
            start_batcher(self);
        };
        if (!joined.queue) {
          // The device's queue would hold nothing: none runs until a
          // message comes (it asks this connection for its batcher).
          resume_info r;
          r.token = joined.epoch;
          r.resumed = !info.resume_token.empty()
                      && info.resume_token == joined.epoch;
          welcome(r);
          return;
        }
        st.queue = joined.queue;
        self
          ->request(st.queue, caf::infinite, atom::attach_v,
                    caf::actor_cast<connection_actor>(self),
                    resume_request{info.resume_token, info.resume_last_seq,
                                   current_loop(self)})
          .then([welcome](resume_info& resume) { welcome(resume); },
                [fail](caf::error& err) mutable { fail("queue attach", err); });
      },
      [fail](caf::error& err) mutable { fail("directory join", err); });
  // The orchestrator times the token's expiry (one timer for all
  // connections); one already past closes at once.
  if (info.session_expires_at * 1000 <= wall_ms(self))
    self->send(self, atom::expire_v);
  // A connection ended by its supervisor (the node is failing) closes its
  // session with 1011: the device reconnects with backoff, to this node once
  // it is back.
  self->attach_functor([port = st.port](const caf::error& why) {
    if (why && why != caf::exit_reason::normal)
      if (auto p = port.lock())
        p->close(
          protocol::to_int(protocol::close_code::internal_error),
          std::string{protocol::reason(protocol::close_code::internal_error)});
  });
  return {
    [=](atom::frame, const std::string& bytes, bool binary) {
      if (!self->state.closing)
        handle_frame(self, bytes, binary);
      if (auto p = self->state.port.lock())
        p->consumed(1);
    },
    [=](atom::closed, uint16_t) { self->quit(); },
    [=](atom::routes, route_table& t) { self->state.routes = std::move(t); },
    [=](atom::close, uint16_t code) {
      close_connection(self, static_cast<protocol::close_code>(code));
    },
    [=](atom::drain, uint32_t retry_after_ms) {
      close_connection(self, protocol::close_code::service_restart,
                       protocol::drain_reason(retry_after_ms));
    },
    [=](atom::expire) {
      close_connection(self, protocol::close_code::token_expired);
    },
    [=](atom::enqueue, const std::string& id, const std::string& batch_id,
        const caf::error& err) { refused(self, id, batch_id, err); },
    [=](atom::start) { on_queue_ready(self); },
    [=](atom::release, route_table& t) {
      // Sent to the old queue before this reply, messages reach it ahead of
      // the directory's request for its record.
      self->state.routes = std::move(t);
      return atom::ok_v;
    },
  };
}

} // namespace tether::actors

#include "actors/room/room_actor.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/relay.hpp"
#include "actors/directory/shard.hpp"
#include "actors/fan_in.hpp"
#include "actors/loop_affinity.hpp"
#include "actors/room/diff_groups.hpp"
#include "protocol/codec.hpp"
#include "protocol/presence.hpp"

namespace tether::actors {

namespace {

using self_ptr = room_actor::stateful_pointer<room_state>;
using std::chrono::milliseconds;

template <class Enum>
std::vector<Enum> to_enums(const std::vector<uint8_t>& xs, uint8_t max) {
  std::vector<Enum> out;
  for (auto x : xs)
    if (x <= max)
      out.push_back(static_cast<Enum>(x));
  return out;
}

void schedule_diff(self_ptr self) {
  auto& st = self->state;
  if (st.diff_scheduled)
    return;
  st.diff_scheduled = true;
  auto wait = st.last_diff_ms + st.params.diff_interval.count() - wall_ms(self);
  self->delayed_send(self, milliseconds{std::max<int64_t>(0, wait)},
                     atom::flush_v);
}

void note(self_ptr self, protocol::presence_entry e) {
  auto& st = self->state;
  member_key k{e.user_id, e.device_id};
  st.pending[k] = std::move(e);
  schedule_diff(self);
}

presence_row to_row(const protocol::presence_entry& e) {
  presence_row r;
  r.user_id = e.user_id;
  r.device_id = e.device_id;
  r.type = static_cast<uint8_t>(e.type);
  r.status = static_cast<uint8_t>(e.status);
  if (e.custom) {
    r.has_custom = true;
    r.custom_text = e.custom->text;
    r.custom_emoji = e.custom->emoji;
    r.custom_expires_ms = e.custom->expires_ms;
  }
  r.last_seen_ms = e.last_seen_ms;
  r.event = e.event;
  return r;
}

protocol::presence_entry from_row(const presence_row& r) {
  protocol::presence_entry e;
  e.user_id = r.user_id;
  e.device_id = r.device_id;
  e.type = static_cast<protocol::device_type>(std::min<uint8_t>(r.type, 3));
  e.status
    = static_cast<protocol::presence_status>(std::min<uint8_t>(r.status, 3));
  if (r.has_custom)
    e.custom = protocol::custom_status{r.custom_text, r.custom_emoji,
                                       r.custom_expires_ms};
  e.last_seen_ms = r.last_seen_ms;
  e.event = r.event;
  return e;
}

// A change of this node's members: told to the room's other nodes with the
// next diff, and shown if the room's view (all nodes) changed.
void local_change(self_ptr self, const protocol::presence_entry& e) {
  auto& st = self->state;
  if (st.params.cluster) {
    st.outbox.push_back(to_row(e));
    schedule_diff(self);
  }
  if (auto shown = st.view.local(e))
    note(self, std::move(*shown));
}

// Tells the room's other nodes all of this node's members (`ask`: and
// have them answer with theirs).
void tell_all(self_ptr self, bool ask) {
  auto& st = self->state;
  if (!st.params.cluster)
    return;
  std::vector<presence_row> rows;
  for (auto& e : st.view.local_members())
    rows.push_back(to_row(e));
  st.outbox.clear(); // the full set says it all
  self->send(st.params.cluster, atom::presence_v, st.room_name, std::move(rows),
             true, ask);
}

std::vector<protocol::user_presence>
aggregates(self_ptr self, const std::vector<protocol::presence_entry>& es) {
  std::set<std::string> users;
  for (auto& e : es)
    users.insert(e.user_id);
  std::vector<protocol::user_presence> out;
  out.reserve(users.size());
  for (auto& u : users)
    out.push_back(self->state.view.user(u));
  return out;
}

// Encodes `m` once for the codecs `wanted` (bit 0: json, bit 1: msgpack).
encoded_ptr encode_once(const protocol::mobile_message& m, int wanted) {
  auto forms = std::make_shared<protocol::encoded_forms>();
  if (wanted & 1)
    forms->json = protocol::encode(protocol::codec::json, m);
  if (wanted & 2)
    forms->msgpack = protocol::encode(protocol::codec::msgpack, m);
  return forms;
}

int codec_bit(protocol::codec c) {
  return c == protocol::codec::json ? 1 : 2;
}

// Puts `m` (publish, message, encodings) into every queue of `qs` but
// `except`: one message shared by all of them (a queue reads it, none
// copies it), sent anonymously (nobody answers a publish).
void enqueue_all(caf::local_actor* self, const std::vector<queue_actor>& qs,
                 const caf::message& m, const queue_actor& except) {
  auto* skip = caf::actor_cast<caf::abstract_actor*>(except);
  for (auto& q : qs)
    if (auto* dest = caf::actor_cast<caf::abstract_actor*>(q);
        dest && dest != skip)
      dest->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(),
                                              {}, m),
                    self->context());
}

void flush_diff(self_ptr self) {
  auto& st = self->state;
  st.diff_scheduled = false;
  if (!st.outbox.empty()) {
    self->send(st.params.cluster, atom::presence_v, st.room_name,
               std::move(st.outbox), false, false);
    st.outbox.clear();
  }
  if (st.pending.empty())
    return;
  auto now = wall_ms(self);
  st.last_diff_ms = now;
  std::vector<protocol::presence_entry> changes;
  for (auto& [k, e] : st.pending)
    changes.push_back(std::move(e));
  st.pending.clear();
  // One message per distinct set of changes (diff_groups), encoded once
  // per codec its members speak.
  for (auto& g : group_diffs(changes, st.presence.subscribers())) {
    std::vector<queue_actor> queues;
    int codecs = 0;
    for (auto* s : g.subscribers) {
      auto* m = st.members.find(member_key{s->user_id, s->device_id});
      if (!m)
        continue;
      queues.push_back(m->handle);
      codecs |= codec_bit(m->codec);
    }
    if (queues.empty())
      continue;
    auto msg = std::make_shared<const protocol::mobile_message>(
      protocol::make_presence_diff(st.room_name, g.changes,
                                   aggregates(self, g.changes), now));
    auto forms = encode_once(*msg, codecs);
    enqueue_all(self, queues, caf::make_message(atom::publish_v, msg, forms),
                queue_actor{});
    st.metrics->room_event(room_counter::diff_sent, queues.size());
  }
}

// Arms the presence timer for `at` unless one is armed no later.
void arm_tick(self_ptr self, std::optional<int64_t> at) {
  auto& st = self->state;
  auto now = wall_ms(self);
  if (!at || (st.tick_at_ms && *st.tick_at_ms <= *at && *st.tick_at_ms > now))
    return;
  st.tick_at_ms = *at;
  self->delayed_send(self, milliseconds{std::max<int64_t>(0, *at - now)},
                     atom::tick_v, ++st.tick_generation);
}

// The timer for the earliest deadline of every member and node: O(members),
// so only when a tick fired. A tick that comes early (a member was active
// since) finds nothing and arms the next one.
void schedule_tick(self_ptr self) {
  auto& st = self->state;
  auto at = st.presence.next_deadline();
  if (auto v = st.view.next_deadline(); v && (!at || *v < *at))
    at = v;
  arm_tick(self, at);
}

// After one member changed, its own deadline is the only one that can have
// come earlier (a join in a room of n members costs O(log n), not O(n)).
void schedule_tick_for(self_ptr self, const member_key& k) {
  arm_tick(self, self->state.presence.deadline_of(k));
}

void send_snapshot(self_ptr self, const device_identity& to,
                   const room_ask& ask) {
  auto& st = self->state;
  auto* m = st.members.find(member_key{to.user_id, to.device_id});
  if (!m)
    return;
  auto size = std::clamp<uint32_t>(ask.page_size, 1, st.params.max_page_size);
  auto total = st.view.size();
  auto pages = static_cast<uint32_t>((total + size - 1) / size);
  auto members = st.view.page(ask.page, size);
  auto msg = std::make_shared<const protocol::mobile_message>(
    protocol::make_presence_snapshot(to.user_id, to.device_id, st.room_name,
                                     members, aggregates(self, members),
                                     ask.page, std::max<uint32_t>(pages, 1),
                                     total, wall_ms(self)));
  self->send(m->handle, atom::publish_v, msg, encoded_ptr{});
}

fanout_actor::behavior_type fanout(fanout_actor::pointer self) {
  return {
    [=](atom::publish, const queue_list_ptr& qs,
        const protocol::message_ptr& msg, const encoded_ptr& forms,
        const queue_actor& except) {
      enqueue_all(self, *qs, caf::make_message(atom::publish_v, msg, forms),
                  except);
    },
  };
}

// Members on another loop than the room's are served by a fan-out there
// once they are this many: for fewer, the room's sends to that loop cost
// about what the message to the fan-out and its run would.
constexpr size_t fanout_min = 32;

// The room's fan-out on the loop of group `g`, spawned there on first use.
const fanout_actor& fanout_for(self_ptr self, size_t g) {
  auto& fs = self->state.fanouts;
  if (fs.size() <= g)
    fs.resize(g + 1);
  if (!fs[g])
    fs[g] = spawn_on_loop(self, member_lists<queue_actor>::loop_of(g),
                          [&] { return self->spawn<caf::linked>(fanout); });
  return fs[g];
}

// A publish nobody waits for, to every member but `except`: the members on
// the room's loop (or on an unknown one, or few on theirs) from here, each
// other loop's from a fan-out on that loop, which gets the list of its
// members (shared, not copied) in one message. So a delivery costs the
// same in a room of any size, and a large room's loops serve it side by
// side. A member whose queue is full gets a gap notice (the queue's part).
void fan_out(self_ptr self, const protocol::message_ptr& msg,
             const encoded_ptr& forms, const queue_actor& except) {
  auto& ms = self->state.members;
  auto here = current_loop(self);
  caf::message shared;
  for (size_t g = 0; g < ms.groups(); ++g) {
    auto& qs = ms.view(g);
    if (qs.empty())
      continue;
    auto loop = member_lists<queue_actor>::loop_of(g);
    if (loop >= 0 && loop != here && qs.size() >= fanout_min) {
      self->send(fanout_for(self, g), atom::publish_v, ms.share(g), msg, forms,
                 except);
      self->state.metrics->room_event(room_counter::fanned_out, 1);
      continue;
    }
    if (shared.empty())
      shared = caf::make_message(atom::publish_v, msg, forms);
    enqueue_all(self, qs, shared, except);
  }
}

// Makes the fan-in that answers a durable publish once `waiting` queues
// answered.
using waiter = std::function<std::shared_ptr<fan_in>(size_t waiting)>;

// Publishes to every member here but the sender's device: each queue gets
// the message encoded once per codec. Returns the number of recipients when
// nobody waits; a durable publish answers through `wait` once every
// member's queue has it on disk.
std::optional<uint32_t>
publish_here(self_ptr self, const device_identity& sender,
             const protocol::message_ptr& msg, const waiter& wait) {
  auto& st = self->state;
  member_key from{sender.user_id, sender.device_id};
  auto* own = st.members.find(from);
  // The codecs of the members but the sender (counted as they join).
  auto others = [&](protocol::codec c) {
    return st.members.count(c) - (own && own->codec == c ? 1 : 0);
  };
  int codecs = 0;
  for (auto c : {protocol::codec::json, protocol::codec::msgpack})
    if (others(c) > 0)
      codecs |= codec_bit(c);
  auto forms = encode_once(*msg, codecs);
  auto n = static_cast<uint32_t>(st.members.size() - (own ? 1 : 0));
  st.metrics->room_event(room_counter::published, 1);
  st.metrics->room_event(room_counter::delivered, n);
  auto& opt = msg->optimization;
  if (!opt.requires_ack && !opt.offline_capable) {
    fan_out(self, msg, forms, own ? own->handle : queue_actor{});
    return n;
  }
  // Durable: the sender's ack waits until every member's queue has the
  // message on disk, and names the members whose queue refused it.
  if (n == 0)
    return uint32_t{0};
  auto fi = wait(n);
  st.members.for_each([&](const member_key& k, const auto& m) {
    if (k == from)
      return;
    auto who = k.first + "/" + k.second;
    self->request(m.handle, caf::infinite, atom::enqueue_v, msg, forms)
      .then([fi](uint32_t) { fi->accepted(); },
            [self, fi, who](caf::error& err) {
              fi->failed(who, to_errc(err), reason_of(self->system(), err));
            });
  });
  return std::nullopt;
}

// The answer to a publish for the members here only.
caf::result<uint32_t> answer_here(self_ptr self, const device_identity& sender,
                                  const protocol::message_ptr& msg) {
  caf::typed_response_promise<uint32_t> rp;
  auto n = publish_here(self, sender, msg, [self, &rp](size_t waiting) {
    rp = self->make_response_promise<uint32_t>();
    return std::make_shared<fan_in>(rp, waiting);
  });
  if (n)
    return *n;
  return rp;
}

// A member's publish: here and, in a cluster, through the other nodes (the
// cluster actor bounds its relays): one answer for both.
caf::result<uint32_t> publish(self_ptr self, const device_identity& sender,
                              const protocol::message_ptr& msg) {
  auto& st = self->state;
  if (!st.params.cluster)
    return answer_here(self, sender, msg);
  auto rp = self->make_response_promise<uint32_t>();
  auto both = std::make_shared<fan_in>(rp, 2);
  auto failed = [self, both](const char* who, const caf::error& err) {
    both->failed(who, to_errc(err), reason_of(self->system(), err));
  };
  auto n = publish_here(self, sender, msg, [both, failed](size_t waiting) {
    return std::make_shared<fan_in>(
      [both, failed](caf::expected<uint32_t> r) {
        if (r)
          both->accepted(*r);
        else
          failed("this node", r.error());
      },
      waiting);
  });
  if (n)
    both->accepted(*n);
  // (The cluster actor counts the relay's bytes per node.)
  self
    ->request(st.params.cluster, caf::infinite, atom::publish_v, sender,
              st.room_name, forwarded_form(*msg))
    .then([both](uint32_t n) { both->accepted(n); },
          [failed](caf::error& err) { failed("other nodes", err); });
  return rp;
}

void quit_if_empty(self_ptr self) {
  auto& st = self->state;
  if (st.presence.size() == 0) {
    flush_diff(self);
    st.metrics->room_closed();
    for (auto& f : st.fanouts)
      if (f)
        self->send_exit(f, caf::exit_reason::user_shutdown);
    self->quit();
  }
}

} // namespace

room_actor::behavior_type
room(room_actor::stateful_pointer<room_state> self, std::string name,
     std::vector<directory_actor> shards, room_params params,
     std::shared_ptr<node_metrics> metrics,
     test_clock_skew_ptr test_clock_skew) {
  auto& st = self->state;
  st.room_name = std::move(name);
  st.shards = std::move(shards);
  st.params = std::move(params);
  st.metrics = std::move(metrics);
  st.presence = presence_set{st.params.presence};
  st.view = cluster_presence{st.params.presence.grace};
  st.clock = wall_clock{self->clock().now(), std::move(test_clock_skew)};
  st.metrics->room_opened();
  // A room new here: the room's other nodes tell their members.
  tell_all(self, true);
  return {
    [=](atom::join, room_member& m) -> uint32_t {
      auto& st = self->state;
      member_key k{m.id.user_id, m.id.device_id};
      member_state ms;
      ms.user_id = m.id.user_id;
      ms.device_id = m.id.device_id;
      ms.type = m.id.type;
      ms.subscribed = m.ask.presence;
      ms.status_filter
        = to_enums<protocol::presence_status>(m.ask.status_filter, 3);
      ms.type_filter = to_enums<protocol::device_type>(m.ask.type_filter, 3);
      auto before = st.presence.size();
      auto event = st.presence.join(std::move(ms), wall_ms(self));
      if (st.presence.size() > before)
        st.metrics->room_members(1);
      st.members.put(k, m.queue, m.id.codec, m.id.loop);
      if (event)
        local_change(self, *event);
      if (m.ask.presence)
        send_snapshot(self, m.id, m.ask);
      schedule_tick_for(self, k);
      return static_cast<uint32_t>(st.view.size());
    },
    [=](atom::leave, const std::string& user, const std::string& device) {
      auto& st = self->state;
      member_key k{user, device};
      if (auto e = st.presence.leave(k, wall_ms(self))) {
        st.metrics->room_members(-1);
        local_change(self, *e);
      }
      st.members.erase(k);
      quit_if_empty(self);
    },
    [=](atom::closed, const std::string& user, const std::string& device) {
      member_key k{user, device};
      self->state.presence.disconnected(k, wall_ms(self));
      schedule_tick_for(self, k);
    },
    [=](atom::attach, const device_identity& id, queue_actor& q) {
      auto& st = self->state;
      member_key k{id.user_id, id.device_id};
      if (!st.presence.contains(k))
        return;
      if (st.presence.reconnected(k, wall_ms(self)))
        st.metrics->room_event(room_counter::flap_suppressed, 1);
      // A new connection starts in the foreground.
      if (auto e = st.presence.set_background(k, false, wall_ms(self)))
        local_change(self, *e);
      st.members.put(k, std::move(q), id.codec, id.loop);
    },
    [=](atom::status, const presence_update& u) {
      auto& st = self->state;
      member_key k{u.user_id, u.device_id};
      auto now = wall_ms(self);
      std::optional<protocol::presence_entry> e;
      if (u.activity_only) {
        e = st.presence.activity(k, now);
      } else if (u.app_state <= 1 && u.status > 3 && !u.has_custom
                 && !u.clear_custom) {
        e = st.presence.set_background(k, u.app_state == 1, now);
      } else {
        if (u.app_state <= 1)
          if (auto b = st.presence.set_background(k, u.app_state == 1, now))
            local_change(self, *b);
        protocol::status_request r;
        if (u.status <= 3)
          r.status = static_cast<protocol::presence_status>(u.status);
        if (u.has_custom)
          r.custom = protocol::custom_status{u.custom_text, u.custom_emoji,
                                             u.custom_expires_ms};
        r.clear_custom = u.clear_custom;
        e = st.presence.set_status(k, r, now);
      }
      if (e)
        local_change(self, *e);
      schedule_tick_for(self, k);
    },
    [=](atom::publish, const device_identity& sender,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      auto& st = self->state;
      if (!st.presence.contains(member_key{sender.user_id, sender.device_id}))
        return not_a_member(st.room_name);
      if (!room_allowed(st.params.rules, room_action::publish, st.room_name,
                        sender.user_id, sender.role))
        return make_tether_error(protocol::errc::forbidden,
                                 "publishing to room '" + st.room_name
                                   + "' is not allowed for this device");
      return publish(self, sender, msg);
    },
    [=](atom::publish, atom::forward, const device_identity& sender,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      return answer_here(self, sender, msg);
    },
    [=](atom::get, const device_identity& to, const room_ask& ask) {
      send_snapshot(self, to, ask);
    },
    [=](atom::tick, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.tick_generation)
        return;
      st.tick_at_ms.reset();
      for (auto& e : st.presence.sweep(wall_ms(self))) {
        if (e.event == "leave") {
          member_key k{e.user_id, e.device_id};
          st.members.erase(k);
          st.metrics->room_members(-1);
          if (!st.shards.empty())
            self->send(st.shards[shard_of(e.user_id, st.shards.size())],
                       atom::left_v, e.user_id, e.device_id, st.room_name);
        }
        local_change(self, e);
      }
      for (auto& e : st.view.sweep(wall_ms(self)))
        note(self, std::move(e));
      schedule_tick(self);
      quit_if_empty(self);
    },
    [=](atom::presence, const std::string& node,
        const std::vector<presence_row>& rows, bool full, bool ask) {
      std::vector<protocol::presence_entry> entries;
      entries.reserve(rows.size());
      for (auto& r : rows)
        entries.push_back(from_row(r));
      for (auto& e : self->state.view.remote(node, entries, full))
        note(self, std::move(e));
      if (ask)
        tell_all(self, false);
      arm_tick(self, self->state.view.next_deadline());
    },
    [=](atom::get, atom::presence) {
      auto& v = self->state.view;
      std::vector<presence_row> rows;
      for (auto& e : v.page(0, static_cast<uint32_t>(v.size())))
        rows.push_back(to_row(e));
      return rows;
    },
    [=](atom::get, atom::room) {
      auto& st = self->state;
      room_summary s;
      s.name = st.room_name;
      s.members = static_cast<uint32_t>(st.view.size());
      s.local = static_cast<uint32_t>(st.presence.size());
      return s;
    },
    [=](atom::linked, const std::string&) { tell_all(self, true); },
    [=](atom::unlinked, const std::string& node) {
      self->state.view.node_down(node, wall_ms(self));
      arm_tick(self, self->state.view.next_deadline());
    },
    [=](atom::flush) { flush_diff(self); },
  };
}

} // namespace tether::actors

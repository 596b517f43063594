#include "actors/directory/directory_actor.hpp"
#include "actors/directory/dedup_window.hpp"
#include "actors/directory/directory_detail.hpp"
#include "actors/directory/shard.hpp"

#include <algorithm>
#include <mutex>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>
#include <utility>

#include "actors/cluster/relay.hpp"
#include "actors/fan_in.hpp"
#include "actors/wall_clock.hpp"

namespace tether::actors {

namespace directory_detail {

device_slot* find_device(user_slot& u, const std::string& device) {
  for (auto& d : u.devices)
    if (d.id.device_id == device)
      return &d;
  return nullptr;
}

device_slot* find_device(self_ptr self, const std::string& user,
                         const std::string& device) {
  auto i = self->state.users.find(user);
  return i == self->state.users.end() ? nullptr
                                      : find_device(i->second, device);
}

/// A joining device, which the load of its user registers in the same trip
/// to the store if the join starts that load (then `registered` is set
/// before the join runs on).
struct join_load {
  device_identity id;
  std::optional<registration> registered;
};

} // namespace directory_detail

namespace {

using namespace directory_detail;

bool busy(const user_slot& u) {
  if (!u.loaded || !u.waiting.empty())
    return true;
  for (auto& d : u.devices)
    if (d.conn || d.queue || d.releasing || d.opening
        || !d.queue_waiting.empty())
      return true;
  return false;
}

// Records whether the user just became idle (or busy again).
void note_idle(self_ptr self, user_slot& u) {
  if (busy(u))
    u.idle_since_ms = -1;
  else if (u.idle_since_ms < 0)
    u.idle_since_ms = steady_ms(self);
}

// The user's devices as plan_route reads them.
std::vector<device_entry> device_entries(const user_slot& u) {
  std::vector<device_entry> out;
  out.reserve(u.devices.size());
  for (auto& d : u.devices)
    out.push_back(device_entry{d.id.device_id, d.id.type, d.id.is_extension(),
                               d.conn != nullptr});
  return out;
}

route_table make_routes(const user_slot& u) {
  auto t = std::make_shared<user_routes>();
  t->devices = device_entries(u);
  t->queues.reserve(u.devices.size());
  for (auto& d : u.devices)
    // Only a connected device's queue is sure to run for as long as the
    // table is in use.
    t->queues.push_back(d.conn ? d.queue : queue_actor{});
  t->remotes.resize(t->devices.size());
  t->down.resize(t->devices.size());
  // A device whose queue is on another node (it is connected there, or was
  // last) is reached there, unless it is connected here: then its link here
  // is the newer one (the user's home would not list it otherwise).
  for (auto& r : u.remote) {
    auto i = std::find_if(t->devices.begin(), t->devices.end(), [&](auto& e) {
      return e.device_id == r.id.device_id;
    });
    size_t k;
    if (i == t->devices.end()) {
      k = t->devices.size();
      t->devices.push_back(
        device_entry{r.id.device_id, r.id.type, r.id.is_extension(), false});
      t->queues.emplace_back();
      t->remotes.emplace_back();
      t->down.emplace_back();
    } else {
      k = static_cast<size_t>(i - t->devices.begin());
      if (i->online)
        continue;
    }
    t->devices[k].online = r.connected && r.node;
    t->remotes[k] = r.node;
    if (!r.node)
      t->down[k] = r.node_id;
  }
  return t;
}

// The user's home node (cluster) learns where the device is.
void tell_cluster(self_ptr self, const device_identity& id, bool connected) {
  if (auto& c = self->state.params.cluster)
    self->send(c, atom::attach_v, id, connected);
}

// Gives every connection of the user the new table (but `except`, which
// gets it in its join reply).
void routes_changed(self_ptr self, user_slot& u,
                    const connection_actor& except = {}) {
  u.routes = make_routes(u);
  for (auto& d : u.devices)
    if (d.conn && d.conn != except)
      self->send(d.conn, atom::routes_v, u.routes);
}

} // namespace

namespace directory_detail {

// Runs `f` with the user's slot once its known devices are loaded; while
// they load, the shard serves everyone else. A join that starts the load
// gets its device registered with it (`opening`).
void with_user(self_ptr self, const std::string& user,
               std::function<void(user_slot&)> f,
               const std::shared_ptr<join_load>& opening) {
  auto& st = self->state;
  auto [i, added] = st.users.try_emplace(user);
  auto& u = i->second;
  if (u.loaded) {
    f(u);
    return;
  }
  u.waiting.push_back(std::move(f));
  if (!added)
    return; // already loading
  st.metrics->directory_users(1);
  ++*st.held;
  auto loaded = [self, user](const std::vector<device_record>& records) {
    auto& u = self->state.users[user];
    for (auto& r : records) {
      if (find_device(u, r.device_id))
        continue;
      device_slot slot;
      slot.id.user_id = r.user_id;
      slot.id.device_id = r.device_id;
      slot.id.type
        = static_cast<protocol::device_type>(std::min<uint8_t>(r.type, 3));
      slot.id.role = r.role;
      u.devices.push_back(std::move(slot));
    }
    u.loaded = true;
    u.routes = make_routes(u);
    auto waiting = std::move(u.waiting);
    u.waiting.clear();
    // The map's references stay valid while entries are added.
    for (auto& g : waiting)
      g(u);
    note_idle(self, u);
  };
  auto failed = [self, user, loaded](caf::error& err) mutable {
    spdlog::error("directory: cannot load the devices of {}: {}", user,
                  self->system().render(err));
    loaded({});
  };
  if (!opening) {
    self->request(st.store, caf::infinite, atom::get_v, atom::devices_v, user)
      .then([loaded](
              std::vector<device_record>& records) mutable { loaded(records); },
            std::move(failed));
    return;
  }
  self
    ->request(st.store, caf::infinite, atom::get_v, atom::devices_v, user,
              opening->id, st.params.seq_block)
    .then(
      [loaded, opening](std::vector<device_record>& records, device_record& rec,
                        std::vector<stored_message>& backlog,
                        bool fresh) mutable {
        opening->registered = registration{std::move(rec), std::move(backlog),
                                           fresh};
        loaded(records);
      },
      std::move(failed));
}

} // namespace directory_detail

namespace {

// Runs what waits for the device's queue with `q` (empty: it did not
// start), in arrival order.
void run_waiting(device_slot& slot, const queue_actor& q) {
  auto waiting = std::move(slot.queue_waiting);
  slot.queue_waiting.clear();
  for (auto& g : waiting)
    g(q);
}

// Asks the orchestrator to start the device's queue (from its record if it
// was released) and runs what waits for it.
void start_queue(self_ptr self, const std::string& user,
                 const std::string& device) {
  auto& st = self->state;
  auto* slot = find_device(self, user, device);
  auto started = slot->record ? self->request(st.orchestrator, caf::infinite,
                                              atom::queue_v, slot->id,
                                              *slot->record, slot->conn)
                              : self->request(st.orchestrator, caf::infinite,
                                              atom::queue_v, slot->id);
  slot->record.reset();
  started.then(
    [self, user, device](queue_actor& q) {
      auto& st = self->state;
      auto* s = find_device(self, user, device);
      if (!s)
        return;
      s->queue = q;
      st.by_addr.emplace(q.address(), std::make_pair(user, device));
      self->monitor(q);
      auto& u = st.users[user];
      // A device whose queue is on another node now (a message reached
      // the old one late, or a restart found stored ones): what this
      // queue holds goes there. In a cluster this node holds a queue of
      // an absent device now (a message its home sent here): the home
      // learns it, so that if the device connects elsewhere this queue
      // is handed over (until then nothing tells this node).
      std::vector<std::pair<peer_link_actor, uint64_t>> elsewhere;
      if (!s->conn) {
        tell_cluster(self, s->id, false);
        for (auto& r : u.remote)
          if (r.id.device_id == device && r.node)
            elsewhere.emplace_back(r.node, r.gen);
      }
      if (s->conn)
        routes_changed(self, u);
      // What waited for the queue first (a handover's messages among it):
      // a queue told to hand over while empty quits at once.
      run_waiting(*s, q);
      for (auto& [node, gen] : elsewhere)
        self->send(q, atom::handover_v, node, gen);
      note_idle(self, u);
    },
    [self, user, device](caf::error& err) {
      spdlog::error("directory: cannot start the queue of {}/{}: {}", user,
                    device, self->system().render(err));
      auto* s = find_device(self, user, device);
      if (!s)
        return;
      run_waiting(*s, queue_actor{});
    });
}

} // namespace

namespace directory_detail {

// Runs `f` with the device's queue, asking the orchestrator to start it
// first if it does not run. Calls for one device run in arrival order.
void with_queue(self_ptr self, const std::string& user,
                const std::string& device, std::function<void(queue_actor)> f) {
  auto* slot = find_device(self, user, device);
  if (!slot) {
    f(queue_actor{});
    return;
  }
  if (slot->queue) {
    f(slot->queue);
    return;
  }
  slot->queue_waiting.push_back(std::move(f));
  // Being started, or being released (then it runs again, or starts anew).
  if (slot->queue_waiting.size() > 1 || slot->releasing || slot->opening)
    return;
  start_queue(self, user, device);
}

} // namespace directory_detail

namespace {

// The release of `q` ended: with its record, or it stays (it took messages
// meanwhile), or it is gone (it failed: the next start reads the store).
void released(self_ptr self, const std::string& user, const std::string& device,
              const queue_actor& q, caf::expected<queue_record> result) {
  auto& st = self->state;
  auto* slot = find_device(self, user, device);
  if (!slot || slot->releasing.address() != q.address())
    return;
  slot->releasing = nullptr;
  auto& u = st.users[user];
  if (result) {
    slot->record = std::make_unique<queue_record>(std::move(*result));
  } else if (result.error() != caf::sec::request_receiver_down) {
    slot->queue = q;
    routes_changed(self, u);
    run_waiting(*slot, q);
    note_idle(self, u);
    return;
  }
  if (!slot->queue_waiting.empty())
    start_queue(self, user, device);
  note_idle(self, u);
}

// An idle queue offered its release. Not while it has work waiting, or
// while rooms hold it (they publish into it directly). The user's
// connections route around it first, each confirming; what they sent it
// before is in its mailbox ahead of the request for its record.
void release_queue(self_ptr self, const caf::actor_addr& from) {
  auto& st = self->state;
  auto i = st.by_addr.find(from);
  if (i == st.by_addr.end())
    return;
  auto [user, device] = i->second;
  auto* slot = find_device(self, user, device);
  if (!slot || !slot->queue || slot->queue.address() != from || slot->releasing
      || !slot->queue_waiting.empty() || !slot->rooms.empty())
    return;
  auto q = std::move(slot->queue);
  slot->queue = nullptr;
  slot->releasing = q;
  auto& u = st.users[user];
  u.routes = make_routes(u);
  auto pending = std::make_shared<size_t>(1);
  auto done = [self, user = user, device = device, q, pending] {
    if (--*pending > 0)
      return;
    self->request(q, caf::infinite, atom::release_v)
      .then(
        [self, user, device, q](queue_record& r) {
          released(self, user, device, q, std::move(r));
        },
        [self, user, device, q](caf::error& err) {
          released(self, user, device, q, std::move(err));
        });
  };
  for (auto& d : u.devices)
    if (d.conn) {
      ++*pending;
      self->request(d.conn, caf::infinite, atom::release_v, u.routes)
        .then([done](atom::ok) { done(); }, [done](caf::error&) { done(); });
    }
  done();
}

void fan_out(self_ptr self, const device_identity& sender,
             const std::vector<std::string>& devices,
             const protocol::message_ptr& msg,
             const std::shared_ptr<fan_in>& fi) {
  for (auto& device : devices) {
    with_queue(self, sender.user_id, device,
               [self, fi, msg, device](const queue_actor& q) {
                 if (!q) {
                   fi->failed(device, protocol::errc::internal_error,
                              "queue unavailable");
                   return;
                 }
                 // No timeout (a timer per message is costly): a queue
                 // answers at once, or after its own store request, which
                 // has one; a dead queue bounces the request.
                 self->request(q, caf::infinite, atom::enqueue_v, msg)
                   .then([fi](uint32_t) { fi->accepted(); },
                         [self, fi, device](caf::error& err) {
                           fi->failed(device, to_errc(err),
                                      reason_of(self->system(), err));
                         });
               });
  }
}

// Forgets users idle for longer than the ttl, and the longest idle beyond
// max_users.
void evict(self_ptr self) {
  auto& st = self->state;
  auto now = steady_ms(self);
  std::vector<std::pair<int64_t, std::string>> idle;
  for (auto& [name, u] : st.users)
    if (!busy(u) && u.idle_since_ms >= 0)
      idle.emplace_back(u.idle_since_ms, name);
  std::sort(idle.begin(), idle.end());
  auto excess = st.users.size() > st.params.max_users
                  ? st.users.size() - st.params.max_users
                  : size_t{0};
  uint64_t evicted = 0;
  for (auto& [since, name] : idle) {
    if (now - since < st.params.idle_user_ttl.count() && evicted >= excess)
      break;
    st.users.erase(name);
    ++evicted;
  }
  if (evicted > 0) {
    *st.held -= static_cast<int64_t>(evicted);
    st.metrics->users_evicted(evicted);
    st.metrics->directory_users(-static_cast<int64_t>(evicted));
  }
}

void schedule_sweep(self_ptr self) {
  auto every = std::max(std::chrono::milliseconds{1000},
                        self->state.params.idle_user_ttl / 4);
  self->delayed_send(self, every, atom::tick_v);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (auto n = st.room_names.find(dm.source); n != st.room_names.end()) {
    if (auto r = st.rooms.find(n->second);
        r != st.rooms.end() && r->second.room.address() == dm.source)
      st.rooms.erase(r);
    st.room_names.erase(n);
    return;
  }
  auto i = st.by_addr.find(dm.source);
  if (i == st.by_addr.end())
    return;
  auto [user, device] = i->second;
  st.by_addr.erase(i);
  auto u = st.users.find(user);
  if (u == st.users.end())
    return;
  auto* d = find_device(u->second, device);
  if (!d)
    return;
  if (d->conn && d->conn.address() == dm.source) {
    d->conn = nullptr;
    // Its next connection starts in the foreground.
    if (d->status)
      d->status->app_state = 255;
    tell_cluster(self, d->id, false);
    // Rooms keep the device for their grace period.
    for (auto& [name, r] : d->rooms)
      self->send(r, atom::closed_v, user, device);
    routes_changed(self, u->second);
  }
  if (d->queue && d->queue.address() == dm.source) {
    d->queue = nullptr;
    if (d->conn)
      routes_changed(self, u->second);
  }
  note_idle(self, u->second);
}

// Answers a join with the device's queue, or, for a device whose queue
// would hold nothing, with the record to start one from when a message
// comes (q empty): an idle device costs no queue actor.
void answer_join(self_ptr self, caf::typed_response_promise<joined_info> rp,
                 const device_identity& id, const connection_actor& conn,
                 const queue_actor& q) {
  auto& st = self->state;
  auto* slot = find_device(self, id.user_id, id.device_id);
  if (!slot || slot->conn != conn || (!q && !slot->record)) {
    rp.deliver(
      make_tether_error(protocol::errc::internal_error, "queue unavailable"));
    return;
  }
  auto& u = st.users[id.user_id];
  routes_changed(self, u, conn);
  joined_info j{q, u.routes, slot->dedup, {}};
  if (!q)
    j.epoch = slot->record->epoch;
  rp.deliver(std::move(j));
  tell_cluster(self, id, true);
  // Back within the grace: rooms report nothing.
  for (auto& [name, r] : slot->rooms)
    self->send(r, atom::attach_v, id, q);
  // Once the user's presence room runs, every device of the user is in it;
  // it gets diffs only once it asks (joins with presence: true).
  if (u.presence_room && slot->rooms.count(user_room(id.user_id)) == 0)
    join_user_room(self, id);
}

void opened(self_ptr self, caf::typed_response_promise<joined_info> rp,
            const device_identity& id, const connection_actor& conn,
            const registration& r);

// Answers the join with the device's running queue (started if need be).
void join_running(self_ptr self,
                  const caf::typed_response_promise<joined_info>& rp,
                  const device_identity& id, const connection_actor& conn) {
  with_queue(self, id.user_id, id.device_id,
             [self, rp, id, conn](const queue_actor& q) mutable {
               answer_join(self, rp, id, conn, q);
             });
}

// A joining device gets a running queue if it has one, if rooms hold it (they
// publish into it directly) or if the store holds messages for it; else the
// record of its queue, read from the store if this shard has none.
void join_queue(self_ptr self, caf::typed_response_promise<joined_info> rp,
                const device_identity& id, const connection_actor& conn,
                join_load& load) {
  auto& st = self->state;
  auto* slot = find_device(self, id.user_id, id.device_id);
  if (slot->queue || slot->releasing || slot->opening
      || !slot->queue_waiting.empty() || !slot->rooms.empty()
      || st.users[id.user_id].presence_room) {
    join_running(self, rp, id, conn);
    return;
  }
  if (slot->record) {
    answer_join(self, rp, id, conn, queue_actor{});
    return;
  }
  if (load.registered) {
    auto r = std::move(*load.registered);
    load.registered.reset();
    opened(self, rp, id, conn, r);
    return;
  }
  slot->opening = true;
  self
    ->request(st.store, caf::infinite, atom::open_v, slot->id,
              st.params.seq_block)
    .then(
      [self, rp, id, conn](device_record& rec,
                           std::vector<stored_message>& backlog,
                           bool fresh) mutable {
        opened(self, rp, id, conn,
               registration{std::move(rec), std::move(backlog), fresh});
      },
      [self, rp, id, conn](caf::error& err) mutable {
        if (auto* slot = find_device(self, id.user_id, id.device_id))
          slot->opening = false;
        rp.deliver(std::move(err));
      });
}

// The store registered the joining device: its queue's record, or its
// queue started if the store holds messages for it or some came meanwhile.
void opened(self_ptr self, caf::typed_response_promise<joined_info> rp,
            const device_identity& id, const connection_actor& conn,
            const registration& reg) {
  auto& rec = reg.record;
  auto* slot = find_device(self, id.user_id, id.device_id);
  if (!slot) {
    rp.deliver(
      make_tether_error(protocol::errc::internal_error, "queue unavailable"));
    return;
  }
  slot->opening = false;
  if (reg.backlog.empty()) {
    // What the queue would start from (queue_actor.cpp): a known device's
    // seqs continue past its reservation.
    auto r = std::make_unique<queue_record>();
    r->epoch = rec.epoch;
    r->seq_reserved = rec.seq_reserved;
    r->next_seq = reg.fresh ? 1 : rec.seq_reserved + 1;
    r->gap_expired = rec.gap_expired;
    r->gap_evicted = rec.gap_evicted;
    r->gap_dead = rec.gap_dead;
    r->push_last_ms = rec.push_last_ms;
    slot->record = std::move(r);
  }
  // Messages came for it meanwhile, or the store holds some.
  if (!slot->queue_waiting.empty())
    start_queue(self, id.user_id, id.device_id);
  if (slot->record && !slot->queue && slot->queue_waiting.empty()) {
    answer_join(self, rp, id, conn, queue_actor{});
    return;
  }
  join_running(self, rp, id, conn);
}

// Which of `ids` the device sent itself, as far as its window of recent
// ids here remembers (queue.dedup_window): it is not told of those.
std::vector<std::string> sent_by(self_ptr self, const device_slot& d,
                                 const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  if (!d.dedup)
    return out;
  auto now = steady_ms(self);
  std::lock_guard<std::mutex> guard{d.dedup->mx};
  for (auto& id : ids)
    if (d.dedup->window.seen(id, now))
      out.push_back(id);
  return out;
}

// Withdraws `ids` from the queues here of these devices of the user (each
// started if it does not run: an offline device's copies are in the store).
void withdraw_here(self_ptr self, const std::string& user,
                   const std::vector<std::string>& devices,
                   const std::vector<std::string>& ids) {
  for (auto& device : devices) {
    auto* d = find_device(self, user, device);
    if (!d)
      continue;
    with_queue(self, user, device,
               [self, ids,
                sent = sent_by(self, *d, ids)](const queue_actor& q) {
                 if (q)
                   self->send(q, atom::withdraw_v, ids, sent);
               });
  }
}

// The device `by` handled `ids` (SPEC §5.9): every other device of its user
// loses its copies, here or on the node holding its queue (one message per
// node). A device whose node is down keeps them.
void handled(self_ptr self, const device_identity& by,
             const std::vector<std::string>& ids) {
  with_user(self, by.user_id, [self, by, ids](user_slot& u) {
    auto routes = make_routes(u);
    auto& t = *routes;
    std::vector<std::string> here;
    std::vector<std::pair<peer_link_actor, std::vector<std::string>>> nodes;
    for (size_t i = 0; i < t.devices.size(); ++i) {
      auto& device = t.devices[i].device_id;
      if (device == by.device_id)
        continue;
      if (!t.remotes[i]) {
        if (t.down[i].empty())
          here.push_back(device);
        else
          spdlog::info("directory: {}/{} keeps the copies of {} messages "
                       "handled on {}: its node {} is down",
                       by.user_id, device, ids.size(), by.device_id, t.down[i]);
        continue;
      }
      // A queue of it still here (being handed over) loses them too.
      if (auto* d = find_device(u, device); d && d->queue)
        self->send(d->queue, atom::withdraw_v, ids, sent_by(self, *d, ids));
      auto g = std::find_if(nodes.begin(), nodes.end(),
                            [&](auto& x) { return x.first == t.remotes[i]; });
      if (g == nodes.end())
        nodes.emplace_back(t.remotes[i], std::vector{device});
      else
        g->second.push_back(device);
    }
    withdraw_here(self, by.user_id, here, ids);
    for (auto& [node, devices] : nodes)
      self->send(node, atom::handled_v, by, devices, ids);
  });
}

} // namespace

directory_actor::behavior_type
directory(directory_actor::stateful_pointer<directory_state> self,
          orchestrator_actor orchestrator, store_actor store,
          directory_params params, std::shared_ptr<node_metrics> metrics,
          std::shared_ptr<const std::vector<directory_actor>> shards) {
  auto& st = self->state;
  st.shards = std::move(shards);
  st.orchestrator = std::move(orchestrator);
  st.store = std::move(store);
  st.params = std::move(params);
  st.metrics = std::move(metrics);
  self->set_down_handler([=](const caf::down_msg& dm) { on_down(self, dm); });
  // The users gauge forgets this shard's users when it ends.
  self->attach_functor(
    [m = st.metrics, held = st.held] { m->directory_users(-*held); });
  schedule_sweep(self);
  return {
    [=](atom::join, device_identity& id,
        connection_actor& conn) -> caf::result<joined_info> {
      auto rp = self->make_response_promise<joined_info>();
      auto load = std::make_shared<join_load>(join_load{id, std::nullopt});
      with_user(
        self, id.user_id,
        [=](user_slot& u) mutable {
          auto& st = self->state;
          auto* slot = find_device(u, id.device_id);
          if (!slot) {
            u.devices.push_back(device_slot{});
            slot = &u.devices.back();
          }
          if (slot->conn) {
            // The device reconnected while its old link lingered (common on
            // mobile); the newer connection wins.
            spdlog::info("user={} device={}: session {} replaced by {}",
                         id.user_id, id.device_id, slot->id.session_id,
                         id.session_id);
            self->send(slot->conn, atom::close_v,
                       protocol::to_int(protocol::close_code::replaced));
            st.by_addr.erase(slot->conn.address());
            self->demonitor(slot->conn.address());
          }
          slot->id = id;
          slot->conn = conn;
          if (!slot->dedup)
            slot->dedup = std::make_shared<device_dedup>(
              dedup_window{st.params.dedup_window, st.params.dedup_capacity});
          st.by_addr.emplace(conn.address(),
                             std::make_pair(id.user_id, id.device_id));
          self->monitor(conn);
          u.idle_since_ms = -1;
          join_queue(self, rp, id, conn, *load);
        },
        load);
      return rp;
    },
    [=](atom::route, const device_identity& sender,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      auto rp = self->make_response_promise<uint32_t>();
      with_user(self, sender.user_id, [=](user_slot& u) mutable {
        // Offline devices receive too: their queues hold the message. The
        // table (made afresh: a device may have joined since the last
        // one) lists the devices connected to other nodes as well.
        auto routes = make_routes(u);
        auto& t = *routes;
        auto plan = plan_route(t.devices, sender.user_id, sender.device_id,
                               msg->destination, true);
        if (!plan.ok()) {
          rp.deliver(make_tether_error(plan.error, plan.reason));
          return;
        }
        if (plan.recipients.empty()) {
          rp.deliver(uint32_t{0});
          return;
        }
        std::vector<std::string> devices;
        std::vector<size_t> unreachable;
        remote_groups remote;
        for (auto i : plan.recipients) {
          if (t.remotes[i])
            remote.add(t.remotes[i], t.devices[i].device_id);
          else if (!t.down[i].empty())
            unreachable.push_back(i);
          else
            devices.push_back(t.devices[i].device_id);
        }
        auto fi = std::make_shared<fan_in>(rp, devices.size() + remote.size()
                                                 + unreachable.size());
        // Its queue is on a node that is down: it comes back with that node
        // (same data dir); what is sent meanwhile is refused, not lost.
        for (auto i : unreachable)
          fi->failed(t.devices[i].device_id, protocol::errc::node_unavailable,
                     "its queue is on node '" + t.down[i] + "', which is down");
        fan_out(self, sender, devices, msg, fi);
        remote.forward(self, sender, msg, self->state.params.request_timeout,
                       fi, *self->state.metrics);
      });
      return rp;
    },
    [=](atom::routes, const std::string& user,
        std::vector<remote_route>& remote) {
      with_user(self, user, [=](user_slot& u) mutable {
        u.remote = std::move(remote);
        routes_changed(self, u);
      });
    },
    [=](atom::forward, const device_identity& sender,
        const std::vector<std::string>& devices,
        const protocol::message_ptr& msg) -> caf::result<uint32_t> {
      auto rp = self->make_response_promise<uint32_t>();
      with_user(self, sender.user_id, [=](user_slot&) mutable {
        fan_out(self, sender, devices, msg,
                std::make_shared<fan_in>(rp, devices.size()));
      });
      return rp;
    },
    [=](atom::push, const std::string& user, const std::string& device) {
      with_user(self, user, [self, user, device](user_slot&) {
        with_queue(self, user, device, [](const queue_actor&) {});
      });
    },
    [=](atom::handled, const device_identity& by,
        const std::vector<std::string>& ids) { handled(self, by, ids); },
    [=](atom::handled, atom::forward, const device_identity& by,
        const std::vector<std::string>& devices,
        const std::vector<std::string>& ids) {
      with_user(self, by.user_id, [=](user_slot&) {
        withdraw_here(self, by.user_id, devices, ids);
      });
    },
    [=](atom::close, const std::string& user, const std::string& device) {
      auto* d = find_device(self, user, device);
      if (!d || !d->conn)
        return false;
      self->send(d->conn, atom::close_v,
                 protocol::to_int(protocol::close_code::disconnected));
      return true;
    },
    [=](atom::handover, const device_identity& id, peer_link_actor& target,
        uint64_t gen) {
      with_user(self, id.user_id, [=](user_slot& u) mutable {
        auto* d = find_device(u, id.device_id);
        if (!d || d->conn)
          return; // nothing of it here, or it is back here
        with_queue(self, id.user_id, id.device_id,
                   [self, target, gen](const queue_actor& q) {
                     if (q)
                       self->send(q, atom::handover_v, target, gen);
                   });
      });
    },
    [=](atom::handover, const device_identity& id, uint64_t gen,
        const message_list& msgs) -> caf::result<std::vector<std::string>> {
      using refusals = std::vector<std::string>;
      auto rp = self->make_response_promise<refusals>();
      with_user(self, id.user_id, [=](user_slot& u) mutable {
        // The queue here is the device's now, newer than a route to where
        // it was without a connection (its home says otherwise if not).
        auto stale = std::remove_if(u.remote.begin(), u.remote.end(),
                                    [&](const remote_route& r) {
                                      return r.id.device_id == id.device_id
                                             && !r.connected && r.gen <= gen;
                                    });
        if (stale != u.remote.end()) {
          u.remote.erase(stale, u.remote.end());
          routes_changed(self, u);
        }
        if (!find_device(u, id.device_id)) {
          // Known to the node it comes from; its queue here registers it.
          device_slot slot;
          slot.id = id;
          u.devices.push_back(std::move(slot));
        }
        with_queue(
          self, id.user_id, id.device_id,
          [self, rp, id, gen, msgs](const queue_actor& q) mutable {
            if (!q) {
              rp.deliver(make_tether_error(protocol::errc::internal_error,
                                           "queue unavailable"));
              return;
            }
            // Its generation first: the queue here is the next
            // one of the device's, or stays newer (SPEC §14.3).
            self->send(q, atom::generation_v, gen);
            if (msgs.empty()) {
              rp.deliver(refusals{});
              return;
            }
            // In order into the queue; the refused (a full queue)
            // stay with the node they come from.
            struct tally {
              size_t waiting;
              refusals refused;
              std::string why;
            };
            auto t = std::make_shared<tally>(tally{msgs.size(), {}, {}});
            auto done = [t, rp, id]() mutable {
              if (--t->waiting > 0)
                return;
              if (!t->refused.empty())
                spdlog::warn("directory: the queue of {}/{} refused "
                             "{} messages handed to it (first: {})",
                             id.user_id, id.device_id, t->refused.size(),
                             t->why);
              rp.deliver(std::move(t->refused));
            };
            for (auto& m : msgs)
              self->request(q, caf::infinite, atom::enqueue_v, m)
                .then([done](uint32_t) mutable { done(); },
                      [self, t, done, mid = m->id](caf::error& err) mutable {
                        if (t->refused.empty())
                          t->why = self->system().render(err);
                        t->refused.push_back(mid);
                        done();
                      });
          });
      });
      return rp;
    },
    [=](atom::get, const std::string& user) {
      std::vector<device_identity> result;
      if (auto u = self->state.users.find(user); u != self->state.users.end())
        for (auto& d : u->second.devices)
          if (d.conn)
            result.push_back(d.id);
      return result;
    },
    [=](atom::room, atom::join, const device_identity& id,
        const room_ask& ask) { return join(self, id, ask); },
    [=](atom::get, atom::room, const device_identity& id,
        const std::string& name) { return room_of(self, id, name); },
    [=](atom::room, const std::string& name) { return registered(self, name); },
    [=](atom::get, atom::room, const std::string& name) {
      return running(self, name);
    },
    [=](atom::room, atom::leave, const device_identity& id,
        const std::string& name) { leave(self, id, name); },
    [=](atom::room, atom::get, const device_identity& id, const room_ask& ask) {
      return presence_page(self, id, ask);
    },
    [=](atom::status, const presence_update& u) { status(self, u); },
    [=](atom::left, const std::string& user, const std::string& device,
        const std::string& room) {
      if (auto* d = find_device(self, user, device))
        d->rooms.erase(room);
    },
    [=](atom::release) {
      release_queue(self,
                    caf::actor_cast<caf::actor_addr>(self->current_sender()));
    },
    [=](atom::tick) {
      evict(self);
      schedule_sweep(self);
    },
  };
}

} // namespace tether::actors

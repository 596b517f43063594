#include "actors/orchestrator/orchestrator_actor.hpp"
#include "actors/orchestrator/overview.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/directory/shard.hpp"
#include "actors/loop_affinity.hpp"
#include "actors/store/store_actor.hpp"

namespace tether::actors {

namespace {

using self_ptr = orchestrator_actor::stateful_pointer<orchestrator_state>;

// The name atom::restart carries for the directory shards (peer links go
// by their address).
constexpr const char* directory_child_name = "directory";

void spawn_directory(self_ptr self) {
  auto& st = self->state;
  st.shards.clear();
  auto n = std::max<uint32_t>(1, st.params.directory.shards);
  // Spread over the event loops (a user's joins and routes go to its
  // shard from every loop).
  auto* loops = loops_of(self->system());
  auto spread = loops ? loops->loops() : 1;
  // Each shard learns all of them (rooms are registered by name): filled
  // before any of them gets a message.
  auto all = std::make_shared<std::vector<directory_actor>>();
  for (uint32_t i = 0; i < n; ++i) {
    st.shards.push_back(
      spawn_on_loop(self, static_cast<int32_t>(i) % spread, [&] {
        return self->spawn(
          directory, caf::actor_cast<orchestrator_actor>(self), st.store,
          st.params.directory, st.metrics,
          std::shared_ptr<const std::vector<directory_actor>>{all});
      }));
    self->monitor(st.shards.back());
  }
  *all = st.shards;
  st.directory_child.started = self->clock().now();
}

// The shard of a user, or of a room's name.
const directory_actor& shard_for(self_ptr self, const std::string& key) {
  auto& shards = self->state.shards;
  return shards[shard_of(key, shards.size())];
}

bool is_shard(self_ptr self, const caf::actor_addr& a) {
  for (auto& s : self->state.shards)
    if (s.address() == a)
      return true;
  return false;
}

void stop_shards(self_ptr self) {
  for (auto& s : self->state.shards)
    self->send_exit(s, caf::exit_reason::user_shutdown);
  // Their down messages are not a shard's any more.
  self->state.shards.clear();
}

void stop_queues(self_ptr self) {
  auto& st = self->state;
  for (auto& [addr, q] : st.queues)
    self->send_exit(q, caf::exit_reason::user_shutdown);
  st.queues.clear();
  for (auto& [addr, r] : st.rooms)
    self->send_exit(r, caf::exit_reason::user_shutdown);
  st.rooms.clear();
}

// After `child` failed: the delay of its next restart, or none when the
// backoff's attempts or (`limited`) the restart budget are used up. A child
// that stayed up long enough starts again at attempt 0.
std::optional<std::chrono::milliseconds>
next_restart(self_ptr self, permanent_child& child, bool limited) {
  auto& st = self->state;
  auto now = self->clock().now();
  backoff_policy backoff{st.params.backoff};
  if (backoff.stable(std::chrono::duration_cast<std::chrono::milliseconds>(
        now - child.started)))
    child.attempts = 0;
  if (limited && (!backoff.allows(child.attempts) || !child.budget.charge(now)))
    return std::nullopt;
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  return backoff.delay(child.attempts++, uniform(st.rng));
}

void spawn_peer(self_ptr self, const std::string& addr) {
  auto& st = self->state;
  auto& p = st.peers.at(addr);
  auto params = st.params.peer;
  params.host = p.host;
  params.port = p.port;
  p.link = self->spawn(peer_link, std::move(params), st.params.cluster);
  p.restarts.started = self->clock().now();
  self->monitor(p.link);
  st.peer_addrs.emplace(p.link.address(), addr);
}

// A link ended: dialled again after backoff unless it is redundant (the
// address is this node, or its node is linked at another address).
void on_peer_down(self_ptr self, const std::string& addr,
                  const caf::error& reason) {
  auto& st = self->state;
  auto i = st.peers.find(addr);
  if (i == st.peers.end())
    return;
  if (st.stopping || !peer_link_retries(reason)) {
    spdlog::debug("cluster: no link to {}: {}", addr,
                  self->system().render(reason));
    st.peers.erase(i);
    return;
  }
  auto& r = i->second.restarts;
  auto delay = *next_restart(self, r, false);
  // The first failure of a run is worth a line; the retries are not.
  auto level = r.attempts == 1 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "cluster: link to {} ended ({}); dialling again in {} ms",
              addr, self->system().render(reason), delay.count());
  self->delayed_send(self, delay, atom::restart_v, addr, ++r.generation);
}

void stop_children(self_ptr self) {
  auto& st = self->state;
  for (auto& [addr, p] : st.peers)
    if (p.link)
      self->send_exit(p.link, caf::exit_reason::user_shutdown);
  st.peers.clear();
  st.peer_addrs.clear();
  for (auto& [addr, conn] : st.connections)
    self->send_exit(conn.handle, caf::exit_reason::user_shutdown);
  st.connections.clear();
  st.expiries.clear();
  stop_queues(self);
  stop_shards(self);
  if (st.replica)
    self->send_exit(st.replica, caf::exit_reason::user_shutdown);
  // Last: the store commits what the others left in its mailbox.
  self->send_exit(st.store, caf::exit_reason::user_shutdown);
}

void close_all(self_ptr self, protocol::close_code code) {
  for (auto& [addr, conn] : self->state.connections)
    self->send(conn.handle, atom::close_v, protocol::to_int(code));
}

void answer_if_all_gone(self_ptr self) {
  auto& st = self->state;
  if (!st.connections.empty())
    return;
  if (st.stop_promise) {
    st.stop_promise->deliver(atom::ok_v);
    st.stop_promise.reset();
  }
  // What is left to tell has gone by itself.
  st.drain_queue.clear();
  for (auto& rp : st.drain_promises)
    rp.deliver(atom::ok_v);
  st.drain_promises.clear();
}

// A device closed by a drain comes back within this (spread), resuming.
constexpr uint32_t drain_return_ms = 1000;

// When a device closed by the drain is to come back (a draw: spread).
uint32_t drain_back_ms(self_ptr self) {
  return std::uniform_int_distribution<uint32_t>{0, drain_return_ms
                                                      - 1}(self->state.rng);
}

void close_for_drain(self_ptr self, const connection_actor& c) {
  self->send(c, atom::drain_v, drain_back_ms(self));
}

void drain_slot_now(self_ptr self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.drain_per_slot && !st.drain_queue.empty(); ++i) {
    close_for_drain(self, st.drain_queue.back());
    st.drain_queue.pop_back();
  }
  if (!st.drain_queue.empty())
    self->delayed_send(self, drain_slot, atom::drain_v);
  answer_if_all_gone(self);
}

void on_directory_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto& child = st.directory_child;
  if (st.stopping || reason == caf::exit_reason::user_shutdown)
    return;
  // Every registration died with the shard: devices reconnect, queues
  // reload from the store under the new directory (all shards restart
  // together: rooms and queues hold the old ones).
  close_all(self, protocol::close_code::internal_error);
  stop_queues(self);
  stop_shards(self);
  // The dead shards cannot tell the cluster that their devices left.
  if (st.params.cluster)
    self->send(st.params.cluster, atom::closed_v);
  auto delay = next_restart(self, child, true);
  if (!delay) {
    spdlog::error("directory failed too often ({}); stopping the node",
                  self->system().render(reason));
    stop_children(self);
    self->quit(reason);
    return;
  }
  spdlog::error("directory failed ({}); restart {} in {} ms",
                self->system().render(reason), child.attempts, delay->count());
  self->delayed_send(self, *delay, atom::restart_v,
                     std::string{directory_child_name}, ++child.generation);
}

// Asks every queue and room for its summary (each within
// overview_timeout), then answers every waiting request with the overview.
void gather_overview(self_ptr self) {
  auto& st = self->state;
  auto o = std::make_shared<node_overview>();
  o->node_id = st.params.peer.self.node_id;
  o->started_ms = st.params.peer.self.incarnation;
  // One more than the asks: the last done() below answers if none is left.
  auto pending
    = std::make_shared<size_t>(st.queues.size() + st.rooms.size() + 1);
  auto done = [self, o, pending] {
    if (--*pending > 0)
      return;
    auto json = render_overview(std::move(*o), *self->state.metrics);
    for (auto& rp : self->state.overview_waiters)
      rp.deliver(json);
    self->state.overview_waiters.clear();
  };
  auto missed = [o, done](const caf::error&) {
    ++o->unanswered;
    done();
  };
  auto timeout = st.params.overview_timeout;
  for (auto& [addr, q] : st.queues)
    self->request(q, timeout, atom::get_v, atom::queue_v)
      .then(
        [o, done](queue_summary& s) {
          o->queues.push_back(std::move(s));
          done();
        },
        missed);
  for (auto& [addr, r] : st.rooms)
    self->request(r, timeout, atom::get_v, atom::room_v)
      .then(
        [o, done](room_summary& s) {
          o->rooms.push_back(std::move(s));
          done();
        },
        missed);
  done();
}

} // namespace

orchestrator_state::~orchestrator_state() {
  auto end = [](const auto& child) {
    caf::anon_send_exit(child, caf::exit_reason::user_shutdown);
  };
  for (auto& [addr, conn] : connections)
    end(conn.handle);
  for (auto& [addr, p] : peers)
    if (p.link)
      end(p.link);
  for (auto& [addr, q] : queues)
    end(q);
  for (auto& [addr, r] : rooms)
    end(r);
  for (auto& s : shards)
    end(s);
  if (replica)
    end(replica);
  if (store)
    end(store); // last: it commits what the others left in its mailbox
}

namespace {

// A device's queue; its home is the user's directory shard (which keeps
// the record of a released queue).
queue_actor spawn_queue(self_ptr self, const device_identity& id,
                        queue_restore restore) {
  auto& st = self->state;
  // (No shards: the directory is being restarted; no home, no release.)
  auto home = st.shards.empty() ? queue_home{}
                                : queue_home{shard_for(self, id.user_id)};
  auto q = self->spawn(queue, id, st.queue_store, st.params.queue, st.metrics,
                       std::move(home), std::move(restore));
  self->monitor(q);
  st.queues.emplace(q.address(), q);
  return q;
}

// The connections' token expiries: one timer, armed for the earliest.
void arm_expiry(orchestrator_actor::stateful_pointer<orchestrator_state> self) {
  auto& st = self->state;
  if (st.expiries.empty())
    return;
  auto at = st.expiries.begin()->first;
  if (st.expiry_timer_ms && *st.expiry_timer_ms <= at)
    return;
  st.expiry_timer_ms = at;
  auto delay = std::max<int64_t>(0, at - wall_ms(self));
  self->delayed_send(self, std::chrono::milliseconds{delay}, atom::expire_v,
                     ++st.expiry_generation);
}

} // namespace

size_t drain_per_slot(size_t n, std::chrono::milliseconds window,
                      uint32_t rate) {
  auto slots = static_cast<size_t>(
    std::max<int64_t>(1, window.count() / drain_slot.count()));
  auto within_window = (n + slots - 1) / slots;
  auto at_rate = (static_cast<size_t>(rate) * drain_slot.count() + 999) / 1000;
  return std::max<size_t>({1, within_window, rate == 0 ? 0 : at_rate});
}

std::chrono::milliseconds
drain_duration(size_t n, std::chrono::milliseconds window, uint32_t rate) {
  auto per_slot = drain_per_slot(n, window, rate);
  auto slots = (n + per_slot - 1) / per_slot;
  return drain_slot * static_cast<int64_t>(slots > 0 ? slots - 1 : 0);
}

orchestrator_actor::behavior_type
orchestrator(orchestrator_actor::stateful_pointer<orchestrator_state> self,
             orchestrator_params params,
             std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.params = std::move(params);
  // Its children reach the cluster through the handle it was given.
  st.params.directory.cluster = st.params.cluster;
  st.params.directory.seq_block = st.params.queue.seq_block;
  st.params.room.cluster = st.params.cluster;
  st.params.directory.room_rules = st.params.room.rules;
  st.metrics = std::move(metrics);
  st.clock = wall_clock{self->clock().now()};
  st.directory_child.budget = restart_budget{st.params.budget};
  if (st.params.detached_store)
    st.store = self->spawn<caf::detached>(store, st.params.log, st.metrics,
                                          st.params.store);
  else
    st.store = self->spawn(store, st.params.log, st.metrics, st.params.store);
  self->monitor(st.store);
  st.queue_store = st.store;
  if (st.params.cluster && st.params.replica.factor > 1) {
    st.replica = self->spawn(replica, st.store, st.params.cluster, st.metrics,
                             st.params.replica);
    self->monitor(st.replica);
    st.queue_store = caf::actor_cast<store_actor>(st.replica);
    self->send(st.params.cluster, atom::replicate_v, st.replica);
  }
  st.params.connection.store = st.queue_store;
  // One pusher for the node, given to every queue; it dies with the node
  // (linked), so a queue never pushes into nothing.
  if (st.params.pushes)
    st.params.queue.pusher = self->spawn<caf::linked>(
      pusher, st.params.pushes, st.store, st.metrics, st.params.pusher);
  st.shared_connection_params
    = std::make_shared<const connection_params>(st.params.connection);
  spawn_directory(self);
  // Stored messages that may call for a push (SPEC §5.10): their devices'
  // queues start now, so a node that restarts still pushes for them once
  // push.delay passed without the device.
  if (st.params.queue.pusher)
    self
      ->request(st.store, caf::infinite, atom::push_v, atom::backlog_v,
                static_cast<uint8_t>(st.params.queue.push.min_priority))
      .then(
        [self](std::vector<device_record>& devices) {
          if (!devices.empty())
            spdlog::info("push: {} devices have stored messages that may "
                         "call for a push",
                         devices.size());
          for (auto& d : devices)
            if (!self->state.shards.empty())
              self->send(shard_for(self, d.user_id), atom::push_v, d.user_id,
                         d.device_id);
        },
        [](caf::error& err) {
          spdlog::error("push: cannot list stored messages to push for: {}",
                        caf::to_string(err));
        });
  // Children die with their supervisor (monitors do not propagate exits).
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    stop_children(self);
    self->quit(msg.reason);
  });
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& st = self->state;
    if (is_shard(self, dm.source)) {
      on_directory_down(self, dm.reason);
      return;
    }
    if (auto p = st.peer_addrs.find(dm.source); p != st.peer_addrs.end()) {
      auto addr = std::move(p->second);
      st.peer_addrs.erase(p);
      on_peer_down(self, addr, dm.reason);
      return;
    }
    // The store (the durable log is in an unknown state) or the replica
    // actor in front of it (writes waiting for their copies are lost with
    // it): stop, let the service manager restart the node, recover from
    // disk.
    auto is_store = dm.source == st.store.address();
    if (is_store || (st.replica && dm.source == st.replica.address())) {
      if (dm.reason != caf::exit_reason::user_shutdown) {
        spdlog::error("{} failed ({}); stopping the node",
                      is_store ? "store" : "replica actor",
                      self->system().render(dm.reason));
        stop_children(self);
        self->quit(dm.reason);
      }
      return;
    }
    if (auto r = st.rooms.find(dm.source); r != st.rooms.end()) {
      if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
        spdlog::error("room failed: {}", self->system().render(dm.reason));
      st.rooms.erase(r);
      return;
    }
    if (auto q = st.queues.find(dm.source); q != st.queues.end()) {
      if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
        spdlog::error("queue failed: {}", self->system().render(dm.reason));
      st.queues.erase(q);
      return;
    }
    if (auto c = st.connections.find(dm.source); c != st.connections.end()) {
      st.expiries.erase({c->second.expires_ms, dm.source});
      st.connections.erase(c);
    }
    answer_if_all_gone(self);
  });
  return {
    [=](atom::open, std::shared_ptr<session_port>& port) {
      auto& st = self->state;
      if (st.draining && !st.stopping) {
        // Its upgrade raced the start of the drain.
        port->close(protocol::to_int(protocol::close_code::service_restart),
                    protocol::drain_reason(drain_back_ms(self)));
        return;
      }
      if (st.stopping) {
        port->close(
          protocol::to_int(protocol::close_code::going_away),
          std::string{protocol::reason(protocol::close_code::going_away)});
        return;
      }
      if (st.shards.empty()) {
        // The directory is being restarted: the device retries later.
        port->close(
          protocol::to_int(protocol::close_code::internal_error),
          std::string{protocol::reason(protocol::close_code::internal_error)});
        return;
      }
      // (A session whose token expired already is closed by its connection
      // at once.)
      auto expires_ms = port->info().session_expires_at * 1000;
      // The connection (and the batcher it spawns) live on the loop of the
      // socket.
      auto conn = spawn_on_loop(self, port->loop(), [&] {
        auto user = port->info().user_id;
        return self->spawn(connection, std::move(port), shard_for(self, user),
                           st.shared_connection_params, st.metrics);
      });
      self->monitor(conn);
      if (expires_ms <= wall_ms(self))
        expires_ms = 0;
      st.connections.emplace(
        conn.address(), orchestrator_state::connection_child{conn, expires_ms});
      if (expires_ms != 0) {
        st.expiries.emplace(expires_ms, conn.address());
        arm_expiry(self);
      }
    },
    [=](atom::expire, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.expiry_generation)
        return;
      st.expiry_timer_ms.reset();
      auto now = wall_ms(self);
      while (!st.expiries.empty() && st.expiries.begin()->first <= now) {
        auto addr = st.expiries.begin()->second;
        st.expiries.erase(st.expiries.begin());
        if (auto c = st.connections.find(addr); c != st.connections.end())
          self->send(c->second.handle, atom::expire_v);
      }
      arm_expiry(self);
    },
    [=](atom::queue, const device_identity& id) {
      return spawn_queue(self, id, queue_restore{});
    },
    [=](atom::queue, const device_identity& id, queue_record& record,
        connection_actor& conn) {
      return spawn_queue(self, id,
                         queue_restore{std::move(record), std::move(conn)});
    },
    [=](atom::room, const std::string& name) -> room_actor {
      auto& st = self->state;
      auto r = self->spawn(room, name, st.shards, st.params.room, st.metrics,
                           st.params.queue.test_clock_skew);
      self->monitor(r);
      st.rooms.emplace(r.address(), r);
      return r;
    },
    [=](atom::get, atom::room,
        const std::string& name) -> caf::result<room_actor> {
      if (self->state.shards.empty())
        return room_actor{};
      return self->delegate(shard_for(self, name), atom::get_v, atom::room_v,
                            name);
    },
    [=](atom::get, atom::directory, const std::string& user) {
      return self->state.shards.empty() ? directory_actor{}
                                        : shard_for(self, user);
    },
    [=](atom::get, atom::backlog) -> caf::result<std::vector<device_record>> {
      auto rp = self->make_response_promise<std::vector<device_record>>();
      self
        ->request(self->state.store, caf::infinite, atom::get_v,
                  atom::backlog_v)
        .then(
          [rp](std::vector<device_record>& r) mutable {
            rp.deliver(std::move(r));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atom::get, atom::overview) -> caf::result<std::string> {
      auto& st = self->state;
      auto rp = self->make_response_promise<std::string>();
      st.overview_waiters.push_back(rp);
      if (st.overview_waiters.size() == 1)
        gather_overview(self);
      return rp;
    },
    [=](atom::linked, const std::string& node) {
      for (auto& [addr, r] : self->state.rooms)
        self->send(r, atom::linked_v, node);
    },
    [=](atom::unlinked, const std::string& node) {
      for (auto& [addr, r] : self->state.rooms)
        self->send(r, atom::unlinked_v, node);
    },
    [=](atom::tick) {
      for (auto& [addr, q] : self->state.queues)
        self->send(q, atom::tick_v, uint64_t{0});
    },
    [=](atom::stop) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto rp = self->make_response_promise<atom::ok>();
      st.stopping = true;
      st.stop_promise = rp;
      close_all(self, protocol::close_code::going_away);
      answer_if_all_gone(self);
      self->delayed_send(self, st.params.stop_timeout, atom::deadline_v);
      return rp;
    },
    [=](atom::drain, uint32_t window_ms,
        uint32_t rate) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto rp = self->make_response_promise<atom::ok>();
      st.drain_promises.push_back(rp);
      if (st.draining) {
        answer_if_all_gone(self);
        return rp;
      }
      st.draining = true;
      for (auto& [addr, c] : st.connections)
        st.drain_queue.push_back(c.handle);
      std::shuffle(st.drain_queue.begin(), st.drain_queue.end(), st.rng);
      st.drain_per_slot = drain_per_slot(
        st.drain_queue.size(), std::chrono::milliseconds{window_ms}, rate);
      spdlog::info("draining: closing {} sessions with 1012, {} every {} ms",
                   st.drain_queue.size(), st.drain_per_slot,
                   drain_slot.count());
      drain_slot_now(self);
      return rp;
    },
    [=](atom::drain) { drain_slot_now(self); },
    [=](atom::link, std::string& host, uint16_t port) {
      auto& st = self->state;
      auto addr = host + ":" + std::to_string(port);
      if (st.stopping || !st.params.cluster || st.peers.count(addr) != 0)
        return;
      auto& p = st.peers[addr];
      p.host = std::move(host);
      p.port = port;
      spawn_peer(self, addr);
    },
    [=](atom::restart, const std::string& name, uint64_t generation) {
      auto& st = self->state;
      if (auto p = st.peers.find(name); p != st.peers.end()) {
        if (!st.stopping && generation == p->second.restarts.generation) {
          st.metrics->link_restarted();
          spawn_peer(self, name);
        }
        return;
      }
      if (name != directory_child_name || st.stopping
          || generation != st.directory_child.generation)
        return; // a peer link dropped meanwhile, or a superseded restart
      spawn_directory(self);
    },
    [=](atom::deadline) {
      auto& st = self->state;
      if (!st.stop_promise)
        return;
      spdlog::warn("{} connections did not close within {} ms; killing them",
                   st.connections.size(), st.params.stop_timeout.count());
      // Their down messages complete the stop.
      for (auto& [addr, conn] : st.connections)
        self->send_exit(conn.handle, caf::exit_reason::kill);
    },
  };
}

} // namespace tether::actors

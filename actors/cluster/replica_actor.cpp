#include "actors/cluster/replica_actor.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/replication.hpp"
#include "actors/directory/placement.hpp"

namespace tether::actors {

namespace {

using self_ptr = replica_actor::stateful_pointer<replica_state>;

/// Rows a snapshot part holds at most (a batch of a handover's size).
constexpr size_t snapshot_part = 256;

// (Never null: this node alone until the cluster actor tells more.)
const std::vector<std::string>& live_of(self_ptr self) {
  return self->state.links->live;
}

bool alive(self_ptr self, const std::string& node) {
  auto& live = live_of(self);
  return std::binary_search(live.begin(), live.end(), node);
}

peer_link_actor link_to(self_ptr self, const std::string& node) {
  auto& peers = self->state.links->peers;
  auto i = peers.find(node);
  return i != peers.end() ? i->second : peer_link_actor{};
}

std::vector<std::string> followers(self_ptr self, const std::string& user,
                                   const std::string& device,
                                   const std::vector<std::string>& live) {
  auto& p = self->state.params;
  return followers_of(device_key(user, device), p.self, live, p.factor);
}

void remember(self_ptr self, const device_record& r) {
  auto& d = self->state.devices[device_key(r.user_id, r.device_id)];
  d.type = r.type;
  d.role = r.role;
  d.gen = std::max(d.gen, r.gen);
}

/// Runs `f` with what the store knows of a device led here (its type, role
/// and generation), asking the store once if this actor does not know it.
void with_info(
  self_ptr self, const std::string& user, const std::string& device,
  const std::function<void(const replica_state::device_info&)>& f) {
  auto& st = self->state;
  if (auto i = st.devices.find(device_key(user, device));
      i != st.devices.end()) {
    f(i->second);
    return;
  }
  self->request(st.store, caf::infinite, atom::get_v, atom::devices_v, user)
    .then(
      [self, user, device, f](std::vector<device_record>& records) {
        for (auto& r : records)
          remember(self, r);
        auto& devices = self->state.devices;
        auto i = devices.find(device_key(user, device));
        f(i != devices.end() ? i->second : replica_state::device_info{});
      },
      [self, user, device, f](caf::error& err) {
        spdlog::error("replica: cannot read the device {}/{}: {}", user, device,
                      self->system().render(err));
        f(replica_state::device_info{});
      });
}

replica_header header_of(self_ptr self, const std::string& user,
                         const std::string& device,
                         const replica_state::device_info& info,
                         std::vector<std::string> followers) {
  replica_header h;
  h.leader = self->state.params.self;
  h.user_id = user;
  h.device_id = device;
  h.type = info.type;
  h.role = info.role;
  h.gen = info.gen;
  h.followers = std::move(followers);
  h.lineage = self->state.params.lineage;
  return h;
}

// A batch missed `follower`: the next repair sends it a snapshot (one is
// started after the timeout if none is under way).
void mark_dirty(self_ptr self, const std::string& user,
                const std::string& device, const std::string& follower) {
  auto& st = self->state;
  if (st.dirty.empty())
    self->delayed_send(self, st.params.timeout, atom::replicate_v);
  st.dirty[{user, device}].insert(follower);
}

/// Sends one batch to a follower; `done(stored)` with its answer (false
/// for a refusal, a stale answer, or none).
void send_batch(self_ptr self, const std::string& follower, replica_batch b,
                const std::function<void(bool)>& done) {
  auto& st = self->state;
  auto link = link_to(self, follower);
  auto user = b.header.user_id;
  auto device = b.header.device_id;
  if (!link) {
    st.metrics->replicated(replica_event::failed);
    mark_dirty(self, user, device, follower);
    done(false);
    return;
  }
  st.metrics->replicated(replica_event::sent);
  self->request(link, st.params.timeout, atom::replicate_v, std::move(b))
    .then(
      [self, user, device, follower, done](bool applied) {
        if (!applied) {
          // It holds a newer generation of this device's queue than this
          // node does: this node's copy is the stale one.
          self->state.metrics->replicated(replica_event::stale);
          spdlog::warn("replica: {} refused a batch of {}/{} as stale",
                       follower, user, device);
        }
        done(applied);
      },
      [self, user, device, follower, done](caf::error& err) {
        self->state.metrics->replicated(replica_event::failed);
        mark_dirty(self, user, device, follower);
        spdlog::debug("replica: a batch of {}/{} did not reach {}: {}", user,
                      device, follower, self->system().render(err));
        done(false);
      });
}

// A durable row of a queue led here: on this node's disk and the
// followers', answered once a majority of the replica set has it.
void append(self_ptr self, stored_message row,
            caf::typed_response_promise<atom::ok> rp) {
  auto& st = self->state;
  auto set = followers(self, row.user_id, row.device_id, live_of(self));
  auto q = std::make_shared<quorum_count>(st.params.factor, set.size());
  auto fail = [self, rp, q]() mutable {
    auto& p = self->state.params;
    self->state.metrics->replicated(replica_event::no_quorum);
    if (rp.pending())
      rp.deliver(make_tether_error(
        protocol::errc::node_unavailable,
        "fewer than " + std::to_string(replica_quorum(p.factor)) + " of its "
          + std::to_string(p.factor)
          + " replicas could store the message (SPEC 14.3)"));
  };
  auto stored = [rp, q]() mutable {
    if (q->stored() && rp.pending())
      rp.deliver(atom::ok_v);
  };
  self->request(st.store, caf::infinite, atom::append_v, row)
    .then([stored](atom::ok) mutable { stored(); },
          [rp](caf::error& err) mutable {
            if (rp.pending())
              rp.deliver(std::move(err));
          });
  if (q->hopeless()) {
    fail();
    return;
  }
  auto user = row.user_id;
  auto device = row.device_id;
  with_info(
    self, user, device,
    [self, row = std::move(row), set, q, stored,
     fail](const replica_state::device_info& info) mutable {
      for (auto& f : set) {
        replica_batch b;
        b.header = header_of(self, row.user_id, row.device_id, info, set);
        b.rows.push_back(row);
        send_batch(self, f, std::move(b), [q, stored, fail](bool ok) mutable {
          if (ok)
            stored();
          else if (q->failed())
            fail();
        });
      }
    });
}

// Retirements of a queue led here (one-way: a follower that misses them
// keeps a row that a takeover would deliver again, with its id).
void retire(self_ptr self, const message_keys& keys) {
  auto set = followers(self, keys.user_id, keys.device_id, live_of(self));
  if (set.empty() || keys.qids.empty())
    return;
  with_info(self, keys.user_id, keys.device_id,
            [self, keys, set](const replica_state::device_info& info) {
              for (auto& f : set) {
                replica_batch b;
                b.header = header_of(self, keys.user_id, keys.device_id, info,
                                     set);
                b.removed = keys.qids;
                send_batch(self, f, std::move(b), [](bool) {});
              }
            });
}

// -- repair ----------------------------------------------------------------

// Sends the device's rows (read from the store) to `to` as a snapshot in
// parts, and a drop to `drop` (followers that left its replica set).
void repair_device(self_ptr self, const device_record& r,
                   const std::set<std::string>& to,
                   const std::set<std::string>& drop) {
  auto& st = self->state;
  remember(self, r);
  auto set = followers(self, r.user_id, r.device_id, live_of(self));
  auto info = st.devices[device_key(r.user_id, r.device_id)];
  for (auto& f : drop) {
    replica_batch b;
    b.header = header_of(self, r.user_id, r.device_id, info, set);
    b.drop = true;
    st.metrics->replicated(replica_event::repaired);
    send_batch(self, f, std::move(b), [](bool) {});
  }
  if (to.empty())
    return;
  device_identity id;
  id.user_id = r.user_id;
  id.device_id = r.device_id;
  id.type = static_cast<protocol::device_type>(std::min<uint8_t>(r.type, 3));
  id.role = r.role;
  self->request(st.store, caf::infinite, atom::open_v, id, uint64_t{0})
    .then(
      [self, to, set, info](device_record& rec,
                            std::vector<stored_message>& rows, bool) {
        uint64_t after = 0;
        size_t i = 0;
        do {
          replica_batch b;
          b.header = header_of(self, rec.user_id, rec.device_id, info, set);
          b.after = after;
          auto end = std::min(rows.size(), i + snapshot_part);
          for (; i < end; ++i)
            b.rows.push_back(rows[i]);
          // The last part covers every key this queue may have used.
          b.upto = i < rows.size()
                     ? b.rows.back().qid
                     : std::max<uint64_t>(rows.empty() ? 0 : rows.back().qid,
                                          rec.next_qid > 0 ? rec.next_qid - 1
                                                           : 0);
          if (b.upto <= after)
            b.upto = after + 1;
          after = b.upto;
          for (auto& f : to) {
            self->state.metrics->replicated(replica_event::repaired);
            send_batch(self, f, b, [](bool) {});
          }
        } while (i < rows.size());
      },
      [self, r](caf::error& err) {
        spdlog::error("replica: cannot read the queue of {}/{} to repair it: "
                      "{}",
                      r.user_id, r.device_id, self->system().render(err));
      });
}

void repair_round(self_ptr self, uint64_t pass) {
  auto& st = self->state;
  if (pass != st.repair_pass)
    return; // superseded by a newer change
  const auto& live = live_of(self);
  for (size_t n = 0; n < st.params.repair_batch && !st.to_repair.empty(); ++n) {
    auto r = std::move(st.to_repair.front());
    st.to_repair.pop_front();
    auto now = followers(self, r.user_id, r.device_id, live);
    auto then = followers(self, r.user_id, r.device_id, st.repair_old_live);
    std::set<std::string> to;
    std::set<std::string> drop;
    for (auto& f : now)
      if (std::find(then.begin(), then.end(), f) == then.end())
        to.insert(f);
    for (auto& f : then)
      if (std::find(now.begin(), now.end(), f) == now.end()
          && std::binary_search(live.begin(), live.end(), f))
        drop.insert(f);
    if (auto d = st.repairing_dirty.find({r.user_id, r.device_id});
        d != st.repairing_dirty.end()) {
      for (auto& f : d->second)
        if (std::find(now.begin(), now.end(), f) != now.end())
          to.insert(f);
      st.repairing_dirty.erase(d);
    }
    if (!to.empty() || !drop.empty())
      repair_device(self, r, to, drop);
  }
  if (st.to_repair.empty()) {
    // (Misses of devices this node never knew need nothing.)
    st.repairing_dirty.clear();
    st.repair_running = false;
    st.repaired_for = live;
    if (!st.dirty.empty())
      self->delayed_send(self, st.params.timeout, atom::replicate_v);
    return;
  }
  self->delayed_send(self, st.params.repair_pause, atom::replicate_v);
}

// Starts a pass over the queues led here (after members changed, or to
// reach followers a batch missed).
void start_repair(self_ptr self) {
  auto& st = self->state;
  auto pass = ++st.repair_pass;
  self->request(st.store, caf::infinite, atom::get_v, atom::backlog_v)
    .then(
      [self, pass](std::vector<device_record>& records) {
        auto& st = self->state;
        if (pass != st.repair_pass)
          return;
        st.to_repair.assign(records.begin(), records.end());
        st.repair_old_live = st.repaired_for;
        // Misses from now on are for the next pass.
        for (auto& [k, v] : st.dirty)
          st.repairing_dirty[k].insert(v.begin(), v.end());
        st.dirty.clear();
        // A device whose queue here holds nothing now (delivered, or
        // handed on) is no backlog, yet a follower that missed a
        // retirement keeps rows of it: an empty snapshot clears them (a
        // takeover would deliver them again, or fill the device's queue).
        std::set<std::pair<std::string, std::string>> listed;
        for (auto& r : records)
          listed.emplace(r.user_id, r.device_id);
        for (auto& [k, v] : st.repairing_dirty) {
          auto info = st.devices.find(device_key(k.first, k.second));
          if (listed.count(k) > 0 || info == st.devices.end())
            continue;
          device_record r;
          r.user_id = k.first;
          r.device_id = k.second;
          r.type = info->second.type;
          r.role = info->second.role;
          r.gen = info->second.gen;
          st.to_repair.push_back(std::move(r));
        }
        st.repair_running = true;
        repair_round(self, pass);
      },
      [self](caf::error& err) {
        spdlog::error("replica: cannot list the queues to repair: {}",
                      self->system().render(err));
      });
}

// Runs `found` with the header of the copy here of `leader`'s queue of
// (user, device) (null: no such copy), or `failed` if the store cannot
// list the leader's copies.
void with_copy(self_ptr self, const std::string& leader,
               const std::string& user, const std::string& device,
               const std::function<void(const replica_header*)>& found,
               const std::function<void(caf::error&)>& failed) {
  auto& st = self->state;
  self->request(st.store, caf::infinite, atom::get_v, atom::replicate_v, leader)
    .then(
      [user, device, found](std::vector<replica_header>& copies) {
        for (auto& h : copies)
          if (h.user_id == user && h.device_id == device) {
            found(&h);
            return;
          }
        found(nullptr);
      },
      [failed](caf::error& err) { failed(err); });
}

// The copy of `h`'s queue here goes into the device's queue on this node:
// fenced at `gen` (the old leader's batches are refused from then on),
// with `theirs` (rows other copies hold that it lacks) written to it first,
// its rows are handed to the queue as a handover's would be (in the
// leader's order; those delivered here already are dropped), and those the
// queue took leave the copy (those it refused stay in it). `done(true)`
// once the queue here holds the device's queue (false: the copy could not
// be read or handed to it). The copy stays whole until the queue answered:
// a node that fails on the way keeps it.
void adopt(self_ptr self, const replica_header& h, uint64_t gen,
           const std::shared_ptr<std::vector<stored_message>>& theirs,
           const std::function<void(bool)>& done) {
  auto& st = self->state;
  self
    ->request(st.store, caf::infinite, atom::get_v, atom::replicate_v, h.leader,
              h.user_id, h.device_id, gen, st.params.self)
    .then(
      [self, h, gen, theirs, done](std::vector<stored_message>& mine) {
        auto& st = self->state;
        std::vector<uint64_t> have;
        have.reserve(mine.size());
        for (auto& m : mine)
          have.push_back(m.qid);
        std::vector<uint64_t> seen;
        seen.reserve(theirs->size());
        for (auto& m : *theirs)
          seen.push_back(m.qid);
        auto missing = missing_rows(have, seen);
        replica_batch b;
        b.header = h;
        b.header.gen = gen; // the copy here is fenced at it already
        for (auto& m : *theirs)
          if (std::binary_search(missing.begin(), missing.end(), m.qid)) {
            b.rows.push_back(m);
            missing.erase(
              std::lower_bound(missing.begin(), missing.end(), m.qid));
          }
        auto rows = std::move(mine);
        rows.insert(rows.end(), b.rows.begin(), b.rows.end());
        std::sort(rows.begin(), rows.end(),
                  [](const stored_message& x, const stored_message& y) {
                    return x.qid < y.qid;
                  });
        auto caught_up = b.rows.size();
        if (caught_up > 0)
          self
            ->request(st.store, caf::infinite, atom::replicate_v, std::move(b))
            .then([](uint8_t) {}, [](caf::error&) {});
        device_identity id;
        id.user_id = h.user_id;
        id.device_id = h.device_id;
        id.type
          = static_cast<protocol::device_type>(std::min<uint8_t>(h.type, 3));
        id.role = h.role;
        self
          ->request(st.cluster, caf::infinite, atom::promote_v, id, h.gen, rows)
          .then(
            [self, h, rows, caught_up,
             done](std::vector<std::string>& refused) {
              message_keys taken{h.user_id, h.device_id, {}};
              for (auto& m : rows)
                if (std::find(refused.begin(), refused.end(), m.msg_id)
                    == refused.end())
                  taken.qids.push_back(m.qid);
              self->send(self->state.store, atom::remove_v, atom::replicate_v,
                         h.leader, std::move(taken));
              spdlog::warn("replica: the queue of {}/{} led by {} is here now "
                           "({} rows, {} caught up from the other followers, "
                           "{} refused by the queue)",
                           h.user_id, h.device_id, h.leader, rows.size(),
                           caught_up, refused.size());
              done(true);
            },
            [self, h, done](caf::error& err) {
              spdlog::error("replica: cannot hand the copy of {}/{} to its "
                            "queue here: {}",
                            h.user_id, h.device_id, self->system().render(err));
              done(false);
            });
      },
      [self, h, done](caf::error& err) {
        // No copy any more: nothing left to adopt.
        if (to_errc(err) == protocol::errc::unknown_device) {
          done(true);
          return;
        }
        spdlog::error("replica: cannot read the copy of {}/{}: {}", h.user_id,
                      h.device_id, self->system().render(err));
        done(false);
      });
}

// The copy `h` here is an orphan (its leader is back with another store:
// the queue is gone from it): this node adopts it, then runs `then` (at
// once if an adoption of it is under way: after that one).
void adopt_orphan(self_ptr self, const replica_header& h,
                  std::function<void()> then) {
  auto& st = self->state;
  auto key = std::make_tuple(h.leader, h.user_id, h.device_id);
  auto [i, fresh] = st.adopting.try_emplace(key);
  i->second.push_back(std::move(then));
  if (!fresh)
    return;
  spdlog::warn("replica: {} is back with another store: the copy of its "
               "queue of {}/{} here is all that is left of it, and goes into "
               "the device's queue here",
               h.leader, h.user_id, h.device_id);
  adopt(self, h, takeover_generation(h.gen),
        std::make_shared<std::vector<stored_message>>(),
        [self, key](bool held) {
          auto& st = self->state;
          if (held)
            st.metrics->replicated(replica_event::adopted);
          auto i = st.adopting.find(key);
          if (i == st.adopting.end())
            return;
          auto waiting = std::move(i->second);
          st.adopting.erase(i);
          for (auto& f : waiting)
            f();
        });
}

// Node `leader` is live with store `store_id`: the copies here of queues
// it led with another store are orphans.
void check_lineage(self_ptr self, const std::string& leader,
                   const std::string& store_id) {
  auto& st = self->state;
  self->request(st.store, caf::infinite, atom::get_v, atom::replicate_v, leader)
    .then(
      [self, store_id](std::vector<replica_header>& copies) {
        for (auto& h : copies)
          if (!h.lineage.empty() && h.lineage != store_id)
            adopt_orphan(self, h, [] {});
      },
      [self, leader](caf::error& err) {
        spdlog::error("replica: cannot list the copies of {}'s queues: {}",
                      leader, self->system().render(err));
      });
}

// Applies a leader's batch to the copy here; an orphan copy in its way is
// adopted first (once).
void apply_batch(self_ptr self, replica_batch b,
                 caf::typed_response_promise<bool> rp, bool may_adopt) {
  auto& st = self->state;
  self->request(st.store, caf::infinite, atom::replicate_v, b)
    .then(
      [self, b, rp, may_adopt](uint8_t outcome) mutable {
        auto& st = self->state;
        switch (static_cast<replica_outcome>(outcome)) {
          case replica_outcome::stored:
            st.metrics->replicated(replica_event::stored);
            rp.deliver(true);
            return;
          case replica_outcome::orphan:
            if (may_adopt) {
              auto again = [self, b, rp]() mutable {
                apply_batch(self, std::move(b), rp, false);
              };
              with_copy(
                self, b.header.leader, b.header.user_id, b.header.device_id,
                [self, again](const replica_header* h) mutable {
                  if (h)
                    adopt_orphan(self, *h, again);
                  else
                    again();
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
              return;
            }
            break;
          case replica_outcome::stale:
            break;
        }
        st.metrics->replicated(replica_event::stale);
        rp.deliver(false);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

// -- failover --------------------------------------------------------------

// This node takes over the queue whose copy `h` it keeps (its leader is
// gone and this node is the first live follower of its list): what the
// other live followers hold that it lacks first, then the takeover (the
// copies go into the device's queue here). The copies it gathers are
// fenced at the new generation as they are given: the old leader, should
// it live on unseen, cannot reach a majority any more. (A takeover without
// enough copies fences too few to stop it: at most takeover_copies - 2,
// while it needs quorum - 1 of the others.)
void take_over(self_ptr self, const replica_header& h) {
  auto& st = self->state;
  std::vector<std::string> others;
  for (auto& f : h.followers)
    if (f != st.params.self && alive(self, f) && link_to(self, f))
      others.push_back(f);
  auto theirs = std::make_shared<std::vector<stored_message>>();
  auto waiting = std::make_shared<size_t>(others.size() + 1);
  // This node's copy and each other follower's that answered with one.
  auto copies = std::make_shared<size_t>(1);
  auto promote = [self, h, theirs, copies]() {
    auto& st = self->state;
    if (*copies < takeover_copies(st.params.factor)) {
      // A minority side, or followers without their copies: what they lack
      // may have been acked. The leader's return, or more followers, decide.
      spdlog::warn("replica: the queue of {}/{} (leader {} gone) is not "
                   "taken over: {} of the {} copies it needs are reachable",
                   h.user_id, h.device_id, h.leader, *copies,
                   takeover_copies(st.params.factor));
      st.unresolved.insert(h.leader);
      return;
    }
    auto gen = takeover_generation(h.gen);
    adopt(self, h, gen, theirs, [self, h, gen](bool held) {
      auto& st = self->state;
      if (!held) {
        // (Logged.) Its copy stays: tried again when the members change.
        st.unresolved.insert(h.leader);
        return;
      }
      st.metrics->replicated(replica_event::taken_over);
      device_record rec;
      rec.user_id = h.user_id;
      rec.device_id = h.device_id;
      rec.type = h.type;
      rec.role = h.role;
      rec.gen = gen;
      remember(self, rec);
      // Its followers get it; the old ones not among them drop their
      // copies.
      auto now = followers(self, rec.user_id, rec.device_id, live_of(self));
      std::set<std::string> to(now.begin(), now.end());
      std::set<std::string> drop;
      for (auto& f : h.followers)
        if (f != st.params.self && to.count(f) == 0 && alive(self, f))
          drop.insert(f);
      repair_device(self, rec, to, drop);
    });
  };
  auto one_done = [waiting, promote]() {
    if (--*waiting == 0)
      promote();
  };
  for (auto& f : others)
    self
      ->request(link_to(self, f), st.params.timeout, atom::get_v,
                atom::replicate_v, h.leader, h.user_id, h.device_id,
                takeover_generation(h.gen))
      .then(
        [theirs, copies, one_done](std::vector<stored_message>& rows) {
          theirs->insert(theirs->end(), rows.begin(), rows.end());
          ++*copies;
          one_done();
        },
        [self, f, h, copies, one_done](caf::error& err) {
          // Its copy is out of reach: taken over without it (what only it
          // held was not on a majority, or the majority is gone too).
          spdlog::warn("replica: no copy of {}/{} from {}: {}", h.user_id,
                       h.device_id, f, self->system().render(err));
          // A follower that answers it has none stored no row of this
          // queue that is still anywhere but in its leader's store (it
          // never stored one, or its copy emptied, or went with another
          // takeover, or with its disk): it counts as an empty copy. What
          // the leader holds alone is not lost by taking over without it:
          // if it comes back, it hands that over like any other queue.
          if (to_errc(err) == protocol::errc::unknown_device)
            ++*copies;
          one_done();
        });
  one_done();
}

// The queues led by `leader` (gone) that this node takes over.
void fail_over(self_ptr self, const std::string& leader) {
  auto& st = self->state;
  self->request(st.store, caf::infinite, atom::get_v, atom::replicate_v, leader)
    .then(
      [self, leader](std::vector<replica_header>& copies) {
        size_t mine = 0;
        for (auto& h : copies) {
          auto next = successor(h.followers, [self](const std::string& n) {
            return alive(self, n);
          });
          if (next && *next == self->state.params.self) {
            ++mine;
            take_over(self, h);
          } else if (next) {
            // The follower before this one takes it over, if it holds a
            // copy; if it does not, it never heard of the queue. Unless a
            // takeover gathered this copy by then, this node does.
            auto& st = self->state;
            self->delayed_send(self, 2 * st.params.timeout, atom::promote_v, h);
          }
        }
        if (!copies.empty())
          spdlog::info("replica: {} is gone; this node keeps copies of {} of "
                       "its queues and takes over {}",
                       leader, copies.size(), mine);
      },
      [self, leader](caf::error& err) {
        spdlog::error("replica: cannot list the copies of {}'s queues: {}",
                      leader, self->system().render(err));
      });
}

} // namespace

replica_actor::behavior_type
replica(replica_actor::stateful_pointer<replica_state> self, store_actor store,
        cluster_actor cluster, std::shared_ptr<node_metrics> metrics,
        replica_params params) {
  auto& st = self->state;
  st.store = std::move(store);
  st.cluster = std::move(cluster);
  st.metrics = std::move(metrics);
  st.params = std::move(params);
  st.links
    = std::make_shared<cluster_links>(cluster_links{{st.params.self}, {}, {}});
  st.repaired_for = st.links->live;
  using records = std::vector<device_record>;
  using rows = std::vector<stored_message>;
  return {
    // -- a queue led here ------------------------------------------------
    [=](atom::append, stored_message& m) -> caf::result<atom::ok> {
      auto rp = self->make_response_promise<atom::ok>();
      append(self, std::move(m), rp);
      return rp;
    },
    [=](atom::remove, message_keys& k) {
      retire(self, k);
      self->send(self->state.store, atom::remove_v, std::move(k));
    },
    [=](atom::bury, message_keys& k) {
      // A dead letter is never delivered: the copies drop it.
      retire(self, k);
      self->send(self->state.store, atom::bury_v, std::move(k));
    },
    [=](atom::open, device_identity& id,
        uint64_t first_seqs) -> caf::result<device_record, rows, bool> {
      auto rp = self->make_response_promise<device_record, rows, bool>();
      self
        ->request(self->state.store, caf::infinite, atom::open_v, std::move(id),
                  first_seqs)
        .then(
          [self, rp](device_record& r, rows& backlog, bool fresh) mutable {
            remember(self, r);
            rp.deliver(std::move(r), std::move(backlog), fresh);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](
      atom::get, atom::devices, std::string& user, device_identity& id,
      uint64_t first_seqs) -> caf::result<records, device_record, rows, bool> {
      auto rp
        = self->make_response_promise<records, device_record, rows, bool>();
      self
        ->request(self->state.store, caf::infinite, atom::get_v,
                  atom::devices_v, std::move(user), std::move(id), first_seqs)
        .then(
          [self, rp](records& all, device_record& r, rows& backlog,
                     bool fresh) mutable {
            remember(self, r);
            rp.deliver(std::move(all), std::move(r), std::move(backlog), fresh);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atom::generation, std::string& user, std::string& device,
        uint64_t gen) -> caf::result<atom::ok> {
      auto& d = self->state.devices[device_key(user, device)];
      d.gen = std::max(d.gen, gen);
      return self->delegate(self->state.store, atom::generation_v,
                            std::move(user), std::move(device), gen);
    },
    // -- the rest of the store, passed on ----------------------------------
    [=](atom::remove, atom::dead) {
      self->send(self->state.store, atom::remove_v, atom::dead_v);
    },
    [=](atom::reserve, reservation& r) {
      return self->delegate(self->state.store, atom::reserve_v, std::move(r));
    },
    [=](atom::gaps, gap_counts& g) {
      self->send(self->state.store, atom::gaps_v, std::move(g));
    },
    [=](atom::get, atom::devices, std::string& user) {
      return self->delegate(self->state.store, atom::get_v, atom::devices_v,
                            std::move(user));
    },
    [=](atom::get, atom::backlog) {
      return self->delegate(self->state.store, atom::get_v, atom::backlog_v);
    },
    [=](atom::get, atom::dead, std::string& user) {
      return self->delegate(self->state.store, atom::get_v, atom::dead_v,
                            std::move(user));
    },
    [=](atom::push, atom::append, std::string& user, std::string& device,
        protocol::push_address& a) {
      return self->delegate(self->state.store, atom::push_v, atom::append_v,
                            std::move(user), std::move(device), std::move(a));
    },
    [=](atom::push, atom::remove, std::string& user, std::string& device,
        int32_t provider) {
      return self->delegate(self->state.store, atom::push_v, atom::remove_v,
                            std::move(user), std::move(device), provider);
    },
    [=](atom::push, atom::dead, std::string& user, std::string& device,
        protocol::push_address& a) {
      self->send(self->state.store, atom::push_v, atom::dead_v, std::move(user),
                 std::move(device), std::move(a));
    },
    [=](atom::push, atom::written, std::string& user, std::string& device,
        int64_t at_ms) {
      self->send(self->state.store, atom::push_v, atom::written_v,
                 std::move(user), std::move(device), at_ms);
    },
    [=](atom::push, atom::get, std::string& user, std::string& device) {
      return self->delegate(self->state.store, atom::push_v, atom::get_v,
                            std::move(user), std::move(device));
    },
    [=](atom::push, atom::backlog, uint8_t min_priority) {
      return self->delegate(self->state.store, atom::push_v, atom::backlog_v,
                            min_priority);
    },
    [=](atom::replicate, replica_batch& b) {
      return self->delegate(self->state.store, atom::replicate_v, std::move(b));
    },
    [=](atom::get, atom::replicate, std::string& leader) {
      return self->delegate(self->state.store, atom::get_v, atom::replicate_v,
                            std::move(leader));
    },
    [=](atom::get, atom::replicate, std::string& leader, std::string& user,
        std::string& device, uint64_t gen, std::string& by) {
      return self->delegate(self->state.store, atom::get_v, atom::replicate_v,
                            std::move(leader), std::move(user),
                            std::move(device), gen, std::move(by));
    },
    [=](atom::remove, atom::replicate, std::string& leader, message_keys& k) {
      self->send(self->state.store, atom::remove_v, atom::replicate_v,
                 std::move(leader), std::move(k));
    },
    [=](atom::flush) { self->send(self->state.store, atom::flush_v); },
    // -- the cluster -------------------------------------------------------
    [=](atom::replicate, const std::string& from,
        replica_batch& b) -> caf::result<bool> {
      // The cluster actor checked it; the leader is the node it came from.
      b.header.leader = from;
      auto rp = self->make_response_promise<bool>();
      apply_batch(self, std::move(b), rp, true);
      return rp;
    },
    [=](atom::members, links_ptr& links) {
      auto& st = self->state;
      auto before = live_of(self);
      st.links = std::move(links);
      const auto& now = live_of(self);
      // A member with a store this node has not seen it with (back with
      // another one, or first seen): copies of queues it led with another
      // store are orphans. One back with another store lost the copies it
      // kept of the queues led here: the repair sends it snapshots as to a
      // new follower.
      bool lost_copies = false;
      for (auto& [node, store_id] : st.links->stores) {
        if (node == st.params.self || store_id.empty())
          continue;
        auto was = std::exchange(st.stores_seen[node], store_id);
        if (was == store_id)
          continue;
        check_lineage(self, node, store_id);
        if (!was.empty()) {
          auto& r = st.repaired_for;
          r.erase(std::remove(r.begin(), r.end(), node), r.end());
          lost_copies = true;
        }
      }
      if (now == before && !lost_copies)
        return;
      std::set<std::string> gone;
      for (auto& m : before)
        if (m != st.params.self
            && !std::binary_search(now.begin(), now.end(), m))
          gone.insert(m);
      // Takeovers that lacked copies are tried again: more followers may
      // be back (a leader that is back needs none).
      for (auto& m : std::exchange(st.unresolved, {}))
        if (!std::binary_search(now.begin(), now.end(), m))
          gone.insert(m);
      for (auto& m : gone)
        fail_over(self, m);
      // A pass under way is superseded; the next one starts once the
      // members stay put for a moment (a node that starts sees its links
      // come up one by one).
      ++st.repair_pass;
      st.repair_running = false;
      st.to_repair.clear();
      self->delayed_send(self, st.params.repair_delay, atom::replicate_v);
    },
    [=](atom::promote, replica_header& h) {
      if (alive(self, h.leader))
        return; // back: its queue lives on
      with_copy(
        self, h.leader, h.user_id, h.device_id,
        [self, h](const replica_header* now) {
          if (now && now->gen == h.gen && !alive(self, h.leader)) {
            // Neither gathered (a takeover fences it at a newer
            // generation) nor gone: nobody took the queue over.
            spdlog::warn("replica: the queue of {}/{} (leader {} gone) was "
                         "not taken over by the follower before this one; "
                         "taking it over here",
                         h.user_id, h.device_id, h.leader);
            take_over(self, *now);
          }
        },
        [self, h](caf::error& err) {
          spdlog::error("replica: cannot read the copy of {}/{}: {}", h.user_id,
                        h.device_id, self->system().render(err));
        });
    },
    [=](atom::replicate) {
      auto& st = self->state;
      if (st.repair_running) {
        repair_round(self, st.repair_pass);
        return;
      }
      const auto& live = live_of(self);
      if (live != st.repaired_for || !st.dirty.empty())
        start_repair(self);
    },
  };
}

} // namespace tether::actors

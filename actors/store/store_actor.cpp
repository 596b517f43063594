#include "actors/store/store_actor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <sched.h>

#include <caf/event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

namespace tether::actors {

namespace {

using self_ptr = store_actor::stateful_pointer<store_state>;

// The store's own thread (it runs detached) yields to the event loops
// instead of preempting them when a request wakes it (Linux SCHED_BATCH: no
// wake-up preemption, the same share of the CPU). Where the two share a core,
// the loop goes on taking requests until it waits or its slice ends, and the
// store then serves all of them and commits them in one fsync: each
// registration of a new device used to wake it and preempt the loop alone
// (3.7 per commit, 2 context switches each; now 50-60 per commit). On a core
// of its own nothing changes.
void run_as_batch_thread() {
  sched_param p{};
  if (sched_setscheduler(0, SCHED_BATCH, &p) != 0)
    spdlog::warn("store: cannot run as a batch thread (SCHED_BATCH): {}",
                 std::strerror(errno));
}

void schedule_purge(self_ptr self) {
  auto retention = self->state.params.dead_letter_retention;
  if (retention.count() > 0)
    self->delayed_send(self, purge_interval(retention), atom::remove_v,
                       atom::dead_v);
}

void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    // Goes behind every request already queued: they share this commit.
    self->send(self, atom::flush_v);
  }
}

// Commits the open transaction (one fsync) and answers its acked writes;
// false if it failed (the store then quits with the error).
bool flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  // Writes since the last flush, also when their transaction did not even
  // begin (then they failed and are answered so).
  if (st.tx_ops == 0)
    return true;
  auto in_tx = std::exchange(st.in_tx, false);
  auto done = std::move(st.done);
  st.done.clear();
  auto ops = st.tx_ops;
  st.tx_ops = 0;
  auto error = std::move(st.tx_error);
  st.tx_error.clear();
  auto started = std::chrono::steady_clock::now();
  if (error.empty()) {
    try {
      st.log->commit();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (error.empty()) {
    st.metrics->store_committed(ops,
                                std::chrono::steady_clock::now() - started);
  } else {
    if (in_tx)
      st.log->rollback();
    spdlog::error("store commit of {} operations failed: {}", ops, error);
  }
  for (auto& f : done)
    f(error);
  if (!error.empty()) {
    // Its one-way writes (removes, dead letters, gap counts) are lost with
    // the transaction, and later commits would not be in order with them:
    // the store fails, and with it the node; a restart recovers from what
    // is on disk (acked writes were answered with an error, so nothing
    // acknowledged is missing).
    self->quit(make_tether_error(protocol::errc::internal_error,
                                 "store commit failed: " + error));
    return false;
  }
  return true;
}

// Applies a write inside the open transaction (opening one if needed); the
// next flush commits it. Reads on the same connection see it at once, so no
// read ever has to wait for a commit.
template <class Op>
void write(self_ptr self, Op op) {
  auto& st = self->state;
  try {
    if (!st.in_tx) {
      st.log->begin();
      st.in_tx = true;
    }
    if (st.tx_error.empty())
      op(*st.log);
  } catch (const std::exception& e) {
    // The transaction is lost as a whole: the flush rolls it back and fails
    // every acked write of it.
    if (st.tx_error.empty())
      st.tx_error = e.what();
  }
  ++st.tx_ops;
  schedule_flush(self);
}

// Calls `f(error)` once the current transaction's commit is known.
void on_commit(self_ptr self, std::function<void(const std::string&)> f) {
  self->state.done.emplace_back(std::move(f));
}

// Applies a write that computes its answer (a value, or an optional one:
// none is answered with the error `none`, UNKNOWN_DEVICE: nothing of that
// device here) and gives it once the write's commit is durable.
template <class T, class Op>
caf::typed_response_promise<T>
write_answered(self_ptr self, Op op, std::string none = {}) {
  auto rp = self->make_response_promise<T>();
  auto out = std::make_shared<std::optional<T>>();
  write(self, [op = std::move(op), out](durable_log& log) mutable {
    *out = op(log);
  });
  on_commit(self, [rp, out,
                   none = std::move(none)](const std::string& error) mutable {
    if (!error.empty())
      rp.deliver(protocol::make_error(protocol::errc::internal_error));
    else if (!*out)
      rp.deliver(make_tether_error(protocol::errc::unknown_device, none));
    else
      rp.deliver(std::move(**out));
  });
  return rp;
}

// Applies a write and answers ok once its commit is durable.
template <class Op>
caf::typed_response_promise<atom::ok> write_acked(self_ptr self, Op op) {
  return write_answered<atom::ok>(self, [op = std::move(op)](durable_log& log) {
    op(log);
    return atom::ok_v;
  });
}

// A read of the log: its result, or an internal error (logged).
template <class Read>
auto read(self_ptr self, Read f)
  -> caf::result<decltype(f(std::declval<durable_log&>()))> {
  try {
    return f(*self->state.log);
  } catch (const std::exception& e) {
    spdlog::error("store: {}", e.what());
    return protocol::make_error(protocol::errc::internal_error);
  }
}

// Registers a device (atom::open): a known one is answered at once with its
// record and backlog (no fsync on the reconnect path; last_seen rides along
// with the next commit); a new one once its record, with its first seqs
// reserved, is durable, group committed with whatever else waits.
void open_device(self_ptr self, const device_identity& id, uint64_t first_seqs,
                 const std::function<void(caf::expected<registration>)>& done) {
  auto type = static_cast<uint8_t>(id.type);
  auto now = wall_ms(self);
  try {
    auto& log = *self->state.log;
    if (auto rec = log.find_device(id.user_id, id.device_id)) {
      write(self, [id, type, now](durable_log& log) {
        log.touch_device(id.user_id, id.device_id, type, id.role, now);
      });
      rec->type = type;
      rec->role = id.role;
      rec->last_seen_ms = now;
      done(registration{std::move(*rec), log.load(id.user_id, id.device_id),
                        false});
      return;
    }
    auto rec = std::make_shared<device_record>();
    write(self, [id, type, now, rec, first_seqs](durable_log& log) {
      *rec = log.insert_device(id.user_id, id.device_id, type, id.role, now,
                               first_seqs);
    });
    on_commit(self, [self, rec, id, done](std::string error) mutable {
      if (error.empty()) {
        try {
          done(registration{std::move(*rec),
                            self->state.log->load(id.user_id, id.device_id),
                            true});
          return;
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      spdlog::error("store: cannot register {}/{}: {}", id.user_id,
                    id.device_id, error);
      done(protocol::make_error(protocol::errc::internal_error));
    });
  } catch (const std::exception& e) {
    spdlog::error("store: cannot open the queue of {}/{}: {}", id.user_id,
                  id.device_id, e.what());
    done(protocol::make_error(protocol::errc::internal_error));
  }
}

} // namespace

std::chrono::milliseconds purge_interval(std::chrono::milliseconds retention) {
  using std::chrono::milliseconds;
  return std::clamp(retention / 10, milliseconds{1000}, milliseconds{3600000});
}

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<durable_log> log, std::shared_ptr<node_metrics> metrics,
      store_params params) {
  if (self->getf(caf::abstract_actor::is_detached_flag))
    run_as_batch_thread();
  self->state.log = std::move(log);
  self->state.metrics = std::move(metrics);
  self->state.params = std::move(params);
  self->state.clock = wall_clock{self->clock().now(),
                                 self->state.params.test_clock_skew};
  schedule_purge(self);
  // Commit what is pending before going away.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    // A commit that fails here quits with its error: kept, not overwritten
    // by the reason of the exit.
    if (flush(self))
      self->quit(msg.reason);
  });
  return {
    [=](atom::append, stored_message& m) -> caf::result<atom::ok> {
      return write_acked(self, [m = std::move(m)](durable_log& log) {
        log.append(m);
      });
    },
    [=](atom::remove, message_keys& k) {
      write(self, [k = std::move(k)](durable_log& log) {
        for (auto qid : k.qids)
          log.remove(k.user_id, k.device_id, qid);
      });
    },
    [=](atom::bury, message_keys& k) {
      write(self, [k = std::move(k), now = wall_ms(self)](durable_log& log) {
        for (auto qid : k.qids)
          log.mark_dead(k.user_id, k.device_id, qid, now);
      });
    },
    [=](atom::remove, atom::dead) {
      auto cutoff = wall_ms(self)
                    - self->state.params.dead_letter_retention.count();
      auto metrics = self->state.metrics;
      write(self, [cutoff, metrics](durable_log& log) {
        if (auto n = log.purge_dead(cutoff))
          metrics->dead_letters_purged(n);
      });
      schedule_purge(self);
    },
    [=](atom::open, const device_identity& id, uint64_t first_seqs)
      -> caf::result<device_record, std::vector<stored_message>, bool> {
      auto rp
        = self->make_response_promise<device_record,
                                      std::vector<stored_message>, bool>();
      open_device(
        self, id, first_seqs, [rp](caf::expected<registration> r) mutable {
          if (!r)
            rp.deliver(std::move(r.error()));
          else
            rp.deliver(std::move(r->record), std::move(r->backlog), r->fresh);
        });
      return rp;
    },
    [=](atom::get, atom::devices, const std::string& user,
        const device_identity& id, uint64_t first_seqs)
      -> caf::result<std::vector<device_record>, device_record,
                     std::vector<stored_message>, bool> {
      std::vector<device_record> devices;
      try {
        devices = self->state.log->devices(user);
      } catch (const std::exception& e) {
        spdlog::error("store: {}", e.what());
        return protocol::make_error(protocol::errc::internal_error);
      }
      auto rp
        = self->make_response_promise<std::vector<device_record>, device_record,
                                      std::vector<stored_message>, bool>();
      open_device(self, id, first_seqs,
                  [rp, devices = std::move(devices)](
                    caf::expected<registration> r) mutable {
                    if (!r)
                      rp.deliver(std::move(r.error()));
                    else
                      rp.deliver(std::move(devices), std::move(r->record),
                                 std::move(r->backlog), r->fresh);
                  });
      return rp;
    },
    [=](atom::reserve, reservation& r) -> caf::result<atom::ok> {
      return write_acked(self, [r = std::move(r)](durable_log& log) {
        log.reserve(r.user_id, r.device_id, r.seq_reserved, r.next_qid);
      });
    },
    [=](atom::gaps, gap_counts& g) {
      write(self, [g = std::move(g)](durable_log& log) {
        log.set_gaps(g.user_id, g.device_id, g.expired, g.evicted, g.dead,
                     g.reset);
      });
    },
    [=](atom::get, atom::devices,
        const std::string& user) -> caf::result<std::vector<device_record>> {
      return read(self, [&](durable_log& log) { return log.devices(user); });
    },
    [=](atom::get, atom::backlog) -> caf::result<std::vector<device_record>> {
      return read(self,
                  [&](durable_log& log) { return log.devices_with_backlog(); });
    },
    [=](atom::get, atom::dead,
        const std::string& user) -> caf::result<std::vector<stored_message>> {
      return read(self, [&](durable_log& log) {
        return log.dead_letters(user, 1000);
      });
    },
    [=](atom::push, atom::append, const std::string& user,
        const std::string& device,
        protocol::push_address& a) -> caf::result<atom::ok> {
      auto now = wall_ms(self);
      return write_acked(self, [user, device, a = std::move(a),
                                now](durable_log& log) {
        if (auto n = log.put_push_address(user, device, a, now); n > 0)
          spdlog::info("push: a {} token of {} other device(s) moved to "
                       "user={} device={}",
                       protocol::to_string(a.provider), n, user, device);
      });
    },
    [=](atom::push, atom::remove, const std::string& user,
        const std::string& device, int32_t provider) -> caf::result<atom::ok> {
      std::optional<protocol::push_provider> which;
      if (provider >= 0) {
        if (provider > static_cast<int32_t>(protocol::push_provider::webhook))
          return protocol::make_error(protocol::errc::internal_error);
        which = static_cast<protocol::push_provider>(provider);
      }
      return write_acked(self, [user, device, which](durable_log& log) {
        log.remove_push_addresses(user, device, which);
      });
    },
    [=](atom::push, atom::dead, const std::string& user,
        const std::string& device, const protocol::push_address& a) {
      write(self, [user, device, a](durable_log& log) {
        if (log.remove_push_token(user, device, a.provider, a.token))
          spdlog::info("push: dropped the dead {} token of user={} device={}",
                       protocol::to_string(a.provider), user, device);
      });
    },
    [=](atom::push, atom::written, const std::string& user,
        const std::string& device, int64_t at_ms) {
      write(self, [user, device, at_ms](durable_log& log) {
        log.set_push_state(user, device, at_ms);
      });
    },
    [=](atom::push, atom::get, const std::string& user,
        const std::string& device)
      -> caf::result<std::vector<protocol::push_address>> {
      return read(self, [&](durable_log& log) {
        return log.push_addresses(user, device);
      });
    },
    [=](atom::push, atom::backlog,
        uint8_t min_priority) -> caf::result<std::vector<device_record>> {
      return read(self, [&](durable_log& log) {
        return log.devices_to_push(min_priority);
      });
    },
    [=](atom::replicate, replica_batch& b) -> caf::result<uint8_t> {
      return write_answered<uint8_t>(
        self, [b = std::move(b)](durable_log& log) {
          return static_cast<uint8_t>(log.apply_replica(b));
        });
    },
    [=](atom::remove, atom::replicate, std::string& leader, message_keys& k) {
      write(self,
            [leader = std::move(leader), k = std::move(k)](durable_log& log) {
              log.retire_replica_rows(leader, k.user_id, k.device_id, k.qids);
            });
    },
    [=](atom::get, atom::replicate,
        const std::string& leader) -> caf::result<std::vector<replica_header>> {
      return read(self,
                  [&](durable_log& log) { return log.replicas_of(leader); });
    },
    [=](atom::get, atom::replicate, const std::string& leader,
        const std::string& user, const std::string& device, uint64_t gen,
        const std::string& by) -> caf::result<std::vector<stored_message>> {
      // The fence is on disk before the rows are given: a follower that
      // restarts keeps refusing the old leader. No copy is not an empty
      // one: a takeover counts only copies.
      return write_answered<std::vector<stored_message>>(
        self,
        [=](durable_log& log) {
          return log.fence_replica(leader, user, device, gen, by);
        },
        "no copy of the queue of " + user + "/" + device + " led by " + leader);
    },
    [=](atom::generation, const std::string& user, const std::string& device,
        uint64_t gen) -> caf::result<atom::ok> {
      return write_acked(self, [=](durable_log& log) {
        log.set_generation(user, device, gen);
      });
    },
    [=](atom::flush) { flush(self); },
  };
}

} // namespace tether::actors

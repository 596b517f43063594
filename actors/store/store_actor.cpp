#include "actors/store/store_actor.hpp"

#include <chrono>

#include <caf/event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

namespace tether::actors {

namespace {

using self_ptr = store_actor::stateful_pointer<store_state>;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    // Goes behind every request already queued: they share this commit.
    self->send(self, atom::flush_v);
  }
}

void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.ops.empty())
    return;
  auto ops = std::move(st.ops);
  auto done = std::move(st.done);
  st.ops.clear();
  st.done.clear();
  std::string error;
  auto started = std::chrono::steady_clock::now();
  try {
    st.log->begin();
    for (auto& op : ops)
      op(*st.log);
    st.log->commit();
  } catch (const std::exception& e) {
    st.log->rollback();
    error = e.what();
    spdlog::error("store commit of {} operations failed: {}", ops.size(),
                  error);
  }
  if (error.empty())
    st.metrics->store_committed(ops.size(),
                                std::chrono::steady_clock::now() - started);
  for (auto& f : done)
    f(error);
}

// Queues a write for the next group commit.
template <class Op>
void write(self_ptr self, Op op) {
  self->state.ops.emplace_back(std::move(op));
  schedule_flush(self);
}

// Queues a write and answers ok once its commit is durable.
template <class Op>
caf::typed_response_promise<atom::ok> write_acked(self_ptr self, Op op) {
  auto rp = self->make_response_promise<atom::ok>();
  self->state.done.emplace_back([rp](const std::string& error) mutable {
    if (error.empty())
      rp.deliver(atom::ok_v);
    else
      rp.deliver(protocol::make_error(protocol::errc::internal_error));
  });
  write(self, std::move(op));
  return rp;
}

// Reads must see every write queued before them.
template <class F>
auto read(self_ptr self, F f) {
  flush(self);
  return f(*self->state.log);
}

} // namespace

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<durable_log> log, std::shared_ptr<node_metrics> metrics) {
  self->state.log = std::move(log);
  self->state.metrics = std::move(metrics);
  // Commit what is pending before going away.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    flush(self);
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
      write(self, [k = std::move(k)](durable_log& log) {
        for (auto qid : k.qids)
          log.mark_dead(k.user_id, k.device_id, qid);
      });
    },
    [=](atom::open, const device_identity& id)
      -> caf::result<device_record, std::vector<stored_message>> {
      try {
        flush(self);
        auto& log = *self->state.log;
        log.begin();
        auto rec = log.upsert_device(id.user_id, id.device_id,
                                     static_cast<uint8_t>(id.type), id.role,
                                     wall_ms());
        log.commit();
        return {std::move(rec), log.load(id.user_id, id.device_id)};
      } catch (const std::exception& e) {
        self->state.log->rollback();
        spdlog::error("store: cannot open the queue of {}/{}: {}", id.user_id,
                      id.device_id, e.what());
        return protocol::make_error(protocol::errc::internal_error);
      }
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
    [=](atom::get, atom::devices, const std::string& user)
      -> caf::result<std::vector<device_record>> {
      try {
        return read(self, [&](durable_log& log) { return log.devices(user); });
      } catch (const std::exception& e) {
        spdlog::error("store: {}", e.what());
        return protocol::make_error(protocol::errc::internal_error);
      }
    },
    [=](atom::get, atom::dead, const std::string& user)
      -> caf::result<std::vector<stored_message>> {
      try {
        return read(self, [&](durable_log& log) {
          return log.dead_letters(user, 1000);
        });
      } catch (const std::exception& e) {
        spdlog::error("store: {}", e.what());
        return protocol::make_error(protocol::errc::internal_error);
      }
    },
    [=](atom::flush) { flush(self); },
  };
}

} // namespace tether::actors

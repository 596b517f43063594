#include "actors/batcher/batcher_actor.hpp"

#include <chrono>

#include <caf/event_based_actor.hpp>

#include "protocol/codec.hpp"
#include "protocol/compression.hpp"

namespace tether::actors {

namespace {

using self_ptr = batcher_actor::stateful_pointer<batcher_state>;

// Messages the batcher may hold: a full frame in the making plus one more
// frame per write in flight. A frame's messages return their demand once
// written (the queue reads the write_progress).
uint32_t window(const batch_params& p) {
  return p.max_items * (p.max_frames_in_flight + 1);
}

// Takes in the frames written since the last look: their credit returns.
// A frame the queue wrote itself meanwhile counts as in flight first.
void absorb(self_ptr self) {
  auto& st = self->state;
  if (auto tag = st.progress->take_direct_frame(); tag != 0) {
    st.frame_ends.push_back(tag);
    st.policy.other_flushed(self->clock().now());
  }
  st.seen = st.progress->written();
  while (!st.frame_ends.empty() && st.frame_ends.front() <= st.seen) {
    st.frame_ends.pop_front();
    st.policy.written();
  }
}

void write_frame(self_ptr self, uint32_t take) {
  auto& st = self->state;
  auto port = st.port.lock();
  std::string bytes;
  uint64_t estimated = 0;
  // A broadcast was encoded once for all recipients: only the seq is added.
  auto encoded = [&](const queued_delivery& d) -> const std::string* {
    if (!d.encoded)
      return nullptr;
    auto& e = d.encoded->get(st.codec);
    return e.empty() ? nullptr : &e;
  };
  if (take == 1) {
    auto& d = st.pending.front();
    protocol::encode_delivery(st.codec, {d.msg.get(), d.seq, encoded(d)},
                              bytes);
    estimated = d.bytes;
  } else {
    std::vector<protocol::delivery_view> views;
    views.reserve(take);
    for (uint32_t i = 0; i < take; ++i) {
      auto& d = st.pending[i];
      views.push_back({d.msg.get(), d.seq, encoded(d)});
      estimated += d.bytes;
    }
    auto id = "b-" + st.session_id + "-" + std::to_string(st.next_frame++);
    bytes = protocol::encode_batch(st.codec, id, wall_ms(self), views);
  }
  st.pending.erase(st.pending.begin(), st.pending.begin() + take);
  auto binary = st.codec == protocol::codec::msgpack;
  auto raw_size = bytes.size();
  auto compress = st.progress->compress();
  if (compress != 0 && bytes.size() >= st.params.compress_threshold) {
    bytes = protocol::make_compressed_frame(
      bytes, static_cast<protocol::zip_format>(compress),
      st.params.compress_level);
    binary = true;
    st.metrics->compressed(raw_size, bytes.size());
  }
  st.policy.flushed(self->clock().now(), take, estimated);
  st.metrics->frame_sent(take, bytes.size());
  st.metrics->sent(take == 1 ? traffic_kind::message : traffic_kind::batch,
                   take, bytes.size());
  if (port) {
    auto tag = st.progress->claim(take);
    st.frame_ends.push_back(tag);
    port->send(std::make_shared<const std::string>(std::move(bytes)), binary,
               tag);
  }
}

void decide(self_ptr self) {
  auto& st = self->state;
  for (;;) {
    absorb(self);
    auto d = st.policy.decide(self->clock().now(), [&st](uint32_t i) {
      return st.pending[i].bytes;
    });
    if (d.flush) {
      write_frame(self, d.take);
      continue;
    }
    // One flush timer at a time: re-arm only for an earlier wake-up.
    if (d.wake_at
        && (!st.flush_at || *d.wake_at < *st.flush_at
            || *st.flush_at <= self->clock().now())) {
      st.flush_at = *d.wake_at;
      auto delay = *d.wake_at - self->clock().now();
      self->delayed_send(self, delay, atom::flush_v, ++st.flush_generation);
    }
    // Messages wait for a frame in flight: be told when it is written
    // (unless it was meanwhile).
    if (st.policy.pending() > 0 && !st.frame_ends.empty()
        && !st.progress->wait(write_progress::batcher, st.seen))
      continue;
    return;
  }
}

} // namespace

batcher_actor::behavior_type
batcher(batcher_actor::stateful_pointer<batcher_state> self,
        const std::shared_ptr<session_port>& port, batcher_params params,
        std::shared_ptr<node_metrics> metrics, write_progress_ptr progress) {
  auto& st = self->state;
  st.progress = std::move(progress);
  st.port = port;
  st.codec = port->info().codec;
  st.session_id = port->info().session_id;
  st.params = params;
  st.policy = batch_policy{params.batch};
  st.clock = wall_clock{self->clock().now()};
  st.metrics = std::move(metrics);
  return {
    [=](atom::start, delivery_source& source) {
      auto& st = self->state;
      st.source = std::move(source);
      self->send(st.source, atom::demand_v, window(st.params.batch),
                 st.progress->sent());
    },
    [=](atom::deliver, delivery_list& items) {
      auto& st = self->state;
      // A frame the queue wrote itself may be in flight: these wait for it
      // as for one of the batcher's.
      absorb(self);
      auto now = self->clock().now();
      for (auto& d : items) {
        st.policy.add(now, d.bytes, d.prio);
        st.pending.push_back(std::move(d));
      }
      if (st.round_pending)
        return;
      // What else becomes ready for this device in the same round (other
      // publishes queued on the same thread) leaves in the same frame.
      if (auto port = st.port.lock();
          port && st.policy.hold_for_round(port->loaded())) {
        st.round_pending = true;
        port->after_round(round_end_tag);
        return;
      }
      decide(self);
    },
    [=](atom::written, uint64_t tag) {
      auto& st = self->state;
      if (tag == round_end_tag)
        st.round_pending = false;
      else if (st.progress->take_queue_wait() && st.source)
        self->send(st.source, atom::written_v);
      decide(self);
    },
    [=](atom::flush, uint64_t generation) {
      if (generation == self->state.flush_generation) {
        self->state.flush_at.reset();
        decide(self);
      }
    },
  };
}

} // namespace tether::actors

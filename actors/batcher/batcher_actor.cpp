#include "actors/batcher/batcher_actor.hpp"

#include <chrono>

#include <caf/event_based_actor.hpp>

#include "protocol/codec.hpp"
#include "protocol/compression.hpp"

namespace tether::actors {

namespace {

using self_ptr = batcher_actor::stateful_pointer<batcher_state>;

// The session reports the end of a round as a write of this frame id.
constexpr uint64_t round_end = ~uint64_t{0};

// Messages the batcher may hold: a full frame in the making plus one more
// frame per write in flight. A frame's messages return their demand once
// written (one message to the queue per frame: `written` is the credit).
uint32_t window(const batch_params& p) {
  return p.max_items * (p.max_frames_in_flight + 1);
}

void write_frame(self_ptr self, uint32_t take) {
  auto& st = self->state;
  auto port = st.port.lock();
  std::vector<uint64_t> seqs;
  seqs.reserve(take);
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
    auto pre = encoded(d);
    if (!pre || !protocol::splice_seq(st.codec, *pre, d.seq, bytes))
      protocol::encode_to(st.codec, *d.msg, d.seq, bytes);
    seqs.push_back(d.seq);
    estimated = d.bytes;
  } else {
    std::vector<protocol::delivery_view> views;
    views.reserve(take);
    for (uint32_t i = 0; i < take; ++i) {
      auto& d = st.pending[i];
      views.push_back({d.msg.get(), d.seq, encoded(d)});
      seqs.push_back(d.seq);
      estimated += d.bytes;
    }
    auto id = "b-" + st.session_id + "-" + std::to_string(st.next_frame);
    bytes = protocol::encode_batch(st.codec, id, wall_ms(self), views);
  }
  st.pending.erase(st.pending.begin(), st.pending.begin() + take);
  auto binary = st.codec == protocol::codec::msgpack;
  auto raw_size = bytes.size();
  if (st.compress != 0 && bytes.size() >= st.params.compress_threshold) {
    bytes = protocol::make_compressed_frame(
      bytes, static_cast<protocol::zip_format>(st.compress),
      st.params.compress_level);
    binary = true;
    st.metrics->compressed(raw_size, bytes.size());
  }
  auto frame = st.next_frame++;
  st.policy.flushed(self->clock().now(), take, estimated);
  st.metrics->frame_sent(take, bytes.size());
  st.metrics->sent(take == 1 ? traffic_kind::message : traffic_kind::batch,
                   take, bytes.size());
  if (port) {
    st.frames.emplace(frame, std::move(seqs));
    port->send(std::make_shared<const std::string>(std::move(bytes)), binary,
               frame);
  }
}

void decide(self_ptr self) {
  auto& st = self->state;
  for (;;) {
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
    return;
  }
}

} // namespace

batcher_actor::behavior_type
batcher(batcher_actor::stateful_pointer<batcher_state> self,
        const std::shared_ptr<session_port>& port, batcher_params params,
        std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.port = port;
  st.codec = port->info().codec;
  st.session_id = port->info().session_id;
  st.compress = port->info().compress;
  st.params = params;
  st.policy = batch_policy{params.batch};
  st.clock = wall_clock{self->clock().now()};
  st.metrics = std::move(metrics);
  return {
    [=](atom::start, delivery_source& source) {
      auto& st = self->state;
      st.source = std::move(source);
      self->send(st.source, atom::demand_v, window(st.params.batch));
    },
    [=](atom::deliver, delivery_list& items) {
      auto& st = self->state;
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
        port->after_round(round_end);
        return;
      }
      decide(self);
    },
    [=](atom::written, uint64_t frame) {
      auto& st = self->state;
      if (frame == round_end) {
        st.round_pending = false;
        decide(self);
        return;
      }
      st.policy.written();
      if (auto i = st.frames.find(frame); i != st.frames.end()) {
        if (st.source)
          self->send(st.source, atom::written_v, std::move(i->second));
        st.frames.erase(i);
      }
      decide(self);
    },
    [=](atom::compress, uint8_t algo) {
      self->state.compress = algo <= 2 ? algo : 0;
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

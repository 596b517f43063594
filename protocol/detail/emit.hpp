#pragma once

// The one writer of protocol 1.x frames, over an "emitter" that both codecs
// implement (json_codec.cpp, msgpack_codec.cpp). Key order is fixed and is
// the order of SPEC.md; msgpack needs the number of keys up front, so each
// object counts its present fields before writing them.
//
// An Emitter offers: begin_object(n), end_object(), begin_array(n),
// end_array(), key(k), string(s), int64(v), uint64(v), boolean(b), raw(v),
// size() (bytes written so far).

#include <algorithm>
#include <optional>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/model.hpp"

namespace tether::protocol::detail {

template <class E>
void emit(E& e, const source_info& s) {
  e.begin_object(4 + (s.session_id ? 1 : 0));
  e.key("deviceId");
  e.string(s.device_id);
  e.key("userId");
  e.string(s.user_id);
  e.key("deviceType");
  e.string(to_string(s.type));
  if (s.session_id) {
    e.key("sessionId");
    e.string(*s.session_id);
  }
  e.key("timestamp");
  e.int64(s.timestamp);
  e.end_object();
}

template <class E>
void emit(E& e, const broadcast_info& b) {
  e.begin_object(1 + (b.room ? 1 : 0) + (b.filter.empty() ? 0 : 1));
  e.key("scope");
  e.string(to_string(b.scope));
  if (b.room) {
    e.key("room");
    e.string(*b.room);
  }
  if (!b.filter.empty()) {
    e.key("filter");
    e.raw(b.filter);
  }
  e.end_object();
}

template <class E>
void emit(E& e, const destination_info& d) {
  e.begin_object(1 + (d.device_id ? 1 : 0) + (d.user_id ? 1 : 0)
                 + (d.session_id ? 1 : 0) + (d.broadcast ? 1 : 0));
  e.key("target");
  e.string(to_string(d.to));
  if (d.device_id) {
    e.key("deviceId");
    e.string(*d.device_id);
  }
  if (d.user_id) {
    e.key("userId");
    e.string(*d.user_id);
  }
  if (d.session_id) {
    e.key("sessionId");
    e.string(*d.session_id);
  }
  if (d.broadcast) {
    e.key("broadcast");
    emit(e, *d.broadcast);
  }
  e.end_object();
}

template <class E>
void emit(E& e, const optimization_info& o) {
  e.begin_object(1 + (o.ttl_ms ? 1 : 0) + (o.compress ? 1 : 0)
                 + (o.batch_id ? 1 : 0) + (o.retry_count ? 1 : 0)
                 + (o.max_retries ? 1 : 0) + (o.requires_ack ? 1 : 0)
                 + (o.offline_capable ? 1 : 0) + (o.withdrawable ? 0 : 1)
                 + (o.notify ? 1 : 0) + (o.notification ? 1 : 0));
  e.key("priority");
  e.string(to_string(o.prio));
  if (o.ttl_ms) {
    e.key("ttl");
    e.int64(*o.ttl_ms);
  }
  if (o.compress) {
    e.key("compression");
    e.string(to_string(*o.compress));
  }
  if (o.batch_id) {
    e.key("batchId");
    e.string(*o.batch_id);
  }
  if (o.retry_count) {
    e.key("retryCount");
    e.int64(*o.retry_count);
  }
  if (o.max_retries) {
    e.key("maxRetries");
    e.int64(*o.max_retries);
  }
  if (o.requires_ack) {
    e.key("requiresAck");
    e.boolean(true);
  }
  if (o.offline_capable) {
    e.key("offlineCapable");
    e.boolean(true);
  }
  if (!o.withdrawable) {
    e.key("withdrawable");
    e.boolean(false);
  }
  if (o.notify) {
    e.key("notify");
    e.boolean(true);
  }
  if (o.notification) {
    e.key("notification");
    e.begin_object(2);
    e.key("title");
    e.string(o.notification->title);
    e.key("body");
    e.string(o.notification->body);
    e.end_object();
  }
  e.end_object();
}

/// Writes `m`; `seq` (if set) replaces m.seq, so that one shared message can
/// be written with each device's sequence number without a copy.
template <class E>
void emit(E& e, const mobile_message& m, std::optional<uint64_t> seq) {
  e.begin_object(7 + (m.correlation_id ? 1 : 0) + (m.payload.empty() ? 0 : 1)
                 + (m.checksum ? 1 : 0) + (m.signature ? 1 : 0) + (seq ? 1 : 0)
                 + m.extra.size());
  e.key("id");
  e.string(m.id);
  if (m.correlation_id) {
    e.key("correlationId");
    e.string(*m.correlation_id);
  }
  e.key("timestamp");
  e.int64(m.timestamp);
  e.key("protocolVersion");
  e.string(m.protocol_version);
  e.key("source");
  emit(e, m.source);
  e.key("destination");
  emit(e, m.destination);
  e.key("type");
  e.string(m.type);
  if (!m.payload.empty()) {
    e.key("payload");
    e.raw(m.payload);
  }
  e.key("optimization");
  emit(e, m.optimization);
  if (m.checksum) {
    e.key("checksum");
    e.string(*m.checksum);
  }
  if (m.signature) {
    e.key("signature");
    e.string(*m.signature);
  }
  for (auto& f : m.extra) {
    e.key(f.name);
    e.raw(f.value);
  }
  // Last: splice_seq() appends it to a message encoded without one.
  if (seq) {
    e.key("seq");
    e.uint64(*seq);
  }
  e.end_object();
}

template <class E>
void emit(E& e, const mobile_message& m) {
  emit(e, m, m.seq);
}

template <class E>
void emit(E& e, const message_ack& a) {
  e.begin_object(3 + (a.batch_id ? 1 : 0) + (a.error ? 1 : 0) + (a.seq ? 1 : 0)
                 + (a.recipients ? 1 : 0));
  e.key("messageId");
  e.string(a.message_id);
  if (a.batch_id) {
    e.key("batchId");
    e.string(*a.batch_id);
  }
  e.key("status");
  e.string(to_string(a.status));
  e.key("timestamp");
  e.int64(a.timestamp);
  if (a.error) {
    e.key("error");
    e.begin_object(2 + (a.error->details.empty() ? 0 : 1));
    e.key("code");
    e.string(a.error->code);
    e.key("message");
    e.string(a.error->message);
    if (!a.error->details.empty()) {
      e.key("details");
      e.raw(a.error->details);
    }
    e.end_object();
  }
  if (a.seq) {
    e.key("seq");
    e.uint64(*a.seq);
  }
  if (a.recipients) {
    e.key("recipients");
    e.uint64(*a.recipients);
  }
  e.end_object();
}

template <class E>
void emit(E& e, const heartbeat& h) {
  e.begin_object(2 + (h.server_time ? 1 : 0));
  e.key("type");
  e.string(h.pong ? "pong" : "ping");
  e.key("timestamp");
  e.int64(h.timestamp);
  if (h.server_time) {
    e.key("serverTime");
    e.int64(*h.server_time);
  }
  e.end_object();
}

// The metadata object of a BatchMessage.
template <class E>
void emit(E& e, const batch_metadata& md) {
  e.begin_object(3 + (md.ttl_ms ? 1 : 0));
  e.key("totalSize");
  e.uint64(md.total_size);
  e.key("messageCount");
  e.uint64(md.message_count);
  e.key("priority");
  e.string(to_string(md.prio));
  if (md.ttl_ms) {
    e.key("ttl");
    e.int64(*md.ttl_ms);
  }
  e.end_object();
}

/// A BatchMessage of deliveries; totalSize is the encoded size of the
/// messages array.
template <class E>
void emit_deliveries(E& e, std::string_view id, int64_t timestamp,
                     const std::vector<delivery_view>& items) {
  e.begin_object(4);
  e.key("id");
  e.string(id);
  e.key("timestamp");
  e.int64(timestamp);
  e.key("messages");
  batch_metadata md;
  md.prio = priority::low;
  auto before = e.size();
  e.begin_array(items.size());
  std::string spliced;
  for (auto& d : items) {
    spliced.clear();
    if (d.encoded && splice_seq(E::format, *d.encoded, d.seq, spliced))
      e.raw(raw_value{E::format, spliced});
    else
      emit(e, *d.msg, d.seq);
    md.prio = std::max(md.prio, d.msg->optimization.prio);
    if (auto ttl = d.msg->optimization.ttl_ms;
        ttl && (!md.ttl_ms || *ttl < *md.ttl_ms))
      md.ttl_ms = ttl;
  }
  e.end_array();
  md.total_size = e.size() - before;
  md.message_count = items.size();
  e.key("metadata");
  emit(e, md);
  e.end_object();
}

template <class E>
void emit(E& e, const batch_message& b) {
  e.begin_object(4 + (b.compress ? 1 : 0));
  e.key("id");
  e.string(b.id);
  e.key("timestamp");
  e.int64(b.timestamp);
  if (b.compress) {
    e.key("compression");
    e.string(to_string(*b.compress));
  }
  e.key("messages");
  e.begin_array(b.messages.size());
  for (auto& m : b.messages)
    emit(e, m);
  e.end_array();
  e.key("metadata");
  emit(e, b.metadata);
  e.end_object();
}

} // namespace tether::protocol::detail

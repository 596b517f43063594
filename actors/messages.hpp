#pragma once

// Message types exchanged between Tether actors, their `inspect` overloads and
// the mapping of protocol::errc onto caf::error.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/errors.hpp"
#include "actors/ports.hpp"
#include "actors/push_transport.hpp"
#include "actors/records.hpp"
#include "protocol/codec.hpp"
#include "protocol/errc.hpp"
#include "protocol/model.hpp"
#include "protocol/push.hpp"

namespace tether::protocol {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, push_address& x) {
  return f(caf::meta::type_name("push_address"), x.provider, x.token, x.topic,
           x.sandbox);
}

} // namespace tether::protocol

namespace tether::actors {

/// A connected device as the rest of the node knows it; built from the
/// verified token and the handshake, never from what the device claims.
struct device_identity {
  std::string user_id;
  std::string device_id;
  protocol::device_type type = protocol::device_type::mobile;
  /// "extension" for the user's editor extension, otherwise empty.
  std::string role;
  std::string session_id;
  protocol::codec codec = protocol::codec::json;
  /// The event loop of the device's connection on this node (its queue
  /// serves it from there), -1 if unknown. Node-local: not serialized, so
  /// an identity from another node has -1.
  int32_t loop = -1;

  bool is_extension() const noexcept { return role == "extension"; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_identity& x) {
  return f(caf::meta::type_name("device_identity"), x.user_id, x.device_id,
           x.type, x.role, x.session_id, x.codec);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("member_info"), x.node_id, x.host, x.port,
           x.protocol, x.incarnation, x.store_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_message& x) {
  return f(caf::meta::type_name("stored_message"), x.user_id, x.device_id,
           x.qid, x.priority, x.enqueued_ms, x.expires_ms, x.needs_ack,
           x.msg_id, x.sender_device, x.body, x.dead);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_record& x) {
  return f(caf::meta::type_name("device_record"), x.user_id, x.device_id,
           x.type, x.role, x.epoch, x.seq_reserved, x.next_qid, x.gap_expired,
           x.gap_evicted, x.gap_dead, x.last_seen_ms, x.push_last_ms, x.gen);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_header& x) {
  return f(caf::meta::type_name("replica_header"), x.leader, x.user_id,
           x.device_id, x.type, x.role, x.gen, x.followers, x.lineage);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_batch& x) {
  return f(caf::meta::type_name("replica_batch"), x.header, x.rows, x.removed,
           x.after, x.upto, x.drop);
}

/// Where a user's device is in a cluster (what nodes tell a user's home
/// node, and the home tells them): the node that holds its queue, where it
/// is connected or was last.
struct remote_device {
  device_identity id;
  std::string node_id;
  /// Connected there now (else its queue waits there).
  bool connected = true;
  /// When that connection began (epoch ms on that node): of two nodes
  /// claiming a device, the later connection wins.
  int64_t since_ms = 0;
  /// The generation of the device's queue there (SPEC §14.3): of two
  /// nodes holding a queue of the device without its connection, the newer
  /// keeps it and the other hands its messages over.
  uint64_t gen = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_device& x) {
  return f(caf::meta::type_name("remote_device"), x.id, x.node_id, x.connected,
           x.since_ms, x.gen);
}

/// Messages of one device, by queue key.
struct message_keys {
  std::string user_id;
  std::string device_id;
  std::vector<uint64_t> qids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_keys& x) {
  return f(caf::meta::type_name("message_keys"), x.user_id, x.device_id,
           x.qids);
}

/// High-water marks a queue persists before using them.
struct reservation {
  std::string user_id;
  std::string device_id;
  uint64_t seq_reserved = 0;
  uint64_t next_qid = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservation& x) {
  return f(caf::meta::type_name("reservation"), x.user_id, x.device_id,
           x.seq_reserved, x.next_qid);
}

/// A device's queue asks for a push (SPEC §5.10): the waiting messages
/// that called for it (ids, at most protocol::max_webhook_ids), how many
/// wait in all, the highest priority among them and the notification of
/// the newest calling message that has one (none: a silent wake-up).
struct push_request {
  std::string user_id;
  std::string device_id;
  std::vector<std::string> message_ids;
  uint8_t top = 0; // protocol::priority
  uint32_t count = 0;
  bool has_notification = false;
  std::string title;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, push_request& x) {
  return f(caf::meta::type_name("push_request"), x.user_id, x.device_id,
           x.message_ids, x.top, x.count, x.has_notification, x.title, x.body);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, push_answer& x) {
  return f(caf::meta::type_name("push_answer"), x.status, x.version, x.body,
           x.retry_after, x.error);
}

/// Dropped messages a device has not been told about yet.
struct gap_counts {
  std::string user_id;
  std::string device_id;
  uint64_t expired = 0;
  uint64_t evicted = 0;
  uint64_t dead = 0;
  /// Replace the stored counters instead of adding to them.
  bool reset = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gap_counts& x) {
  return f(caf::meta::type_name("gap_counts"), x.user_id, x.device_id,
           x.expired, x.evicted, x.dead, x.reset);
}

/// What a reconnecting device presents (?resume=<token>&lastSeq=<n>).
struct resume_request {
  std::string token;
  uint64_t last_seq = 0;
  /// The event loop of the connection's socket (actors/loop_affinity.hpp):
  /// the queue moves there. -1: none.
  int32_t loop = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resume_request& x) {
  return f(caf::meta::type_name("resume_request"), x.token, x.last_seq, x.loop);
}

/// What the queue answers an attaching connection.
struct resume_info {
  /// The queue's epoch: the resume token for the next reconnect.
  std::string token;
  /// Whether the presented token matched (lastSeq applied).
  bool resumed = false;
  /// Messages waiting or unacked at attach time.
  uint64_t backlog = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resume_info& x) {
  return f(caf::meta::type_name("resume_info"), x.token, x.resumed, x.backlog);
}

/// The state of a released queue (an attached device's queue that held
/// nothing for queue.release_after): what its next incarnation continues
/// from, without reading the store. Kept by the device's directory shard,
/// one per idle device: the counters of a device_record without its names.
struct queue_record {
  std::string epoch;
  /// The next seq to give and the highest reserved on disk.
  uint64_t next_seq = 1;
  uint64_t seq_reserved = 0;
  uint64_t next_qid = 1;
  /// The gap counters (as persisted: a queue releases none unwritten).
  uint64_t gap_expired = 0;
  uint64_t gap_evicted = 0;
  uint64_t gap_dead = 0;
  /// When the device's last push was sent (wall ms; 0: never).
  int64_t push_last_ms = 0;
  /// The queue's generation (SPEC §14.3).
  uint64_t gen = 0;
};

/// A message encoded once per codec, shared by all recipients.
using encoded_ptr = std::shared_ptr<const protocol::encoded_forms>;

/// Messages of one queue, in order (node-local: a queue handed over).
using message_list = std::vector<protocol::message_ptr>;

/// One message handed from a queue to a batcher, with the seq assigned.
struct queued_delivery {
  uint64_t seq = 0;
  protocol::message_ptr msg;
  protocol::priority prio = protocol::priority::normal;
  /// Estimated encoded size (for batch byte limits).
  uint64_t bytes = 0;
  /// Pre-encoded forms (room broadcasts); null: the batcher encodes.
  encoded_ptr encoded;
};

/// One member of a room as a node tells the room's other nodes (a
/// protocol::presence_entry in CAF's serializable types).
struct presence_row {
  std::string user_id;
  std::string device_id;
  uint8_t type = 0;
  uint8_t status = 3; // presence_status: 0 offline .. 3 online
  bool has_custom = false;
  std::string custom_text;
  std::string custom_emoji;
  int64_t custom_expires_ms = 0;
  int64_t last_seen_ms = 0;
  /// "join", "update", "leave", or empty in a full set.
  std::string event;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_row& x) {
  return f(caf::meta::type_name("presence_row"), x.user_id, x.device_id, x.type,
           x.status, x.has_custom, x.custom_text, x.custom_emoji,
           x.custom_expires_ms, x.last_seen_ms, x.event);
}

/// A device's presence change sent to its rooms: a declared status and/or
/// custom status, or only application activity.
struct presence_update {
  std::string user_id;
  std::string device_id;
  /// 255: unchanged; else protocol::presence_status.
  uint8_t status = 255;
  bool has_custom = false;
  bool clear_custom = false;
  std::string custom_text;
  std::string custom_emoji;
  int64_t custom_expires_ms = 0;
  bool activity_only = false;
  /// 255: unchanged; 0: the app came to the foreground, 1: it went to the
  /// background (tether.lifecycle; shown away while there).
  uint8_t app_state = 255;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_update& x) {
  return f(caf::meta::type_name("presence_update"), x.user_id, x.device_id,
           x.status, x.has_custom, x.clear_custom, x.custom_text,
           x.custom_emoji, x.custom_expires_ms, x.activity_only, x.app_state);
}

/// What a device asks of a room (tether.join, tether.presence.get).
struct room_ask {
  std::string room;
  bool presence = false;
  /// protocol::presence_status values.
  std::vector<uint8_t> status_filter;
  /// protocol::device_type values.
  std::vector<uint8_t> type_filter;
  uint32_t page = 0;
  uint32_t page_size = 100;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_ask& x) {
  return f(caf::meta::type_name("room_ask"), x.room, x.presence,
           x.status_filter, x.type_filter, x.page, x.page_size);
}

using delivery_list = std::vector<queued_delivery>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, link_opened& x) {
  return f(caf::meta::type_name("link_opened"), x.ok, x.status, x.subprotocol,
           x.deflate, x.retry_after_ms, x.error);
}

} // namespace tether::actors

// Local-only types: pointers to immutable data shared between actors of one
// node. They never cross nodes (the cluster sends encoded bytes instead).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::protocol::message_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::message_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::shared_bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<tether::actors::session_port>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::delivery_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::encoded_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::queue_record)

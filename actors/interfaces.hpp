#pragma once

// Every typed actor interface of Tether, one comment line per handler, and
// the one type-ID block of every message type (including the handles).
// INTERNAL marks messages an actor sends to itself.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/ports.hpp"
#include "actors/write_progress.hpp"

namespace tether::actors {

struct user_routes;
/// A device's window of recent message ids (actors/directory/dedup_window).
struct device_dedup;

/// A user's devices as its connections see them (user_routes below):
/// immutable, shared by all of them, replaced as a whole when anything
/// changes. Node-local.
using route_table = std::shared_ptr<const user_routes>;

/// What a batcher pulls from: the delivery side of a QUEUE.
using delivery_source = caf::typed_actor<
  // The batcher can take `n` messages (its window), and had sent `base`
  // before this queue's: the write_progress counts from there. Each
  // written message returns one (read from the counter, not sent).
  caf::reacts_to<atom::demand, uint32_t, uint64_t>,
  // The write_progress moved on while the queue waited for it (or the
  // queue woke itself): read it and hand out what the credit allows.
  caf::reacts_to<atom::written>>;

/// BATCHER: one per connection; coalesces deliveries into frames under its
/// batch_policy, compresses them when the device asked for it, and writes
/// them to the session within its write credit.
using batcher_actor = caf::typed_actor<
  // Start pulling from this queue.
  caf::reacts_to<atom::start, delivery_source>,
  // Messages to deliver, in order, each with its seq.
  caf::reacts_to<atom::deliver, delivery_list>,
  // The write_progress moved on while the batcher waited for it (the tag
  // written), or round_end_tag: the round it held its frame for ended.
  caf::reacts_to<atom::written, uint64_t>,
  // INTERNAL: the coalescing deadline of this generation passed.
  caf::reacts_to<atom::flush, uint64_t>>;

/// CONNECTION: one per WebSocket session; decodes, checks and routes what the
/// device sends; forwards the device's acks to its queue.
using connection_actor = caf::typed_actor<
  // A complete frame read by the session (bytes, binary opcode).
  caf::reacts_to<atom::frame, std::string, bool>,
  // The session ended with this close code.
  caf::reacts_to<atom::closed, uint16_t>,
  // The devices of this user or their queues changed: route by this table.
  caf::reacts_to<atom::routes, route_table>,
  // Close the connection with this close code (replaced, shutdown, slow).
  caf::reacts_to<atom::close, uint16_t>,
  // The node drains: close with 1012, telling the device to come back
  // after this many milliseconds, resuming (SPEC §12).
  caf::reacts_to<atom::drain, uint32_t>,
  // INTERNAL: the token's expiry passed.
  caf::reacts_to<atom::expire>,
  // A queue refused a message this connection sent it one-way (message id,
  // batch id or empty, why): the sender gets a failed ack (SPEC §5.4).
  caf::reacts_to<atom::enqueue, std::string, std::string, caf::error>,
  // Its queue has messages for the device: start the batcher (a connection
  // spawns it on first use; an idle device has none). The sender is the
  // device's queue from then on (a released queue comes back as a new
  // actor, which the batcher then pulls from).
  caf::reacts_to<atom::start>,
  // Route by this table from now on (its device's queue, or another's of
  // the user, is being released); replies once it does.
  caf::replies_to<atom::release, route_table>::with<atom::ok>>;

/// Where a queue offers its release: its device's directory shard.
using queue_home = caf::typed_actor<
  // The sending queue has held nothing for queue.release_after.
  caf::reacts_to<atom::release>>;

/// What one node asks of another (SPEC §14.2): the messages a GATE takes
/// from its peers, which a PEER LINK relays to that peer's gate. None names
/// the node it comes from: the gate knows it from the link's certificate.
using peer_messages = caf::typed_actor<
  // At a user's home: where a device of the user is (the sending node says
  // it connected there, left, or that its queue is there).
  caf::reacts_to<atom::devices, remote_device>,
  // From a user's home: where the user's devices held by other nodes are.
  caf::reacts_to<atom::routes, std::string, std::vector<remote_device>>,
  // The sending node hands over the queue of a device now here (its
  // generation, SPEC §14.3, and its messages, forwarded_form, in order);
  // replies once this node's queue took them (durable ones on disk) with
  // the ids of those it refused.
  caf::replies_to<atom::handover, device_identity, uint64_t,
                  std::vector<std::string>>::with<std::vector<std::string>>,
  // The sending node leads a device queue this node follows (SPEC §14.3):
  // rows, retirements, a snapshot or a drop for the copy here; replies once
  // on disk (false: stale, of an older generation).
  caf::replies_to<atom::replicate, replica_batch>::with<bool>,
  // The sending node takes over the queue of (user, device) whose leader
  // (node id) is gone, at this generation: this node's copy of it (its
  // rows), fenced at that generation.
  caf::replies_to<atom::get, atom::replicate, std::string, std::string,
                  std::string, uint64_t>::with<std::vector<stored_message>>,
  // A message (forwarded_form) from `sender` for these devices of its user
  // connected here; replies with how many queues took it.
  caf::replies_to<atom::forward, device_identity, std::vector<std::string>,
                  std::string>::with<uint32_t>,
  // A room publish (room, forwarded_form) for the room's members here;
  // replies with how many.
  caf::replies_to<atom::room, device_identity, std::string,
                  std::string>::with<uint32_t>,
  // The device `sender` handled these message ids: withdraw them from the
  // queues here of these devices of its user (SPEC §5.9).
  caf::reacts_to<atom::handled, device_identity, std::vector<std::string>,
                 std::vector<std::string>>,
  // The sending node's members of a room (name): their changes (these
  // rows), or all of them (full); `ask`: answer with this node's members.
  caf::reacts_to<atom::presence, std::string, std::vector<presence_row>, bool,
                 bool>,
  // The sending node's ping: it is alive (for the detection time).
  caf::reacts_to<atom::tick>,
  // This node's overview (JSON).
  caf::replies_to<atom::overview>::with<std::string>>;

/// GATE: the one actor a node publishes on cluster.port. A peer says hello
/// first: the gate checks that the id it claims is the one its connection's
/// certificate names (peer_certificates), then takes the peer's messages,
/// each handed to this node's CLUSTER actor with the peer's id; anything
/// from a node that did not say hello, or not of this interface, is refused
/// and counted.
using gate_actor = peer_messages::extend<
  // A peer introduces itself; answers with this node and the members alive
  // to it (an error if it is refused: another protocol, a taken id, an id
  // its certificate does not name).
  caf::replies_to<atom::hello, member_info>::with<member_info,
                                                  std::vector<member_info>>>;

/// PEER LINK: this node's link to another node's GATE (at a seed's address
/// or a learned member's), and the only way this node's actors reach that
/// node: it relays their messages and the answers, so the peer only ever
/// sees the link. It takes them from this node's own actors only. It quits
/// when the link ends; the orchestrator restarts it after its backoff (the
/// reconnect).
using peer_link_actor = peer_messages::extend<
  // End the link (the node stops).
  caf::reacts_to<atom::stop>>;

/// QUEUE: one per device, outliving its connections; owns the device's
/// device_queue, persists durable messages through the STORE, hands
/// messages to the attached BATCHER and retires them on acks.
using queue_actor = delivery_source::extend<
  // Queues a routed message; replies with the number of messages evicted to
  // make room (durable ones once on disk) or fails with QUEUE_OVERFLOW.
  caf::replies_to<atom::enqueue, protocol::message_ptr>::with<uint32_t>,
  // Queues a routed message nobody waits for (neither requiresAck nor
  // offlineCapable) without a reply; a refusal goes to the sender's
  // connection, with the batch id (or empty) the message came in.
  caf::reacts_to<atom::enqueue, protocol::message_ptr, connection_actor,
                 std::string>,
  // A connection of the device attached; replies with its resume info. The
  // queue asks it for a batcher (atom::start) once it has something to
  // deliver.
  caf::replies_to<atom::attach, connection_actor,
                  resume_request>::with<resume_info>,
  // From the attached connection: its batcher, which pulls from now on,
  // the connection's event loop (the queue moves there) and the batcher's
  // write_progress (its credit and written messages).
  caf::reacts_to<atom::start, batcher_actor, int32_t, write_progress_ptr>,
  // From its home, once every connection of the user routes around it:
  // replies with its state and quits; fails (and stays) if it took mail
  // meanwhile.
  caf::replies_to<atom::release>::with<queue_record>,
  // Queues a durable room broadcast with its pre-encoded forms; replies as
  // above.
  caf::replies_to<atom::enqueue, protocol::message_ptr,
                  encoded_ptr>::with<uint32_t>,
  // Queues a room broadcast nobody waits for (not durable); one that does
  // not fit is dropped and reported to the device by a gap notice.
  caf::reacts_to<atom::publish, protocol::message_ptr, encoded_ptr>,
  // The attached device's app went to the background (true) or came back
  // (false), by its own word (tether.lifecycle): in the background it
  // counts as unable to take messages for the push decision.
  caf::reacts_to<atom::status, bool>,
  // Cumulative ack: every delivered seq <= n arrived.
  caf::reacts_to<atom::ack, uint64_t>,
  // Ack of one delivered message by id.
  caf::reacts_to<atom::ack, std::string>,
  // Another device of the user handled these message ids: their copies here
  // go, and the device is told of those it may have (tether.withdrawn) but
  // the second list's, which it sent itself.
  caf::reacts_to<atom::withdraw, std::vector<std::string>,
                 std::vector<std::string>>,
  // INTERNAL: write the gap counters to the store (once for every change
  // queued before it).
  caf::reacts_to<atom::gaps>,
  // The device's queue is on another node now (a cluster), of this
  // generation (SPEC §14.3): hand every message over to that node, through
  // the link to it, while detached, whatever this queue's own generation
  // (an older one is merged there).
  caf::reacts_to<atom::handover, peer_link_actor, uint64_t>,
  // INTERNAL: retry the handover.
  caf::reacts_to<atom::handover>,
  // Messages were handed over to this queue from one of the device's at
  // this generation (SPEC §14.3): its own rises past it unless it is newer
  // (on disk).
  caf::reacts_to<atom::generation, uint64_t>,
  // INTERNAL: timers (TTL, ack timeouts, idle exit) of this generation.
  caf::reacts_to<atom::tick, uint64_t>,
  // Its depth and whether its device keeps up (the dashboard).
  caf::replies_to<atom::get, atom::queue>::with<queue_summary>>;

/// A device of the user connected to another node, as the directory
/// shards and route tables hold it: where to forward its messages.
struct remote_route {
  device_identity id;
  /// The link to the node holding its queue; empty while that node is
  /// down (its messages then fail with NODE_UNAVAILABLE).
  peer_link_actor node;
  std::string node_id;
  bool connected = true;
  /// The generation of the device's queue there (SPEC §14.3).
  uint64_t gen = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_route& x) {
  return f(caf::meta::type_name("remote_route"), x.id, x.node, x.node_id,
           x.connected, x.gen);
}

/// A user's devices as that user's connections route to them: the routing
/// facts (what plan_route reads) and, at the same index, each device's
/// queue while that runs and the device is connected (else null: messages
/// for it go through the directory, which starts the queue).
struct user_routes {
  std::vector<device_entry> devices;
  /// The queue of each connected device here (else empty).
  std::vector<queue_actor> queues;
  /// The link to the node of each device whose queue is on another node
  /// (else empty).
  std::vector<peer_link_actor> remotes;
  /// For such a device whose node is down: that node's id (else empty).
  std::vector<std::string> down;
};

/// What the directory answers a connection that joined.
struct joined_info {
  /// The device's queue.
  queue_actor queue;
  /// The user's devices (updates follow as atom::routes).
  route_table routes;
  /// The device's window of recent message ids (it outlives connections).
  std::shared_ptr<device_dedup> dedup;
  /// With no queue (the device's would hold nothing: it starts with the
  /// first message, and asks the connection for its batcher): the resume
  /// token.
  std::string epoch;
};

/// A device joining a room: who, where its messages go, what it wants.
struct room_member {
  device_identity id;
  queue_actor queue;
  room_ask ask;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_member& x) {
  return f(caf::meta::type_name("room_member"), x.id, x.queue, x.ask);
}

/// ROOM: one per room with members; membership, presence (presence_set),
/// batched presence diffs, and publishing to every member's queue.
using room_actor = caf::typed_actor<
  // Adds a device (or refreshes its subscription); replies with the member
  // count; a device asking for presence gets a snapshot.
  caf::replies_to<atom::join, room_member>::with<uint32_t>,
  // Removes a device (user, device).
  caf::reacts_to<atom::leave, std::string, std::string>,
  // The device's connection ended; it stays for the grace period.
  caf::reacts_to<atom::closed, std::string, std::string>,
  // The device is connected again (within the grace: nothing reported).
  caf::reacts_to<atom::attach, device_identity, queue_actor>,
  // A presence change or activity of a device.
  caf::reacts_to<atom::status, presence_update>,
  // Publishes to every member but the sender's device, here and (in a
  // cluster) through the other nodes; replies with the number of
  // recipients (FORBIDDEN for a sender that is not a member or that the
  // room rules do not let publish).
  caf::replies_to<atom::publish, device_identity,
                  protocol::message_ptr>::with<uint32_t>,
  // The same for a publish another node relays (its sender is a member
  // there, checked there); replies with the members reached here.
  caf::replies_to<atom::publish, atom::forward, device_identity,
                  protocol::message_ptr>::with<uint32_t>,
  // Sends a page of the member list to the asking device.
  caf::reacts_to<atom::get, device_identity, room_ask>,
  // A cluster: another node (id) tells of its members here (changes, or
  // all of them: full); `ask`: answer with this node's members.
  caf::reacts_to<atom::presence, std::string, std::vector<presence_row>, bool,
                 bool>,
  // Every member shown (all nodes), for the server API.
  caf::replies_to<atom::get, atom::presence>::with<std::vector<presence_row>>,
  // Its member counts (the dashboard).
  caf::replies_to<atom::get, atom::room>::with<room_summary>,
  // A cluster: this node's link to the node (id) is up: tell it (and the
  // others) this node's members; or it is down: its members leave after
  // the grace.
  caf::reacts_to<atom::linked, std::string>,
  caf::reacts_to<atom::unlinked, std::string>,
  // INTERNAL: presence timers of this generation.
  caf::reacts_to<atom::tick, uint64_t>,
  // INTERNAL: write the pending presence diff.
  caf::reacts_to<atom::flush>>;

/// A room's members on one event loop (member_lists): shared with the loop's
/// fan-out, not copied per publish. Node-local.
using queue_list_ptr = std::shared_ptr<const std::vector<queue_actor>>;

/// FAN-OUT: a large ROOM's helper on one event loop, spawned there by the
/// room and linked to it: puts the room's publishes into the queues of its
/// members on that loop, so that the loop owning their sockets serves them
/// while the room's own loop serves the rest.
using fanout_actor = caf::typed_actor<
  // Enqueues the message, with its encodings, to every queue of the list
  // but `except` (the sender's queue, or none).
  caf::reacts_to<atom::publish, queue_list_ptr, protocol::message_ptr,
                 encoded_ptr, queue_actor>>;

/// STORE: the durable log behind a detached actor; all writes waiting in the
/// mailbox are committed in one transaction (group commit).
using store_actor = caf::typed_actor<
  // Appends a message; replies once it is on disk.
  caf::replies_to<atom::append, stored_message>::with<atom::ok>,
  // Retires messages (acked, written, expired, evicted).
  caf::reacts_to<atom::remove, message_keys>,
  // Moves messages to the dead letters.
  caf::reacts_to<atom::bury, message_keys>,
  // INTERNAL (timer): purges dead letters past their retention.
  caf::reacts_to<atom::remove, atom::dead>,
  // Registers a device; replies with its record, its backlog and whether
  // the device is new. A new one's record reserves seqs 1 to the given
  // number in the same commit (its queue needs no reservation to start).
  caf::replies_to<atom::open, device_identity, uint64_t>::with<
    device_record, std::vector<stored_message>, bool>,
  // Persists high-water marks; replies once on disk.
  caf::replies_to<atom::reserve, reservation>::with<atom::ok>,
  // Records (or resets) unreported gap counters.
  caf::reacts_to<atom::gaps, gap_counts>,
  // Lists a user's known devices.
  caf::replies_to<atom::get, atom::devices,
                  std::string>::with<std::vector<device_record>>,
  // Lists a user's known devices (as before the call) and registers one of
  // them as atom::open does, answering once that is durable: a join that
  // loads its user costs one trip.
  caf::replies_to<atom::get, atom::devices, std::string, device_identity,
                  uint64_t>::with<std::vector<device_record>, device_record,
                                  std::vector<stored_message>, bool>,
  // Lists the devices with stored messages.
  caf::replies_to<atom::get, atom::backlog>::with<std::vector<device_record>>,
  // Lists a user's dead letters.
  caf::replies_to<atom::get, atom::dead,
                  std::string>::with<std::vector<stored_message>>,
  // Registers a device's push address (user, device, address), replacing
  // its address for that provider; replies once on disk.
  caf::replies_to<atom::push, atom::append, std::string, std::string,
                  protocol::push_address>::with<atom::ok>,
  // Removes a device's push address for a provider (its number), or all
  // (-1); replies once on disk.
  caf::replies_to<atom::push, atom::remove, std::string, std::string,
                  int32_t>::with<atom::ok>,
  // Removes an address a provider called dead, if it is still the device's.
  caf::reacts_to<atom::push, atom::dead, std::string, std::string,
                 protocol::push_address>,
  // Records when a device's last push was sent (wall ms).
  caf::reacts_to<atom::push, atom::written, std::string, std::string, int64_t>,
  // A device's push addresses.
  caf::replies_to<atom::push, atom::get, std::string,
                  std::string>::with<std::vector<protocol::push_address>>,
  // The devices with an address and a live message at or above this
  // priority that entered after their last push.
  caf::replies_to<atom::push, atom::backlog,
                  uint8_t>::with<std::vector<device_record>>,
  // Applies a leader's batch to the copy of its queue here (SPEC §14.3);
  // replies once on disk with a replica_outcome (stored, stale: an older
  // generation, orphan: the leader is back with another store).
  caf::replies_to<atom::replicate, replica_batch>::with<uint8_t>,
  // Retires rows (qids) of a copy (leader, user, device) this node
  // adopted; a copy left without rows goes.
  caf::reacts_to<atom::remove, atom::replicate, std::string, message_keys>,
  // The copies of the queues a leader (node id) leads.
  caf::replies_to<atom::get, atom::replicate,
                  std::string>::with<std::vector<replica_header>>,
  // A copy's rows (leader, user, device) for a takeover at this
  // generation by that node (id), which the copy takes (a fence: the old
  // leader's later batches are refused; the taking node's drop it), once
  // on disk; an error if there is no copy.
  caf::replies_to<atom::get, atom::replicate, std::string, std::string,
                  std::string, uint64_t,
                  std::string>::with<std::vector<stored_message>>,
  // Raises a device's queue generation (user, device); replies once on
  // disk.
  caf::replies_to<atom::generation, std::string, std::string,
                  uint64_t>::with<atom::ok>,
  // INTERNAL: commits what is pending.
  caf::reacts_to<atom::flush>>;

/// The live members (sorted, this node among them), this node's links to
/// them and their stores' ids, as the cluster actor saw them last.
/// Node-local.
struct cluster_links {
  std::vector<std::string> live;
  std::map<std::string, peer_link_actor> peers;
  /// The store id of each live member (SPEC §14.3).
  std::map<std::string, std::string> stores;
};
using links_ptr = std::shared_ptr<const cluster_links>;

/// REPLICA (SPEC §14.3; only with cluster.replication_factor above 1): the
/// STORE as this node's queues and connections see it. It passes every
/// request on to the store, and for a device queue led here sends each
/// durable row and retirement to the queue's followers, answering an
/// append once a majority of the replica set has it on disk. It keeps the
/// copies of queues other nodes lead, takes a queue over when its leader
/// is gone and this node is the first live follower, and repairs replica
/// sets when the members change.
using replica_actor = store_actor::extend<
  // From the cluster actor: the members or the links changed.
  caf::reacts_to<atom::members, links_ptr>,
  // From the cluster actor: a batch of leader `from` for the copy here.
  caf::replies_to<atom::replicate, std::string, replica_batch>::with<bool>,
  // INTERNAL: the next round of the repair.
  caf::reacts_to<atom::replicate>,
  // INTERNAL: a copy left to the first live follower of its gone leader:
  // taken over here if nobody gathered it meanwhile (that follower holds
  // no copy, so it never heard of the queue).
  caf::reacts_to<atom::promote, replica_header>>;

/// PUSHER: the node's pushes to devices' addresses (SPEC §5.10), one per
/// node; queues ask, it reads the addresses from the store and posts to the
/// providers through the node's push transport, retrying with backoff.
using pusher_actor = caf::typed_actor<
  // A queue's push for its device.
  caf::reacts_to<atom::push, push_request>,
  // INTERNAL: a provider's answer to the post of this id.
  caf::reacts_to<atom::push, atom::ack, uint64_t, push_answer>,
  // INTERNAL: the FCM token endpoint's answer.
  caf::reacts_to<atom::push, atom::ack, push_answer>,
  // INTERNAL (timer): the post of this id is tried again.
  caf::reacts_to<atom::push, atom::tick, uint64_t>>;

/// DIRECTORY: one shard of the node's directory (a user's devices live in
/// the shard of shard_of(user id)): the devices of its users, their queues
/// and room memberships. Connections route to queues themselves; what needs
/// a queue started, a room or a rule goes through the shard.
using directory_actor = caf::typed_actor<
  // Registers a connected device; replies with its queue, the user's route
  // table and the device's dedup window.
  caf::replies_to<atom::join, device_identity,
                  connection_actor>::with<joined_info>,
  // Routes a validated message for devices (not a room); replies with the
  // number of recipients.
  caf::replies_to<atom::route, device_identity,
                  protocol::message_ptr>::with<uint32_t>,
  // Lists a user's connected devices.
  caf::replies_to<atom::get, std::string>::with<std::vector<device_identity>>,
  // A device joins a room (rules and private rooms checked); replies with
  // the member count and the room, which its connection publishes to.
  caf::replies_to<atom::room, atom::join, device_identity,
                  room_ask>::with<uint32_t, room_actor>,
  // The room (by name) of a device that is in it, for its connection (the
  // user's own room started and joined if need be); an empty handle if the
  // device is in no room of that name here.
  caf::replies_to<atom::get, atom::room, device_identity,
                  std::string>::with<room_actor>,
  // The registry of the rooms whose names this shard owns (shard_of(room
  // name)): the room of this name, spawned by the orchestrator if it does
  // not run; or the running one only (else an empty handle).
  caf::replies_to<atom::room, std::string>::with<room_actor>,
  caf::replies_to<atom::get, atom::room, std::string>::with<room_actor>,
  // A device leaves a room.
  caf::reacts_to<atom::room, atom::leave, device_identity, std::string>,
  // A device asks for a page of a room's presence.
  caf::replies_to<atom::room, atom::get, device_identity,
                  room_ask>::with<atom::ok>,
  // A device's presence change or activity, for all its rooms.
  caf::reacts_to<atom::status, presence_update>,
  // A room dropped a member (user, device, room) after its grace period.
  caf::reacts_to<atom::left, std::string, std::string, std::string>,
  // The user's devices connected to other nodes (cluster), all of them.
  caf::reacts_to<atom::routes, std::string, std::vector<remote_route>>,
  // The device handled these message ids: their copies for the user's
  // other devices are withdrawn, here and on the nodes holding their queues.
  caf::reacts_to<atom::handled, device_identity, std::vector<std::string>>,
  // Starts the queue of this device (user, device) of a user here: its
  // stored messages may call for a push (a node that starts).
  caf::reacts_to<atom::push, std::string, std::string>,
  // The same from another node, for these devices whose queues are here.
  caf::reacts_to<atom::handled, atom::forward, device_identity,
                 std::vector<std::string>, std::vector<std::string>>,
  // A message another node forwards to these devices of the sender's user
  // (connected here); replies with how many queues took it.
  caf::replies_to<atom::forward, device_identity, std::vector<std::string>,
                  protocol::message_ptr>::with<uint32_t>,
  // Closes the connection of (user, device) here with 4502 (server API);
  // replies whether it was connected here.
  caf::replies_to<atom::close, std::string, std::string>::with<bool>,
  // The device's queue here is to go to the node of that link, where the
  // device's queue is now at this generation (from this node's cluster
  // actor; an older queue goes too, merged there).
  caf::reacts_to<atom::handover, device_identity, peer_link_actor, uint64_t>,
  // The messages of a device's queue on another node (of this generation),
  // in order, for its queue here; replies once it took them, with the ids
  // it refused.
  caf::replies_to<atom::handover, device_identity, uint64_t,
                  message_list>::with<std::vector<std::string>>,
  // INTERNAL: evict users idle for longer than directory.idle_user_ttl.
  caf::reacts_to<atom::tick>>::extend_with<queue_home>;

/// ORCHESTRATOR: spawns and supervises the node's actors.
using orchestrator_actor = caf::typed_actor<
  // A session completed its handshake: spawn and monitor its connection.
  caf::reacts_to<atom::open, std::shared_ptr<session_port>>,
  // Spawns (and monitors) the queue of a device.
  caf::replies_to<atom::queue, device_identity>::with<queue_actor>,
  // Spawns a released queue again from its record, attached to the
  // device's connection.
  caf::replies_to<atom::queue, device_identity, queue_record,
                  connection_actor>::with<queue_actor>,
  // Spawns (and monitors) a room of this name, for the shard whose
  // registry holds the name.
  caf::replies_to<atom::room, std::string>::with<room_actor>,
  // The room of this name if it runs (else an empty handle), from the
  // shard that registers it.
  caf::replies_to<atom::get, atom::room, std::string>::with<room_actor>,
  // Returns the directory shard of a user (for tools and tests).
  caf::replies_to<atom::get, atom::directory,
                  std::string>::with<directory_actor>,
  // Lists the devices with stored messages (the store's).
  caf::replies_to<atom::get, atom::backlog>::with<std::vector<device_record>>,
  // This node's overview for the dashboard (JSON, SPEC §15): its counters,
  // its deepest and slow queues, its largest rooms. Requests that arrive
  // while one is being gathered share its answer.
  caf::replies_to<atom::get, atom::overview>::with<std::string>,
  // Makes every queue re-check its timers now (after a test moved the clock).
  caf::reacts_to<atom::tick>,
  // Keeps a peer link to this cluster address (host, port) for this
  // node's cluster actor: spawned unless one runs, restarted with backoff.
  caf::reacts_to<atom::link, std::string, uint16_t>,
  // A cluster: the link to this node (id) is up, or down: every room is
  // told (cluster-wide presence).
  caf::reacts_to<atom::linked, std::string>,
  caf::reacts_to<atom::unlinked, std::string>,
  // Closes every connection with 1001; replies once all are gone.
  caf::replies_to<atom::stop>::with<atom::ok>,
  // Drains: closes the connections with 1012 (each told when to come
  // back), at `rate` per second (0: no pace) or faster to be done within
  // the window (ms); sessions opened meanwhile are closed at once. Replies
  // once all are gone.
  caf::replies_to<atom::drain, uint32_t, uint32_t>::with<atom::ok>,
  // INTERNAL: the drain's next slot.
  caf::reacts_to<atom::drain>,
  // INTERNAL: respawns a permanent child (the directory, or the peer link
  // of this address) after its backoff (name, generation).
  caf::reacts_to<atom::restart, std::string, uint64_t>,
  // INTERNAL: the stop deadline passed; kill what is left.
  caf::reacts_to<atom::deadline>,
  // INTERNAL: the token of the earliest connection to expire (of this
  // timer generation) may have expired.
  caf::reacts_to<atom::expire, uint64_t>>;

/// CLUSTER: one per node of a cluster: this node's membership view and the
/// cluster's routing (SPEC §14). Not reachable from other nodes: their
/// messages come through the GATE, with the id of the node they came from
/// (`from`), and go out through PEER LINKs.
using cluster_actor = caf::typed_actor<
  // The node starts: dial the seeds, report the stored queues.
  caf::reacts_to<atom::start, orchestrator_actor>,
  // A peer (`from`, as its link proved) says hello with its member info;
  // answers with this node and the members alive to it.
  caf::replies_to<atom::hello, std::string,
                  member_info>::with<member_info, std::vector<member_info>>,
  // This node's link at this address completed its hello with that peer
  // (its view, and the link that reaches it); an error if it is a second
  // link to a linked node.
  caf::replies_to<atom::linked, std::string, member_info,
                  std::vector<member_info>, peer_link_actor>::with<atom::ok>,
  // The link at this address to this node id ended.
  caf::reacts_to<atom::unlinked, std::string, std::string>,
  // A directory shard of this node: this device connected (true) or left.
  caf::reacts_to<atom::attach, device_identity, bool>,
  // The directory restarted: every device connected here has left.
  caf::reacts_to<atom::closed>,
  // peer_messages, each with the id of the node it came from (this node's
  // own for what it tells itself as a user's home):
  caf::reacts_to<atom::devices, std::string, remote_device>,
  caf::reacts_to<atom::routes, std::string, std::string,
                 std::vector<remote_device>>,
  caf::replies_to<atom::handover, std::string, device_identity, uint64_t,
                  std::vector<std::string>>::with<std::vector<std::string>>,
  caf::replies_to<atom::replicate, std::string, replica_batch>::with<bool>,
  caf::replies_to<atom::get, atom::replicate, std::string, std::string,
                  std::string, std::string,
                  uint64_t>::with<std::vector<stored_message>>,
  // This node's REPLICA actor (SPEC §14.3; none: replication factor 1).
  caf::reacts_to<atom::replicate, replica_actor>,
  // The replica actor took over (or adopted) a queue of this device whose
  // copy was at this generation: its rows (the copy's, in the leader's
  // order) go into the device's queue here, which is held here now, as a
  // handover would; replies with the ids the queue refused.
  caf::replies_to<atom::promote, device_identity, uint64_t,
                  std::vector<stored_message>>::with<std::vector<std::string>>,
  caf::replies_to<atom::forward, std::string, device_identity,
                  std::vector<std::string>, std::string>::with<uint32_t>,
  caf::replies_to<atom::room, std::string, device_identity, std::string,
                  std::string>::with<uint32_t>,
  caf::reacts_to<atom::handled, std::string, device_identity,
                 std::vector<std::string>, std::vector<std::string>>,
  caf::reacts_to<atom::presence, std::string, std::string,
                 std::vector<presence_row>, bool, bool>,
  caf::reacts_to<atom::tick, std::string>,
  // A room of this node: relay this room publish (forwarded_form) to every
  // other member node; replies with the members reached there.
  caf::replies_to<atom::publish, device_identity, std::string,
                  std::string>::with<uint32_t>,
  // A room of this node: its members changed (these rows), or all of them
  // (full), for the room's other nodes; `ask`: they answer with theirs.
  caf::reacts_to<atom::presence, std::string, std::vector<presence_row>, bool,
                 bool>,
  // INTERNAL: ping every linked peer (cluster.heartbeat_interval).
  caf::reacts_to<atom::tick>,
  // This node and every member it knows, in the view's order.
  caf::replies_to<atom::get, atom::members>::with<std::vector<member_info>>,
  // The server API: the overview (JSON) of every other member, in the
  // view's order; a member down or silent is named with its state only.
  caf::replies_to<atom::get, atom::overview>::with<std::vector<std::string>>,
  // This node's overview (JSON), for a peer.
  caf::replies_to<atom::overview>::with<std::string>>;

/// DEVICE: one link incarnation of a simulated device (the CLI side). It
/// quits when its link ends; its FLEET restarts it after a backoff
/// (reconnection is a restart) unless the close code is terminal.
using device_actor = caf::typed_actor<
  // The link's handshake finished (or was refused).
  caf::reacts_to<atom::open, link_opened>,
  // Frames from the server wait in the device's inbox: take them all (one
  // message per batch the link read, not per frame).
  caf::reacts_to<atom::frame>,
  // The link ended with this close code, and a drain's (1012) time to come
  // back in ms (0: none).
  caf::reacts_to<atom::closed, uint16_t, uint32_t>,
  // Drop the link now, as a failing network would.
  caf::reacts_to<atom::drop>,
  // Close the link and stay down.
  caf::reacts_to<atom::stop>,
  // Answered once every send begun before it is done (a drain that set
  // `quiet` waits for this before it compares counts).
  caf::replies_to<atom::flush>::with<atom::ok>,
  // INTERNAL: scenario timers (which, generation).
  caf::reacts_to<atom::tick, uint8_t, uint64_t>>;

/// FLEET: the CLI's orchestrator of simulated devices; restarts each device
/// with backoff_policy and restart_budget, honouring Retry-After hints.
using fleet_actor = caf::typed_actor<
  // Drops every link at once (a reconnect storm).
  caf::reacts_to<atom::drop>,
  // The run ends (the CLI drains): devices waiting out their backoff
  // reconnect now, unless the server asked for later (Retry-After).
  caf::reacts_to<atom::drain>,
  // Stops every device; replies once all are down.
  caf::replies_to<atom::stop>::with<atom::ok>,
  // Replies once every live device answered atom::flush.
  caf::replies_to<atom::flush>::with<atom::ok>,
  // INTERNAL: respawns device #i of this generation.
  caf::reacts_to<atom::restart, uint32_t, uint64_t>,
  // INTERNAL: spawns the next devices (paced start).
  caf::reacts_to<atom::start>,
  // INTERNAL: devices that did not stop in time are killed.
  caf::reacts_to<atom::deadline>>;

} // namespace tether::actors

CAF_BEGIN_TYPE_ID_BLOCK(tether_types, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(tether_types, (tether::actors::device_identity))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::device_identity>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::stored_message))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::stored_message>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::device_record))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::device_record>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::message_keys))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::reservation))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::gap_counts))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::resume_request))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::resume_info))
CAF_ADD_TYPE_ID(tether_types, (std::vector<uint64_t>))
CAF_ADD_TYPE_ID(tether_types, (std::vector<std::string>))
CAF_ADD_TYPE_ID(tether_types, (std::vector<uint8_t>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::presence_update))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::room_ask))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::room_member))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::delivery_source))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::batcher_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::connection_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::queue_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::store_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::room_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::link_opened))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::device_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::fleet_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::directory_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::orchestrator_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::member_info))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::member_info>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::cluster_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::remote_device))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::remote_device>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::remote_route))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::remote_route>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::peer_link_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::gate_actor))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::presence_row))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::presence_row>))
CAF_ADD_TYPE_ID(tether_types, (tether::protocol::push_address))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::push_request))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::push_answer))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::pusher_actor))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::protocol::push_address>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::replica_header))
CAF_ADD_TYPE_ID(tether_types, (std::vector<tether::actors::replica_header>))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::replica_batch))
CAF_ADD_TYPE_ID(tether_types, (tether::actors::replica_actor))

CAF_END_TYPE_ID_BLOCK(tether_types)

// Node-local: shared pointers to state of this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::route_table)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::links_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::write_progress_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::joined_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::queue_list_ptr)
// Node-local: summaries rendered to JSON on their node (the dashboard).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::queue_summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tether::actors::room_summary)

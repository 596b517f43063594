#pragma once

// The atoms of every Tether message: verbs for commands, past tense for
// events, at most 10 characters (CAF 0.17's limit).

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

namespace tether::atom {

// CAF's built-in atoms, aliased so that call sites always write atom::x_v.
using close = caf::close_atom;
constexpr close close_v = close{};
using get = caf::get_atom;
constexpr get get_v = get{};
using join = caf::join_atom;
constexpr join join_v = join{};
using leave = caf::leave_atom;
constexpr leave leave_v = leave{};
using ok = caf::ok_atom;
constexpr ok ok_v = ok{};
using open = caf::open_atom;
constexpr open open_v = open{};
using publish = caf::publish_atom;
constexpr publish publish_v = publish{};
using tick = caf::tick_atom;
constexpr tick tick_v = tick{};
using flush = caf::flush_atom;
constexpr flush flush_v = flush{};

} // namespace tether::atom

CAF_ADD_ATOM(tether_types, tether::atom, frame, "frame")
CAF_ADD_ATOM(tether_types, tether::atom, closed, "closed")
CAF_ADD_ATOM(tether_types, tether::atom, deliver, "deliver")
CAF_ADD_ATOM(tether_types, tether::atom, route, "route")
CAF_ADD_ATOM(tether_types, tether::atom, stop, "stop")
CAF_ADD_ATOM(tether_types, tether::atom, expire, "expire")
CAF_ADD_ATOM(tether_types, tether::atom, restart, "restart")
CAF_ADD_ATOM(tether_types, tether::atom, directory, "directory")
CAF_ADD_ATOM(tether_types, tether::atom, devices, "devices")
CAF_ADD_ATOM(tether_types, tether::atom, deadline, "deadline")
CAF_ADD_ATOM(tether_types, tether::atom, append, "append")
CAF_ADD_ATOM(tether_types, tether::atom, remove, "remove")
CAF_ADD_ATOM(tether_types, tether::atom, bury, "bury")
CAF_ADD_ATOM(tether_types, tether::atom, reserve, "reserve")
CAF_ADD_ATOM(tether_types, tether::atom, gaps, "gaps")
CAF_ADD_ATOM(tether_types, tether::atom, dead, "dead")
CAF_ADD_ATOM(tether_types, tether::atom, enqueue, "enqueue")
CAF_ADD_ATOM(tether_types, tether::atom, attach, "attach")
CAF_ADD_ATOM(tether_types, tether::atom, demand, "demand")
CAF_ADD_ATOM(tether_types, tether::atom, ack, "ack")
CAF_ADD_ATOM(tether_types, tether::atom, written, "written")
CAF_ADD_ATOM(tether_types, tether::atom, start, "start")
CAF_ADD_ATOM(tether_types, tether::atom, queue, "queue")
CAF_ADD_ATOM(tether_types, tether::atom, room, "room")
CAF_ADD_ATOM(tether_types, tether::atom, status, "status")
CAF_ADD_ATOM(tether_types, tether::atom, left, "left")
CAF_ADD_ATOM(tether_types, tether::atom, presence, "presence")
CAF_ADD_ATOM(tether_types, tether::atom, drop, "drop")
CAF_ADD_ATOM(tether_types, tether::atom, drain, "drain")
CAF_ADD_ATOM(tether_types, tether::atom, routes, "routes")
CAF_ADD_ATOM(tether_types, tether::atom, hello, "hello")
CAF_ADD_ATOM(tether_types, tether::atom, linked, "linked")
CAF_ADD_ATOM(tether_types, tether::atom, unlinked, "unlinked")
CAF_ADD_ATOM(tether_types, tether::atom, link, "link")
CAF_ADD_ATOM(tether_types, tether::atom, members, "members")
CAF_ADD_ATOM(tether_types, tether::atom, forward, "forward")
CAF_ADD_ATOM(tether_types, tether::atom, handover, "handover")
CAF_ADD_ATOM(tether_types, tether::atom, backlog, "backlog")
// A node's overview for the dashboard (SPEC §15).
CAF_ADD_ATOM(tether_types, tether::atom, overview, "overview")
// An idle queue gives its memory back (its state kept by the directory).
CAF_ADD_ATOM(tether_types, tether::atom, release, "release")
// A device handled messages: their copies on its user's other devices go.
CAF_ADD_ATOM(tether_types, tether::atom, handled, "handled")
CAF_ADD_ATOM(tether_types, tether::atom, withdraw, "withdraw")
// A device's push addresses and pushes (SPEC §5.10).
CAF_ADD_ATOM(tether_types, tether::atom, push, "push")
// Replicated queues (SPEC §14.3): a leader's rows for a follower's copy, a
// copy taken over, a queue's generation.
CAF_ADD_ATOM(tether_types, tether::atom, replicate, "replicate")
CAF_ADD_ATOM(tether_types, tether::atom, promote, "promote")
CAF_ADD_ATOM(tether_types, tether::atom, generation, "generation")

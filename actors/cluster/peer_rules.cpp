#include "actors/cluster/peer_rules.hpp"

#include "actors/cluster/replication.hpp"
#include "actors/directory/placement.hpp"
#include "protocol/control.hpp"
#include "protocol/validate.hpp"

namespace tether::actors {

namespace {

std::string first_error(const protocol::mobile_message& m,
                        const protocol::limits& limits) {
  std::vector<protocol::field_error> errors;
  protocol::validate(m, limits, errors);
  if (errors.empty())
    return {};
  return errors.front().field + " " + errors.front().message;
}

bool id_ok(std::string_view s) {
  return !s.empty() && s.size() <= protocol::max_id_length
         && protocol::valid_utf8(s);
}

bool from_server(const protocol::mobile_message& m) {
  return m.source.user_id == protocol::server_user_id
         && m.source.device_id == protocol::server_device_id;
}

} // namespace

bool is_home(std::string_view from, std::string_view user,
             const std::vector<std::string>& live) {
  auto i = home_of(user_key(user), live);
  return i < live.size() && live[i] == from;
}

std::string
check_relayed(const protocol::mobile_message& m, const sender_claim& sender,
              const protocol::limits& limits, std::string_view room) {
  if (m.source.user_id != sender.user_id
      || m.source.device_id != sender.device_id || m.source.type != sender.type)
    return "its source is " + m.source.user_id + "/" + m.source.device_id
           + ", not its sender " + std::string{sender.user_id} + "/"
           + std::string{sender.device_id};
  if (protocol::is_server_type(m.type))
    return "type '" + m.type + "' is the server's own";
  if (auto err = first_error(m, limits); !err.empty())
    return err;
  if (!room.empty()) {
    auto& b = m.destination.broadcast;
    if (!b || b->scope != protocol::broadcast_scope::room || !b->room
        || *b->room != room)
      return "it is not addressed to room '" + std::string{room} + "'";
  }
  return {};
}

std::string check_handed_over(const protocol::mobile_message& m,
                              const protocol::limits& limits) {
  if (from_server(m)) {
    // Of the server's notices presence ones are queued with messages, and
    // withdrawals (gap notices stay with the node that dropped; SPEC §14.3).
    if (m.type.rfind("tether.presence.", 0) != 0
        && m.type != "tether.withdrawn")
      return "server notice '" + m.type + "' is not handed over";
    return {};
  }
  if (protocol::is_server_type(m.type))
    return "type '" + m.type + "' is the server's own";
  return first_error(m, limits);
}

std::string check_handled(const sender_claim& by,
                          const std::vector<std::string>& devices,
                          const std::vector<std::string>& ids) {
  if (!id_ok(by.user_id) || !id_ok(by.device_id)
      || by.user_id == protocol::server_user_id
      || by.device_id == protocol::server_device_id)
    return "its sender is not a device";
  if (devices.empty() || devices.size() > max_handled_devices)
    return "it names " + std::to_string(devices.size()) + " devices";
  if (ids.empty() || ids.size() > protocol::max_handled_ids)
    return "it names " + std::to_string(ids.size()) + " message ids";
  for (auto& d : devices)
    if (!id_ok(d) || d == by.device_id)
      return "a device id is empty, too long, not UTF-8 or the sender";
  for (auto& id : ids)
    if (!id_ok(id))
      return "a message id is empty, too long or not UTF-8";
  return {};
}

std::string check_replica(const replica_batch& b,
                          const protocol::limits& limits) {
  auto& h = b.header;
  if (!id_ok(h.user_id) || !id_ok(h.device_id)
      || h.user_id == protocol::server_user_id
      || h.device_id == protocol::server_device_id)
    return "it names no device";
  if (h.type > 3 || (!h.role.empty() && h.role != "extension"))
    return "its device type or role is out of range";
  if (h.followers.size() >= max_replication_factor)
    return "it names " + std::to_string(h.followers.size()) + " followers";
  for (auto& f : h.followers)
    if (!id_ok(f))
      return "a follower id is empty, too long or not UTF-8";
  if (h.lineage.size() > max_lineage_bytes)
    return "its lineage is longer than " + std::to_string(max_lineage_bytes)
           + " bytes";
  if (b.rows.size() > max_replica_rows || b.removed.size() > max_replica_rows)
    return "it holds " + std::to_string(b.rows.size() + b.removed.size())
           + " rows";
  if (b.after > b.upto)
    return "its snapshot range is empty";
  for (auto& r : b.rows) {
    if (r.user_id != h.user_id || r.device_id != h.device_id)
      return "a row of another device";
    if (r.qid == 0 || r.priority > 3 || !id_ok(r.msg_id))
      return "a row's key, priority or message id is out of range";
    auto f = protocol::decode(protocol::codec::msgpack, r.body, limits);
    if (!f.ok() || f.kind != protocol::frame_kind::message
        || f.messages.size() != 1)
      return "a row that is no message";
    auto& m = f.messages.front().msg;
    if (m.id != r.msg_id)
      return "a row whose message has another id";
    if (auto why = check_handed_over(m, limits); !why.empty())
      return "row " + m.id + ": " + why;
  }
  return {};
}

std::string check_member(const member_claim& m) {
  if (!id_ok(m.user_id) || !id_ok(m.device_id))
    return "a member's ids are empty, too long or not UTF-8";
  if (m.user_id == protocol::server_user_id
      || m.device_id == protocol::server_device_id)
    return "the server is no member";
  if (m.type > 3 || m.status > 3)
    return "a member's type or status is out of range";
  // The limits of tether.presence.set (SPEC §11).
  if (m.custom_text.size() > 256 || m.custom_emoji.size() > 32
      || !protocol::valid_utf8(m.custom_text)
      || !protocol::valid_utf8(m.custom_emoji))
    return "a member's custom status is over its limits or not UTF-8";
  if (!m.event.empty() && m.event != "join" && m.event != "update"
      && m.event != "leave")
    return "unknown presence event '" + std::string{m.event} + "'";
  return {};
}

} // namespace tether::actors

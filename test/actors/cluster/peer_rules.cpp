#define CAF_SUITE actors.peer_rules
#include <caf/test/unit_test.hpp>

#include "actors/cluster/peer_rules.hpp"
#include "actors/directory/placement.hpp"
#include "protocol/control.hpp"
#include "test/support/replica_batch.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

protocol::mobile_message chat(const std::string& user,
                              const std::string& device) {
  protocol::mobile_message m;
  m.id = "m1";
  m.timestamp = 1;
  m.source.user_id = user;
  m.source.device_id = device;
  m.source.type = protocol::device_type::mobile;
  m.destination.to = protocol::target::device;
  m.destination.device_id = "laptop";
  m.type = "chat";
  m.payload.raw = "{}";
  return m;
}

const sender_claim alice_phone{"alice", "phone", protocol::device_type::mobile};

} // namespace

CAF_TEST(a node reports its own devices and only the absence of a dead ones) {
  CAF_CHECK(may_report("b", "b", true, true));
  CAF_CHECK(may_report("b", "b", false, true));
  // Another node's device: never connected, and not while it is alive.
  CAF_CHECK(!may_report("b", "c", true, true));
  CAF_CHECK(!may_report("b", "c", true, false));
  CAF_CHECK(!may_report("b", "c", false, true));
  // A dead home's word passed on: the device is not connected on dead c.
  CAF_CHECK(may_report("b", "c", false, false));
}

CAF_TEST(only the home of a user tells where its devices are) {
  std::vector<std::string> live{"a", "b", "c"};
  auto home = live[home_of(user_key("alice"), live)];
  CAF_CHECK(is_home(home, "alice", live));
  for (auto& n : live)
    if (n != home)
      CAF_CHECK(!is_home(n, "alice", live));
  CAF_CHECK(!is_home("mallory", "alice", live));
  CAF_CHECK(!is_home("a", "alice", {}));
}

CAF_TEST(a relayed message comes from its sender and is not of the server) {
  protocol::limits lim;
  CAF_CHECK_EQUAL(check_relayed(chat("alice", "phone"), alice_phone, lim), "");
  // Another source than the device it is relayed for.
  CAF_CHECK_NOT_EQUAL(check_relayed(chat("bob", "phone"), alice_phone, lim),
                      "");
  CAF_CHECK_NOT_EQUAL(check_relayed(chat("alice", "tablet"), alice_phone, lim),
                      "");
  auto typed = chat("alice", "phone");
  typed.source.type = protocol::device_type::desktop;
  CAF_CHECK_NOT_EQUAL(check_relayed(typed, alice_phone, lim), "");
  // The server's types, even from the right source.
  auto gap = chat("alice", "phone");
  gap.type = "tether.gap";
  CAF_CHECK(check_relayed(gap, alice_phone, lim).find("server")
            != std::string::npos);
  // The envelope rules hold (target device needs a device id).
  auto bad = chat("alice", "phone");
  bad.destination.device_id.reset();
  CAF_CHECK_NOT_EQUAL(check_relayed(bad, alice_phone, lim), "");
}

CAF_TEST(a relayed room publish is addressed to that room) {
  protocol::limits lim;
  auto m = chat("alice", "phone");
  m.destination.to = protocol::target::broadcast;
  m.destination.device_id.reset();
  protocol::broadcast_info b;
  b.scope = protocol::broadcast_scope::room;
  b.room = "ops";
  m.destination.broadcast = b;
  CAF_CHECK_EQUAL(check_relayed(m, alice_phone, lim, "ops"), "");
  CAF_CHECK_NOT_EQUAL(check_relayed(m, alice_phone, lim, "admins"), "");
  m.destination.broadcast->scope = protocol::broadcast_scope::user;
  CAF_CHECK_NOT_EQUAL(check_relayed(m, alice_phone, lim, "ops"), "");
}

CAF_TEST(a handed over queue holds messages and the notices that travel) {
  protocol::limits lim;
  CAF_CHECK_EQUAL(check_handed_over(chat("alice", "phone"), lim), "");
  auto notice = chat("system", "server");
  notice.type = "tether.presence.diff";
  CAF_CHECK_EQUAL(check_handed_over(notice, lim), "");
  notice.type = "tether.withdrawn";
  CAF_CHECK_EQUAL(check_handed_over(notice, lim), "");
  // Gap notices stay with the node that dropped; welcomes are never queued.
  notice.type = "tether.gap";
  CAF_CHECK_NOT_EQUAL(check_handed_over(notice, lim), "");
  notice.type = "tether.welcome";
  CAF_CHECK_NOT_EQUAL(check_handed_over(notice, lim), "");
  // A device's message of the server's namespace.
  auto forged = chat("alice", "phone");
  forged.type = "tether.presence.diff";
  CAF_CHECK_NOT_EQUAL(check_handed_over(forged, lim), "");
}

CAF_TEST(a member row holds what a device could have set) {
  member_claim ok{"alice", "phone", 0, 3, "in a meeting", "📅", "join"};
  CAF_CHECK_EQUAL(check_member(ok), "");
  auto m = ok;
  m.user_id = "";
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
  m = ok;
  m.user_id = "system";
  m.device_id = "server";
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
  m = ok;
  m.status = 4;
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
  m = ok;
  std::string long_text(257, 'x');
  m.custom_text = long_text;
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
  m = ok;
  m.custom_text = "\xff\xfe";
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
  m = ok;
  m.event = "promote";
  CAF_CHECK_NOT_EQUAL(check_member(m), "");
}

namespace {

replica_batch replica_of(const protocol::mobile_message& m) {
  return test::one_row_batch(m, "c");
}

} // namespace

CAF_TEST(a replica batch holds rows of its device a queue could hold) {
  protocol::limits limits;
  auto ok = replica_of(chat("alice", "phone"));
  CAF_CHECK_EQUAL(check_replica(ok, limits), "");
  // Retirements alone, a snapshot part, a drop.
  replica_batch bare;
  bare.header = ok.header;
  bare.removed = {1, 2};
  CAF_CHECK_EQUAL(check_replica(bare, limits), "");
  bare.after = 4;
  bare.upto = 2;
  CAF_CHECK_EQUAL(check_replica(bare, limits), "its snapshot range is empty");
  // A row of another device than the header's.
  auto other = ok;
  other.rows[0].device_id = "tablet";
  CAF_CHECK_EQUAL(check_replica(other, limits), "a row of another device");
  // Bytes that are no message, or a message under another id.
  auto junk = ok;
  junk.rows[0].body = "\xc1";
  CAF_CHECK_EQUAL(check_replica(junk, limits), "a row that is no message");
  auto renamed = ok;
  renamed.rows[0].msg_id = "m2";
  CAF_CHECK_EQUAL(check_replica(renamed, limits),
                  "a row whose message has another id");
  // A message of the server's own type: the same rule as a handover.
  auto m = chat("alice", "phone");
  m.type = "tether.ack";
  CAF_CHECK(check_replica(replica_of(m), limits).find("server's own")
            != std::string::npos);
  // The header: the server is no device; types, roles and followers bound.
  auto server = ok;
  server.header.user_id = std::string{protocol::server_user_id};
  CAF_CHECK_EQUAL(check_replica(server, limits), "it names no device");
  auto role = ok;
  role.header.role = "admin";
  CAF_CHECK_EQUAL(check_replica(role, limits),
                  "its device type or role is out of range");
  auto many = ok;
  many.header.followers = {"a", "b", "d", "e", "f"};
  CAF_CHECK_EQUAL(check_replica(many, limits), "it names 5 followers");
  auto lineage = ok;
  lineage.header.lineage.assign(max_lineage_bytes, 'f');
  CAF_CHECK_EQUAL(check_replica(lineage, limits), "");
  lineage.header.lineage += 'f';
  CAF_CHECK_EQUAL(check_replica(lineage, limits),
                  "its lineage is longer than 64 bytes");
  auto huge = bare;
  huge.after = 0;
  huge.removed.assign(max_replica_rows + 1, 7);
  CAF_CHECK(check_replica(huge, limits).find("rows") != std::string::npos);
}

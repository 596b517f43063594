#pragma once

// A leader's replica batch (SPEC §14.3) of one row holding a message, for
// the tests of what a follower takes (peer_rules, the cluster actor).

#include <string>
#include <utility>
#include <vector>

#include "actors/records.hpp"
#include "protocol/codec.hpp"

namespace tether::test {

/// `leader`'s batch for alice's laptop (generation 1, followers a, b or
/// as given), one row (key 1) holding `m`.
inline actors::replica_batch
one_row_batch(const protocol::mobile_message& m, const std::string& leader,
              std::vector<std::string> followers = {"a", "b"}) {
  actors::replica_batch b;
  b.header = actors::replica_header{
    leader, "alice", "laptop", 0, "", 1, std::move(followers), ""};
  actors::stored_message row;
  row.user_id = "alice";
  row.device_id = "laptop";
  row.qid = 1;
  row.priority = 1;
  row.msg_id = m.id;
  row.sender_device = m.source.device_id;
  row.body = protocol::encode(protocol::codec::msgpack, m);
  b.rows.push_back(std::move(row));
  return b;
}

} // namespace tether::test

#define CAF_SUITE actors.overview
#include <caf/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "actors/orchestrator/overview.hpp"

using namespace tether::actors;
using tether::protocol::errc;

namespace {

queue_summary queue(std::string user, uint32_t waiting, uint32_t unacked,
                    bool slow = false) {
  queue_summary q;
  q.user_id = std::move(user);
  q.device_id = "phone";
  q.waiting = waiting;
  q.unacked = unacked;
  q.bytes = 100u * (waiting + unacked);
  q.oldest_age_ms = waiting > 0 ? 1500 : 0;
  q.connected = slow;
  q.slow = slow;
  return q;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  CAF_REQUIRE(!d.HasParseError());
  CAF_REQUIRE(d.IsObject());
  return d;
}

std::vector<std::string> users(const rapidjson::Value& top) {
  std::vector<std::string> out;
  for (auto& q : top.GetArray())
    out.emplace_back(q["userId"].GetString());
  return out;
}

using strings = std::vector<std::string>;

} // namespace

CAF_TEST(the counters are the node metrics) {
  node_metrics m;
  m.connection_opened();
  m.connection_opened();
  m.connection_closed(1000);
  m.received(traffic_kind::message, 1, 50);
  m.received(traffic_kind::batch, 3, 120);
  m.received(traffic_kind::ack, 4, 40); // not a message
  m.sent(traffic_kind::message, 2, 80);
  m.error(errc::unknown_device);
  m.error(errc::unknown_device);
  m.error(errc::node_unavailable); // the last code is counted too
  m.store_committed(3, std::chrono::milliseconds{4});
  m.store_committed(1, std::chrono::milliseconds{2});
  m.queue_event(queue_counter::slow_consumer, 1);
  m.push_ended(1, push_outcome::sent); // fcm
  m.push_ended(1, push_outcome::sent);
  m.push_ended(0, push_outcome::dead); // apns
  node_overview o;
  o.node_id = "a\"b"; // written as JSON, not pasted
  o.started_ms = 1700000000000;
  auto d = parse(render_overview(o, m));
  CAF_CHECK_EQUAL(d["node"].GetString(), std::string{"a\"b"});
  CAF_CHECK_EQUAL(d["state"].GetString(), std::string{"alive"});
  CAF_CHECK_EQUAL(d["startedAt"].GetInt64(), 1700000000000);
  CAF_CHECK_EQUAL(d["connections"].GetInt64(), 1);
  CAF_CHECK_EQUAL(d["connectionsTotal"].GetUint64(), 2u);
  CAF_CHECK_EQUAL(d["messagesIn"].GetUint64(), 4u);
  CAF_CHECK_EQUAL(d["messagesOut"].GetUint64(), 2u);
  auto& errors = d["errors"];
  CAF_CHECK_EQUAL(errors.MemberCount(), 2u);
  CAF_CHECK_EQUAL(errors["UNKNOWN_DEVICE"].GetUint64(), 2u);
  CAF_CHECK_EQUAL(errors["NODE_UNAVAILABLE"].GetUint64(), 1u);
  CAF_CHECK_EQUAL(d["store"]["commits"].GetUint64(), 2u);
  CAF_CHECK_EQUAL(d["store"]["operations"].GetUint64(), 4u);
  CAF_CHECK_LESS(std::abs(d["store"]["commitSeconds"].GetDouble() - 0.006),
                 1e-9);
  CAF_CHECK_EQUAL(d["queues"]["slowConsumerCloses"].GetUint64(), 1u);
  CAF_CHECK_EQUAL(d["queues"]["count"].GetUint64(), 0u);
  CAF_CHECK_EQUAL(d["rooms"]["top"].Size(), 0u);
  auto& pushes = d["pushes"];
  CAF_CHECK_EQUAL(pushes.MemberCount(), 3u);
  CAF_CHECK_EQUAL(pushes["fcm"]["sent"].GetUint64(), 2u);
  CAF_CHECK_EQUAL(pushes["apns"]["dead"].GetUint64(), 1u);
  CAF_CHECK_EQUAL(pushes["apns"]["sent"].GetUint64(), 0u);
  CAF_CHECK_EQUAL(pushes["webhook"].MemberCount(), 5u);
  CAF_CHECK_EQUAL(pushes["webhook"]["unconfigured"].GetUint64(), 0u);
}

CAF_TEST(slow consumers come first then the deepest queues up to the limit) {
  node_metrics m;
  node_overview o;
  o.queues = {queue("a", 1, 0), queue("b", 9, 1), queue("c", 2, 0, true),
              queue("d", 5, 5), queue("e", 0, 0), queue("f", 3, 0)};
  o.unanswered = 2;
  auto d = parse(render_overview(o, m, overview_limits{4, 50}));
  auto& q = d["queues"];
  // Totals count every queue, listed or not.
  CAF_CHECK_EQUAL(q["count"].GetUint64(), 6u);
  CAF_CHECK_EQUAL(q["waiting"].GetUint64(), 20u);
  CAF_CHECK_EQUAL(q["unacked"].GetUint64(), 6u);
  CAF_CHECK_EQUAL(q["bytes"].GetUint64(), 2600u);
  CAF_CHECK_EQUAL(q["slow"].GetUint(), 1u);
  // d (10) ties b (10): by user id.
  CAF_CHECK_EQUAL(users(q["top"]), (strings{"c", "b", "d", "f"}));
  auto& first = q["top"][0];
  CAF_CHECK_EQUAL(first["slow"].GetBool(), true);
  CAF_CHECK_EQUAL(first["connected"].GetBool(), true);
  CAF_CHECK_EQUAL(first["oldestAgeMs"].GetInt64(), 1500);
  CAF_CHECK_EQUAL(d["unanswered"].GetUint(), 2u);
}

CAF_TEST(rooms are listed by members up to the limit) {
  node_metrics m;
  node_overview o;
  o.rooms = {{"small", 1, 1}, {"big", 9, 2}, {"mid", 4, 4}, {"also-mid", 4, 0}};
  auto d = parse(render_overview(o, m, overview_limits{20, 3}));
  auto& r = d["rooms"];
  CAF_CHECK_EQUAL(r["count"].GetUint64(), 4u);
  CAF_CHECK_EQUAL(r["localMembers"].GetUint64(), 7u);
  strings names;
  for (auto& x : r["top"].GetArray())
    names.emplace_back(x["room"].GetString());
  CAF_CHECK_EQUAL(names, (strings{"big", "also-mid", "mid"}));
  CAF_CHECK_EQUAL(r["top"][0]["members"].GetUint(), 9u);
  CAF_CHECK_EQUAL(r["top"][0]["local"].GetUint(), 2u);
}

CAF_TEST(an absent node is its id and state) {
  auto d = parse(render_absent_node("node-c", "down"));
  CAF_CHECK_EQUAL(d.MemberCount(), 2u);
  CAF_CHECK_EQUAL(d["node"].GetString(), std::string{"node-c"});
  CAF_CHECK_EQUAL(d["state"].GetString(), std::string{"down"});
}

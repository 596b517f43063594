#include "actors/orchestrator/overview.hpp"

#include <algorithm>
#include <tuple>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/push.hpp"

namespace tether::actors {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, std::string_view x) {
  w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
}

// Messages carried by frames of kind message and batch.
uint64_t messages(const node_metrics& m, bool in) {
  auto of = [&](traffic_kind k) {
    return in ? m.messages_in(k) : m.messages_out(k);
  };
  return of(traffic_kind::message) + of(traffic_kind::batch);
}

void queues(writer& w, std::vector<queue_summary>& qs, const node_metrics& m,
            size_t limit) {
  uint64_t waiting = 0;
  uint64_t unacked = 0;
  uint64_t bytes = 0;
  uint32_t slow = 0;
  for (auto& q : qs) {
    waiting += q.waiting;
    unacked += q.unacked;
    bytes += q.bytes;
    slow += q.slow ? 1 : 0;
  }
  // Slow consumers first, then the deepest; ties by device for a stable
  // listing.
  auto shown = std::min(limit, qs.size());
  std::partial_sort(qs.begin(), qs.begin() + static_cast<ptrdiff_t>(shown),
                    qs.end(),
                    [](const queue_summary& a, const queue_summary& b) {
                      if (a.slow != b.slow)
                        return a.slow;
                      auto da = uint64_t{a.waiting} + a.unacked;
                      auto db = uint64_t{b.waiting} + b.unacked;
                      if (da != db)
                        return da > db;
                      return std::tie(a.user_id, a.device_id)
                             < std::tie(b.user_id, b.device_id);
                    });
  w.Key("queues");
  w.StartObject();
  w.Key("count");
  w.Uint64(qs.size());
  w.Key("waiting");
  w.Uint64(waiting);
  w.Key("unacked");
  w.Uint64(unacked);
  w.Key("bytes");
  w.Uint64(bytes);
  w.Key("slow");
  w.Uint(slow);
  w.Key("slowConsumerCloses");
  w.Uint64(m.queue_events(queue_counter::slow_consumer));
  w.Key("expired");
  w.Uint64(m.queue_events(queue_counter::expired));
  w.Key("deadLettered");
  w.Uint64(m.queue_events(queue_counter::dead_lettered));
  w.Key("top");
  w.StartArray();
  for (size_t i = 0; i < shown; ++i) {
    auto& q = qs[i];
    w.StartObject();
    w.Key("userId");
    str(w, q.user_id);
    w.Key("deviceId");
    str(w, q.device_id);
    w.Key("waiting");
    w.Uint(q.waiting);
    w.Key("unacked");
    w.Uint(q.unacked);
    w.Key("bytes");
    w.Uint64(q.bytes);
    w.Key("oldestAgeMs");
    w.Int64(q.oldest_age_ms);
    w.Key("connected");
    w.Bool(q.connected);
    w.Key("slow");
    w.Bool(q.slow);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void rooms(writer& w, std::vector<room_summary>& rs, size_t limit) {
  uint64_t members = 0;
  for (auto& r : rs)
    members += r.local;
  auto shown = std::min(limit, rs.size());
  std::partial_sort(rs.begin(), rs.begin() + static_cast<ptrdiff_t>(shown),
                    rs.end(), [](const room_summary& a, const room_summary& b) {
                      if (a.members != b.members)
                        return a.members > b.members;
                      return a.name < b.name;
                    });
  w.Key("rooms");
  w.StartObject();
  w.Key("count");
  w.Uint64(rs.size());
  w.Key("localMembers");
  w.Uint64(members);
  w.Key("top");
  w.StartArray();
  for (size_t i = 0; i < shown; ++i) {
    w.StartObject();
    w.Key("room");
    str(w, rs[i].name);
    w.Key("members");
    w.Uint(rs[i].members);
    w.Key("local");
    w.Uint(rs[i].local);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// Pushes by provider and outcome, totals since the start.
void pushes(writer& w, const node_metrics& m) {
  w.Key("pushes");
  w.StartObject();
  for (uint8_t p = 0; p < push_provider_count; ++p) {
    str(w, protocol::to_string(static_cast<protocol::push_provider>(p)));
    w.StartObject();
    for (size_t o = 0; o < push_outcome_count; ++o) {
      auto outcome = static_cast<push_outcome>(o);
      str(w, to_string(outcome));
      w.Uint64(m.pushes(p, outcome));
    }
    w.EndObject();
  }
  w.EndObject();
}

} // namespace

std::string render_overview(node_overview o, const node_metrics& m,
                            overview_limits limits) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("node");
  str(w, o.node_id);
  w.Key("state");
  w.String("alive");
  w.Key("startedAt");
  w.Int64(o.started_ms);
  w.Key("connections");
  w.Int64(m.connections());
  w.Key("connectionsTotal");
  w.Uint64(m.connections_total());
  w.Key("messagesIn");
  w.Uint64(messages(m, true));
  w.Key("messagesOut");
  w.Uint64(messages(m, false));
  w.Key("errors");
  w.StartObject();
  for (size_t i = 1; i <= static_cast<size_t>(protocol::errc_last); ++i) {
    auto code = static_cast<protocol::errc>(i);
    if (auto n = m.errors(code); n > 0) {
      auto name = protocol::to_code(code);
      w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      w.Uint64(n);
    }
  }
  w.EndObject();
  w.Key("store");
  w.StartObject();
  w.Key("commits");
  w.Uint64(m.store_commits());
  w.Key("operations");
  w.Uint64(m.store_operations());
  w.Key("commitSeconds");
  w.Double(static_cast<double>(m.store_commit_ns()) / 1e9);
  w.EndObject();
  queues(w, o.queues, m, limits.queues);
  rooms(w, o.rooms, limits.rooms);
  pushes(w, m);
  w.Key("unanswered");
  w.Uint(o.unanswered);
  w.EndObject();
  return buf.GetString();
}

std::string render_absent_node(const std::string& node_id,
                               const std::string& state) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("node");
  str(w, node_id);
  w.Key("state");
  str(w, state);
  w.EndObject();
  return buf.GetString();
}

} // namespace tether::actors

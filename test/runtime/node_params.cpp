// The mapping of settings to the params of a node's parts. The params'
// defaults are the settings' defaults (config/settings.hpp is the one place
// a value is written); so default settings must give every part its
// default params, and a field mapped from the wrong setting, or a default
// written again beside the settings, fails here. Values a setting embeds
// whole (queue_params, batch_params, presence_params, the protocol limits,
// the guard, backoff and budget) are one definition and are not listed.
#define CAF_SUITE runtime.node_params

#include <caf/test/unit_test.hpp>

#include "runtime/node_params.hpp"

using namespace tether;

#define CHECK_SAME(mapped, field)                                              \
  CAF_CHECK_EQUAL((mapped).field, decltype(mapped){}.field)

CAF_TEST(default settings give the orchestrator its default params) {
  config::settings s;
  auto p = runtime::orchestrator_params_of(s);
  CHECK_SAME(p, stop_timeout);
  CHECK_SAME(p.queue, resume_window);
  CHECK_SAME(p.queue, release_after);
  CHECK_SAME(p.queue, handover_timeout);
  CHECK_SAME(p.store, dead_letter_retention);
  CHECK_SAME(p.directory, dedup_window);
  CHECK_SAME(p.directory, dedup_capacity);
  CHECK_SAME(p.directory, request_timeout);
  CHECK_SAME(p.directory, shards);
  CHECK_SAME(p.directory, idle_user_ttl);
  CHECK_SAME(p.directory, max_users);
  CHECK_SAME(p.directory, max_rooms);
  CHECK_SAME(p.room, diff_interval);
  CHECK_SAME(p.room, max_page_size);
  CAF_CHECK_EQUAL(p.room.rules.size(), actors::room_params{}.rules.size());
  for (size_t i = 0; i < p.room.rules.size(); ++i)
    CAF_CHECK_EQUAL(actors::to_string(p.room.rules[i]),
                    actors::to_string(actors::room_params{}.rules[i]));
  CHECK_SAME(p.connection, request_timeout);
  CHECK_SAME(p.connection, ping_interval);
  CHECK_SAME(p.connection, pong_timeout);
  CHECK_SAME(p.connection, max_message_bytes);
  CHECK_SAME(p.connection, activity_interval);
  CHECK_SAME(p.connection.batcher, compress_threshold);
  CHECK_SAME(p.connection.batcher, compress_level);
  CHECK_SAME(p.peer, timeout);
  CHECK_SAME(p.peer, request_timeout);
  CHECK_SAME(p.queue.push, min_priority);
  CHECK_SAME(p.queue.push, delay);
  CHECK_SAME(p.queue.push, min_interval);
  CHECK_SAME(p.pusher, webhook_url);
  CHECK_SAME(p.pusher, max_retries);
}

CAF_TEST(default settings give the server its default params) {
  config::settings s;
  auto sp = runtime::server_params_of(s);
  CHECK_SAME(sp, ws_path);
  CHECK_SAME(sp, max_connections);
  CHECK_SAME(sp, handshake_rate);
  CHECK_SAME(sp, handshake_burst);
  CHECK_SAME(sp, permessage_deflate);
  CHECK_SAME(sp, deflate_level);
  CHECK_SAME(sp, deflate_window_bits);
  CHECK_SAME(sp, deflate_mem_level);
  CHECK_SAME(sp, deflate_no_context_takeover);
  CHECK_SAME(sp, max_message_bytes);
  CHECK_SAME(sp, handshake_timeout);
  CHECK_SAME(sp, ping_interval);
  CHECK_SAME(sp, pong_timeout);
  CHECK_SAME(sp, close_timeout);
  CHECK_SAME(sp, tls_port);
  CHECK_SAME(sp, tls_only);
  CHECK_SAME(sp, echo_path);
  CHECK_SAME(sp, token_leeway);
}

CAF_TEST(default settings give the cluster its default params) {
  config::settings s;
  auto cp = runtime::cluster_params_of(s, actors::member_info{});
  CHECK_SAME(cp, heartbeat_interval);
  CHECK_SAME(cp, request_timeout);
  auto gp = runtime::gate_params_of(s);
  CHECK_SAME(gp, request_timeout);
  auto tp = runtime::transport_params_of(s);
  CHECK_SAME(tp, handshake_timeout);
  CHECK_SAME(tp, max_pending);
  CHECK_SAME(tp, max_payload);
  CHECK_SAME(tp, connect_timeout);
}

// The settings a node's deployment changes reach the parts.
CAF_TEST(settings reach the params) {
  config::settings s;
  std::string problem;
  CAF_REQUIRE(config::apply(s, "node.request_timeout", "7s", problem));
  CAF_REQUIRE(config::apply(s, "heartbeat.ping_interval", "15s", problem));
  CAF_REQUIRE(
    config::apply(s, "presence.rules", "join:team-*, publish:team-*", problem));
  auto p = runtime::orchestrator_params_of(s);
  CAF_CHECK_EQUAL(p.connection.request_timeout.count(), 7000);
  CAF_CHECK_EQUAL(p.directory.request_timeout.count(), 7000);
  CAF_CHECK_EQUAL(p.queue.handover_timeout.count(), 7000);
  CAF_CHECK_EQUAL(p.peer.request_timeout.count(), 7000);
  CAF_CHECK_EQUAL(runtime::gate_params_of(s).request_timeout.count(), 7000);
  CAF_CHECK_EQUAL(runtime::cluster_params_of(s, actors::member_info{})
                    .request_timeout.count(),
                  7000);
  CAF_CHECK_EQUAL(p.connection.ping_interval.count(), 15000);
  CAF_REQUIRE_EQUAL(p.room.rules.size(), 2u);
  CAF_CHECK_EQUAL(actors::to_string(p.room.rules[1]), "publish:team-*");
  CAF_CHECK_EQUAL(runtime::server_params_of(s).ping_interval.count(), 15000);
  // A malformed rule is refused where it is read, with its reason.
  CAF_CHECK(!config::apply(s, "presence.rules", "join:*, watch:x", problem));
  CAF_CHECK(problem.find("presence.rules") != std::string::npos);
  CAF_CHECK(problem.find("watch:x") != std::string::npos);
}

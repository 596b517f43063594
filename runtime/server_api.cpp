#include "runtime/server_api.hpp"
#include "runtime/api_request.hpp"

#include <caf/event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/cluster/relay.hpp"
#include "actors/fan_in.hpp"
#include "protocol/errc.hpp"
#include "protocol/presence.hpp"
#include "protocol/validate.hpp"

namespace tether::runtime {

namespace {

using protocol::errc;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Answers with the error's code and reason, and ends the asking actor.
void reply_error(caf::event_based_actor* self,
                 const std::function<void(unsigned, std::string)>& reply,
                 const caf::error& err) {
  auto code = actors::to_errc(err);
  reply(http_status(code),
        failure(code, actors::reason_of(self->system(), err)));
  self->quit();
}

// Spawns an actor that asks for `user`'s directory shard and calls
// `f(self, shard, fail)`; a failure answers through reply_error.
template <class F>
void with_user_shard(const api_context& ctx, const std::string& user,
                     const std::function<void(unsigned, std::string)>& reply,
                     F f) {
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  ctx.sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    auto fail = [self, reply](const caf::error& err) {
      reply_error(self, reply, err);
    };
    self->request(orch, timeout, atom::get_v, atom::directory_v, user)
      .then(
        [=](actors::directory_actor& shard) {
          if (!shard) {
            reply(503,
                  failure(errc::internal_error, "the directory is restarting"));
            self->quit();
            return;
          }
          f(self, shard, fail);
        },
        fail);
    return {[](int) {}};
  });
}

void send_message(const api_context& ctx, const std::string& user,
                  const protocol::message_ptr& msg,
                  const std::function<void(unsigned, std::string)>& reply) {
  actors::device_identity sender;
  sender.user_id = user;
  sender.device_id = "server";
  sender.type = protocol::device_type::desktop;
  auto timeout = ctx.timeout;
  with_user_shard(ctx, user, reply,
                  [=](caf::event_based_actor* self,
                      const actors::directory_actor& shard, auto fail) {
                    self->request(shard, timeout, atom::route_v, sender, msg)
                      .then(
                        [=](uint32_t n) {
                          reply(200, received(msg->id, n));
                          self->quit();
                        },
                        fail);
                  });
}

// A room publish from the server: the room's members here and, in a
// cluster, on every other node (as a publish relayed by a node).
void publish_message(const api_context& ctx, const std::string& room,
                     const protocol::message_ptr& msg,
                     const std::function<void(unsigned, std::string)>& reply) {
  actors::device_identity sender;
  sender.user_id = "system";
  sender.device_id = "server";
  sender.type = protocol::device_type::desktop;
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  auto cluster = ctx.cluster;
  ctx.sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    auto fi = std::make_shared<actors::fan_in>(
      [self, reply, msg](caf::expected<uint32_t> r) {
        if (!r) {
          reply_error(self, reply, r.error());
          return;
        }
        reply(200, received(msg->id, *r));
        self->quit();
      },
      cluster ? 2 : 1);
    auto part = [self, fi](const std::string& who) {
      return std::make_pair([fi](uint32_t n) { fi->accepted(n); },
                            [self, fi, who](caf::error& err) {
                              fi->failed(who, actors::to_errc(err),
                                         actors::reason_of(self->system(),
                                                           err));
                            });
    };
    self->request(orch, timeout, atom::get_v, atom::room_v, room)
      .then(
        [=](actors::room_actor& r) {
          if (!r) {
            fi->accepted(0); // no member here
            return;
          }
          auto [ok, fail] = part("room " + room);
          self
            ->request(r, timeout, atom::publish_v, atom::forward_v, sender, msg)
            .then(ok, fail);
        },
        part("room " + room).second);
    if (cluster) {
      auto [ok, fail] = part("other nodes");
      self
        ->request(cluster, timeout, atom::publish_v, sender, room,
                  actors::forwarded_form(*msg))
        .then(ok, fail);
    }
    return {[](int) {}};
  });
}

std::string presence_json(const std::string& room,
                          const std::vector<actors::presence_row>& rows) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  auto str = [&w](std::string_view x) {
    w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
  };
  w.StartObject();
  w.Key("room");
  str(room);
  w.Key("members");
  w.StartArray();
  for (auto& r : rows) {
    w.StartObject();
    w.Key("userId");
    str(r.user_id);
    w.Key("deviceId");
    str(r.device_id);
    w.Key("deviceType");
    str(protocol::to_string(
      static_cast<protocol::device_type>(std::min<uint8_t>(r.type, 3))));
    w.Key("status");
    str(protocol::to_string(
      static_cast<protocol::presence_status>(std::min<uint8_t>(r.status, 3))));
    if (r.has_custom) {
      w.Key("customStatus");
      w.StartObject();
      w.Key("text");
      str(r.custom_text);
      w.Key("emoji");
      str(r.custom_emoji);
      w.Key("expiresAt");
      w.Int64(r.custom_expires_ms);
      w.EndObject();
    }
    w.Key("lastSeen");
    w.Int64(r.last_seen_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void room_presence(const api_context& ctx, const std::string& room,
                   const std::function<void(unsigned, std::string)>& reply) {
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  ctx.sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    auto fail = [self, reply](const caf::error& err) {
      reply_error(self, reply, err);
    };
    self->request(orch, timeout, atom::get_v, atom::room_v, room)
      .then(
        [=](actors::room_actor& r) {
          if (!r) {
            reply(200, presence_json(room, {}));
            self->quit();
            return;
          }
          self->request(r, timeout, atom::get_v, atom::presence_v)
            .then(
              [=](std::vector<actors::presence_row>& rows) {
                reply(200, presence_json(room, rows));
                self->quit();
              },
              fail);
        },
        fail);
    return {[](int) {}};
  });
}

void disconnect(const api_context& ctx, const std::string& user,
                const std::string& device,
                const std::function<void(unsigned, std::string)>& reply) {
  auto timeout = ctx.timeout;
  with_user_shard(
    ctx, user, reply,
    [=](caf::event_based_actor* self, const actors::directory_actor& shard,
        auto fail) {
      self->request(shard, timeout, atom::close_v, user, device)
        .then(
          [=](bool was) {
            if (was)
              reply(200, R"({"status":"disconnected"})");
            else
              reply(404, failure(errc::device_offline,
                                 "device '" + device
                                   + "' is not connected to this node"));
            self->quit();
          },
          fail);
    });
}

// {"time":..,"nodes":[this node, then the other members in the view's
// order]} (SPEC §15).
void overview(const api_context& ctx,
              const std::function<void(unsigned, std::string)>& reply) {
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  auto cluster = ctx.cluster;
  ctx.sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
    auto fail = [self, reply](const caf::error& err) {
      reply_error(self, reply, err);
    };
    auto answer = [self, reply](const std::string& local,
                                const std::vector<std::string>& others) {
      std::string out = R"({"time":)" + std::to_string(now_ms())
                        + R"(,"nodes":[)" + local;
      for (auto& n : others)
        out.append(",").append(n);
      out += "]}";
      reply(200, std::move(out));
      self->quit();
    };
    self->request(orch, timeout, atom::get_v, atom::overview_v)
      .then(
        [=](std::string& local) {
          if (!cluster) {
            answer(local, {});
            return;
          }
          self->request(cluster, timeout, atom::get_v, atom::overview_v)
            .then(
              [=](std::vector<std::string>& others) { answer(local, others); },
              fail);
        },
        fail);
    return {[](int) {}};
  });
}

} // namespace

void serve_api(const api_context& ctx, const std::string& method,
               const std::string& path, const std::string& body,
               std::function<void(unsigned, std::string)> reply) {
  std::vector<std::string> seg;
  auto bad = [&](const std::string& why) {
    reply(400, failure(errc::validation_error, why));
  };
  auto wrong_method = [&](const char* want) {
    reply(405, failure(errc::validation_error,
                       std::string{"this endpoint is "} + want));
  };
  auto message = [&](const std::string& room, protocol::mobile_message& m) {
    errc error = errc::none;
    std::string why;
    std::vector<protocol::field_error> errors;
    if (read_message(body, ctx.limits, room, m, error, why, errors))
      return true;
    reply(http_status(error), failure(error, why, errors));
    return false;
  };
  auto not_found = [&] {
    reply(404,
          failure(errc::validation_error, "no such endpoint: see SPEC §15"));
  };
  // Another version (/api/v2/...) is an endpoint that does not exist.
  if (path.compare(0, 8, "/api/v1/") != 0)
    return not_found();
  if (!segments(path, seg)) {
    bad("the path has an empty or badly escaped segment");
    return;
  }
  // Ids from the path are checked before anything uses or echoes them.
  auto ids = [&](std::initializer_list<std::pair<path_id, size_t>> which) {
    std::vector<protocol::field_error> errors;
    for (auto [kind, at] : which)
      check_path_id(kind, seg[at], errors);
    if (errors.empty())
      return true;
    reply(400, failure(errc::validation_error,
                       "invalid path: see details.errors", errors));
    return false;
  };
  if (seg.size() == 1 && seg[0] == "stats") {
    if (method != "GET")
      return wrong_method("GET /api/v1/stats");
    reply(200, ctx.stats());
    return;
  }
  if (seg.size() == 1 && seg[0] == "drain") {
    if (method != "POST")
      return wrong_method("POST /api/v1/drain");
    if (!ctx.drain) {
      reply(501, failure(errc::internal_error,
                         "this node cannot be drained through the API (it "
                         "is not run by tetherd)"));
      return;
    }
    reply(202, ctx.drain());
    return;
  }
  if (seg.size() == 1 && seg[0] == "overview") {
    if (method != "GET")
      return wrong_method("GET /api/v1/overview");
    overview(ctx, reply);
    return;
  }
  if (seg.size() == 3 && seg[0] == "users" && seg[2] == "messages") {
    if (method != "POST")
      return wrong_method("POST /api/v1/users/<userId>/messages");
    if (!ids({{path_id::user, 1}}))
      return;
    if (seg[1] == "system")
      return bad("'system' is the server's user id");
    protocol::mobile_message m;
    if (message("", m))
      send_message(
        ctx, seg[1],
        std::make_shared<const protocol::mobile_message>(std::move(m)), reply);
    return;
  }
  if (seg.size() == 5 && seg[0] == "users" && seg[2] == "devices"
      && seg[4] == "disconnect") {
    if (method != "POST")
      return wrong_method(
        "POST /api/v1/users/<userId>/devices/<deviceId>/disconnect");
    if (!ids({{path_id::user, 1}, {path_id::device, 3}}))
      return;
    disconnect(ctx, seg[1], seg[3], reply);
    return;
  }
  if (seg.size() == 3 && seg[0] == "rooms" && seg[2] == "messages") {
    if (method != "POST")
      return wrong_method("POST /api/v1/rooms/<room>/messages");
    if (!ids({{path_id::room, 1}}))
      return;
    protocol::mobile_message m;
    if (message(seg[1], m))
      publish_message(
        ctx, seg[1],
        std::make_shared<const protocol::mobile_message>(std::move(m)), reply);
    return;
  }
  if (seg.size() == 3 && seg[0] == "rooms" && seg[2] == "presence") {
    if (method != "GET")
      return wrong_method("GET /api/v1/rooms/<room>/presence");
    if (!ids({{path_id::room, 1}}))
      return;
    room_presence(ctx, seg[1], reply);
    return;
  }
  not_found();
}

} // namespace tether::runtime

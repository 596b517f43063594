#include "runtime/server_api.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/fan_in.hpp"
#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "protocol/presence.hpp"
#include "protocol/validate.hpp"
#include "runtime/process.hpp"

namespace tether::runtime {

namespace {

using protocol::errc;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

unsigned http_status(errc e) {
  switch (e) {
    case errc::malformed_frame:
    case errc::validation_error:
    case errc::unsupported_version:
    case errc::unsupported_target:
      return 400;
    case errc::forbidden:
    case errc::source_mismatch:
      return 403;
    case errc::unknown_device:
    case errc::no_recipients:
    case errc::device_offline:
      return 404;
    case errc::message_too_large:
      return 413;
    case errc::rate_limited:
      return 429;
    case errc::queue_overflow:
    case errc::shutting_down:
    case errc::node_unavailable:
      return 503;
    case errc::timeout:
      return 504;
    default:
      return 500;
  }
}

// {"status":"failed","error":{"code":..,"message":..,"details":{"errors":[..]}}}
std::string failure(errc e, const std::string& message,
                    const std::vector<protocol::field_error>& errors = {}) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("status");
  w.String("failed");
  w.Key("error");
  w.StartObject();
  w.Key("code");
  auto code = protocol::to_code(e);
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("retryable");
  w.Bool(protocol::retryable(e));
  if (!errors.empty()) {
    w.Key("details");
    w.StartObject();
    w.Key("errors");
    w.StartArray();
    for (auto& fe : errors) {
      w.StartObject();
      w.Key("field");
      w.String(fe.field.c_str(),
               static_cast<rapidjson::SizeType>(fe.field.size()));
      w.Key("message");
      w.String(fe.message.c_str(),
               static_cast<rapidjson::SizeType>(fe.message.size()));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

std::string received(const std::string& id, uint32_t recipients) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("status");
  w.String("received");
  w.Key("messageId");
  w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  w.Key("recipients");
  w.Uint(recipients);
  w.EndObject();
  return buf.GetString();
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// "%41" -> "A"; false for a bad escape.
bool percent_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    auto h = protocol::hex_digit(in[i + 1]);
    auto l = protocol::hex_digit(in[i + 2]);
    if (h < 0 || l < 0)
      return false;
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return true;
}

// The body as the envelope of a message from the server to `user`'s
// devices: source, timestamp, protocolVersion and (if absent) id filled in;
// then the socket path's decoding and validation.
// With `room`, the message is a publish to that room: its destination is
// set, and it must not have another.
bool read_message(const std::string& body, const protocol::limits& limits,
                  const std::string& room, protocol::mobile_message& out,
                  errc& error, std::string& why,
                  std::vector<protocol::field_error>& errors) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = errc::malformed_frame;
    why = "the body is not a JSON object";
    return false;
  }
  auto& a = doc.GetAllocator();
  rapidjson::Value source{rapidjson::kObjectType};
  source.AddMember("userId", "system", a);
  source.AddMember("deviceId", "server", a);
  source.AddMember("deviceType", "desktop", a);
  source.AddMember("timestamp", now_ms(), a);
  doc.RemoveMember("source");
  doc.AddMember("source", source, a);
  if (!room.empty()) {
    if (doc.HasMember("destination")) {
      error = errc::validation_error;
      errors.push_back({"destination", "is the room of the path"});
      why = "invalid message: see details.errors";
      return false;
    }
    rapidjson::Value bc{rapidjson::kObjectType};
    bc.AddMember("scope", "room", a);
    bc.AddMember("room", rapidjson::Value{room.c_str(), a}, a);
    rapidjson::Value dst{rapidjson::kObjectType};
    dst.AddMember("target", "broadcast", a);
    dst.AddMember("broadcast", bc, a);
    doc.AddMember("destination", dst, a);
  }
  if (!doc.HasMember("id")) {
    auto id = "api-" + random_hex_id();
    doc.AddMember("id", rapidjson::Value{id.c_str(), a}, a);
  }
  if (!doc.HasMember("timestamp"))
    doc.AddMember("timestamp", now_ms(), a);
  if (!doc.HasMember("optimization"))
    doc.AddMember("optimization", rapidjson::Value{rapidjson::kObjectType}, a);
  if (auto& opt = doc["optimization"];
      opt.IsObject() && !opt.HasMember("priority"))
    opt.AddMember("priority", "normal", a);
  if (!doc.HasMember("protocolVersion"))
    doc.AddMember("protocolVersion", "1.1.0", a);
  rapidjson::StringBuffer buf;
  writer w{buf};
  doc.Accept(w);
  auto frame = protocol::decode(protocol::codec::json, buf.GetString(), limits);
  if (!frame.ok()) {
    error = frame.error;
    why = frame.error_message;
    return false;
  }
  if (frame.kind != protocol::frame_kind::message) {
    error = errc::malformed_frame;
    why = "the body is not a message";
    return false;
  }
  auto& dm = frame.messages.front();
  if (!dm.ok()) {
    error = dm.error;
    errors = dm.errors;
    why = dm.error == errc::unsupported_version ? dm.errors.front().message
                                                : "invalid message: see "
                                                  "details.errors";
    return false;
  }
  auto& dst = dm.msg.destination;
  if (dm.msg.type.rfind("tether.", 0) == 0) {
    error = errc::validation_error;
    errors.push_back({"type", "types tether.* are the server's own"});
    why = "invalid message: see details.errors";
    return false;
  }
  bool to_room = dst.to == protocol::target::broadcast && dst.broadcast
                 && dst.broadcast->scope == protocol::broadcast_scope::room;
  if (room.empty() && (dst.to == protocol::target::cloud || to_room)) {
    error = errc::unsupported_target;
    why = "a user's devices are target device, extension or broadcast "
          "scope user or device_type; a room's members are "
          "POST /api/v1/rooms/<room>/messages";
    return false;
  }
  out = std::move(dm.msg);
  return true;
}

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
                     std::function<void(unsigned, std::string)> reply, F f) {
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
                  protocol::message_ptr msg,
                  std::function<void(unsigned, std::string)> reply) {
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
                     protocol::message_ptr msg,
                     std::function<void(unsigned, std::string)> reply) {
  actors::device_identity sender;
  sender.user_id = "system";
  sender.device_id = "server";
  sender.type = protocol::device_type::desktop;
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  auto cluster = actors::cluster_of(*ctx.sys);
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
                   std::function<void(unsigned, std::string)> reply) {
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
                std::function<void(unsigned, std::string)> reply) {
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
              std::function<void(unsigned, std::string)> reply) {
  auto orch = ctx.orchestrator;
  auto timeout = ctx.timeout;
  auto cluster = actors::cluster_of(*ctx.sys);
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

// The path's segments after /api/v1/, percent-decoded; false for a bad one.
bool segments(const std::string& path, std::vector<std::string>& out) {
  static const std::string prefix = "/api/v1/";
  out.clear();
  if (path.compare(0, prefix.size(), prefix) != 0)
    return false;
  size_t i = prefix.size();
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    std::string seg;
    if (!percent_decode(path.substr(i, j - i), seg) || seg.empty())
      return false;
    out.push_back(std::move(seg));
    i = j + 1;
  }
  return true;
}

} // namespace

void serve_api(const api_context& ctx, const std::string& method,
               const std::string& path, const std::string& body,
               std::function<void(unsigned, std::string)> reply) {
  std::vector<std::string> seg;
  auto bad = [&](std::string why) {
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
  if (!segments(path, seg)) {
    bad("the path has an empty or badly escaped segment");
    return;
  }
  if (seg.size() == 1 && seg[0] == "stats") {
    if (method != "GET")
      return wrong_method("GET /api/v1/stats");
    reply(200, ctx.stats());
    return;
  }
  if (seg.size() == 1 && seg[0] == "overview") {
    if (method != "GET")
      return wrong_method("GET /api/v1/overview");
    overview(ctx, std::move(reply));
    return;
  }
  if (seg.size() == 3 && seg[0] == "users" && seg[2] == "messages") {
    if (method != "POST")
      return wrong_method("POST /api/v1/users/<userId>/messages");
    if (seg[1] == "system")
      return bad("'system' is the server's user id");
    protocol::mobile_message m;
    if (message("", m))
      send_message(
        ctx, seg[1],
        std::make_shared<const protocol::mobile_message>(std::move(m)),
        std::move(reply));
    return;
  }
  if (seg.size() == 5 && seg[0] == "users" && seg[2] == "devices"
      && seg[4] == "disconnect") {
    if (method != "POST")
      return wrong_method(
        "POST /api/v1/users/<userId>/devices/<deviceId>/disconnect");
    disconnect(ctx, seg[1], seg[3], std::move(reply));
    return;
  }
  if (seg.size() == 3 && seg[0] == "rooms" && seg[2] == "messages") {
    if (method != "POST")
      return wrong_method("POST /api/v1/rooms/<room>/messages");
    protocol::mobile_message m;
    if (message(seg[1], m))
      publish_message(
        ctx, seg[1],
        std::make_shared<const protocol::mobile_message>(std::move(m)),
        std::move(reply));
    return;
  }
  if (seg.size() == 3 && seg[0] == "rooms" && seg[2] == "presence") {
    if (method != "GET")
      return wrong_method("GET /api/v1/rooms/<room>/presence");
    room_presence(ctx, seg[1], std::move(reply));
    return;
  }
  reply(404, failure(errc::validation_error, "no such endpoint: see SPEC §15"));
}

std::vector<std::string> load_api_keys(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::runtime_error("auth.api_keys_file: cannot read '" + path + "'");
  std::vector<std::string> keys;
  std::string line;
  size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    std::istringstream words{line};
    std::vector<std::string> w;
    for (std::string x; words >> x;)
      w.push_back(x);
    if (w.empty() || w[0][0] == '#')
      continue;
    if (w.size() > 2 || w.back().size() < 16)
      throw std::runtime_error("auth.api_keys_file '" + path + "' line "
                               + std::to_string(no)
                               + ": want 'name key' or 'key', a key of at "
                                 "least 16 characters");
    keys.push_back(w.back());
  }
  if (keys.empty())
    throw std::runtime_error("auth.api_keys_file '" + path + "' has no key");
  return keys;
}

} // namespace tether::runtime

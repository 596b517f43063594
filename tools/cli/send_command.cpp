// `tether send`: one message from the shell, and the server's ack.

#include <iostream>

#include "protocol/client.hpp"
#include "protocol/codec.hpp"
#include "protocol/compression.hpp"
#include "runtime/ws_client.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/fleet_runner.hpp"

namespace tether::cli {

namespace {

int usage() {
  std::cerr
    << "usage: tether send --url ws[s]://HOST:PORT/ws [--ca FILE | "
       "--insecure]\n"
       "         (--token JWT | (--data-dir DIR | --secret-file F) --user U "
       "--device D [--device-type T] [--role R])\n"
       "         (--to DEVICE | --extension | --broadcast | --room ROOM)\n"
       "         [--type message] [--payload '{}'] [--priority normal]\n"
       "         [--codec json|msgpack] [--no-ack] [--timeout 5]\n"
       "Prints the server's ack; exit 0 when accepted, 1 when refused or "
       "unanswered, 2 on bad flags.\n";
  return 2;
}

} // namespace

int send_command(const std::vector<std::string>& args) {
  arg_map a;
  std::string problem;
  if (!parse_args(args,
                  {"url", "token", "data-dir", "secret-file", "user", "device",
                   "device-type", "role", "to", "room", "type", "payload",
                   "priority", "codec", "timeout", "ca"},
                  {"extension", "broadcast", "no-ack", "help", "insecure"}, a,
                  problem)) {
    std::cerr << "tether send: " << problem << "\n";
    return usage();
  }
  if (a.has("help"))
    return usage(), 0;
  int targets = a.has("to") + a.has("room") + a.has("extension")
                + a.has("broadcast");
  if (targets != 1) {
    std::cerr << "tether send: give exactly one of --to, --room, --extension, "
                 "--broadcast\n";
    return usage();
  }
  auto codec = a.get("codec", "json") == "msgpack" ? protocol::codec::msgpack
                                                   : protocol::codec::json;
  protocol::priority prio = protocol::priority::normal;
  if (a.has("priority") && !protocol::from_string(a.get("priority"), prio)) {
    std::cerr << "tether send: --priority must be low, normal, high or "
                 "critical\n";
    return 2;
  }
  auto timeout = std::chrono::milliseconds{
    static_cast<int64_t>(1000 * number_flag(a, "timeout", 5, problem))};
  // The payload is carried as JSON text: make sure it is JSON first.
  auto payload = protocol::json_value(a.get("payload", "{}"));
  protocol::raw_value check;
  if (!protocol::convert(payload, protocol::codec::msgpack, check)) {
    std::cerr << "tether send: --payload is not valid JSON\n";
    return 2;
  }
  server_target t;
  actors::device_spec who;
  std::string token = a.get("token");
  if (token.empty()) {
    who.user_id = a.get("user");
    who.device_id = a.get("device");
    who.role = a.get("role");
    if (a.has("device-type")
        && !protocol::from_string(a.get("device-type"), who.type))
      problem = "--device-type must be mobile, desktop, web or tablet";
    if (who.user_id.empty() || who.device_id.empty())
      problem = "minting a token needs --user and --device (or give --token)";
    if (problem.empty() && open_target(a, t, problem))
      token = mint_token(t, who);
  } else if (!a.has("url")) {
    problem = "give --url";
  } else if (parse_url(a.get("url"), t, problem)) {
    read_tls_flags(a, t, problem);
  }
  if (!problem.empty()) {
    std::cerr << "tether send: " << problem << "\n";
    return 2;
  }
  runtime::ws_client client;
  runtime::client_options o;
  o.host = t.host;
  o.port = t.port;
  o.target = t.path;
  o.token = token;
  o.subprotocols = {std::string{protocol::subprotocol(codec)}};
  o.timeout = timeout;
  o.tls = t.tls;
  o.ca_file = t.ca_file;
  o.insecure = t.insecure;
  auto conn = client.connect(o);
  if (!conn.ok) {
    std::cerr << "tether send: connect failed (HTTP " << conn.status
              << "): " << conn.error << " " << conn.body << "\n";
    return 1;
  }
  protocol::limits lim;
  auto next = [&](protocol::decoded_frame& f) {
    auto frame = client.receive(timeout);
    if (!frame)
      return false;
    std::string inflated;
    std::string_view bytes = frame->data;
    if (protocol::is_compressed_frame(bytes)) {
      if (protocol::open_compressed_frame(bytes, 64 << 20, inflated)
          != protocol::inflate_error::none)
        return false;
      bytes = inflated;
    }
    f = protocol::decode(codec, bytes, lim);
    return true;
  };
  // The welcome names who we are.
  protocol::decoded_frame f;
  protocol::welcome_info w;
  if (!next(f) || f.messages.empty()
      || !protocol::read_welcome(f.messages[0].msg.payload, w)) {
    std::cerr << "tether send: no welcome from the server\n";
    return 1;
  }
  protocol::mobile_message m;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  m.id = "cli-" + std::to_string(now);
  m.timestamp = now;
  m.source.user_id = w.user_id;
  m.source.device_id = w.device_id;
  m.source.type = w.type;
  m.source.timestamp = now;
  m.type = a.get("type", "message");
  m.payload = std::move(payload);
  m.optimization.prio = prio;
  m.optimization.requires_ack = !a.has("no-ack");
  if (a.has("to")) {
    m.destination.to = protocol::target::device;
    m.destination.device_id = a.get("to");
  } else if (a.has("extension")) {
    m.destination.to = protocol::target::extension;
  } else {
    protocol::broadcast_info b;
    b.scope = a.has("room") ? protocol::broadcast_scope::room
                            : protocol::broadcast_scope::user;
    if (a.has("room"))
      b.room = a.get("room");
    m.destination.to = protocol::target::broadcast;
    m.destination.broadcast = std::move(b);
  }
  if (!client.send(protocol::encode(codec, m),
                   codec == protocol::codec::msgpack)) {
    std::cerr << "tether send: the connection failed while sending\n";
    return 1;
  }
  if (a.has("no-ack")) {
    std::cout << "sent " << m.id << "\n";
    client.close();
    return 0;
  }
  // Failed acks come whether or not requiresAck was set.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!next(f))
      break;
    if (f.kind == protocol::frame_kind::ack && f.ack.message_id == m.id) {
      std::cout << protocol::encode(protocol::codec::json, f.ack) << "\n";
      client.close();
      return f.ack.status == protocol::ack_status::failed ? 1 : 0;
    }
  }
  std::cerr << "tether send: no ack within the timeout\n";
  return 1;
}

} // namespace tether::cli

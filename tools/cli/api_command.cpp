// `tether api`: the server API for backends (SPEC §15) from the shell.

#include <cstdlib>
#include <iostream>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/base64.hpp"
#include "runtime/api_request.hpp"
#include "runtime/http_client.hpp"
#include "tools/cli/commands.hpp"

namespace tether::cli {

namespace {

int usage() {
  std::cerr
    << "usage: tether api --url http[s]://HOST:PORT (--key-file F | env "
       "TETHER_API_KEY) [--ca FILE | --insecure] [--timeout 5]\n"
       "  send --user U (--to DEVICE | --extension | --broadcast) [--type T] "
       "[--payload JSON] [--id ID] [--durable]\n"
       "  publish --room R [--type T] [--payload JSON] [--id ID] [--durable]\n"
       "  presence --room R\n"
       "  disconnect --user U --device D\n"
       "  stats\n"
       "--key-file: a file of auth.api_keys_file's form (its first key). "
       "--timeout: seconds for the whole exchange (connect, TLS, request, "
       "answer). Prints the response (at most 4 MiB); exit 0 on 2xx, 1 "
       "otherwise, 2 on bad flags.\n";
  return 2;
}

// The message body: type, payload (raw JSON), destination (raw JSON or
// none), id, and requiresAck with --durable.
std::string message_body(const arg_map& a, const std::string& destination) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&w](const std::string& x) {
    w.String(x.c_str(), static_cast<rapidjson::SizeType>(x.size()));
  };
  w.StartObject();
  w.Key("type");
  str(a.get("type", "message"));
  w.Key("payload");
  auto payload = a.get("payload", "{}");
  w.RawValue(payload.c_str(), payload.size(), rapidjson::kObjectType);
  if (!destination.empty()) {
    w.Key("destination");
    w.RawValue(destination.c_str(), destination.size(), rapidjson::kObjectType);
  }
  if (a.has("id")) {
    w.Key("id");
    str(a.get("id"));
  }
  if (a.has("durable")) {
    w.Key("optimization");
    w.StartObject();
    w.Key("requiresAck");
    w.Bool(true);
    w.EndObject();
  }
  w.EndObject();
  return buf.GetString();
}

std::string quoted(const std::string& x) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(x.c_str(), static_cast<rapidjson::SizeType>(x.size()));
  return buf.GetString();
}

} // namespace

int api_command(const std::vector<std::string>& args) {
  if (args.empty())
    return usage();
  auto what = args.front();
  if (what == "--help")
    return usage(), 0;
  arg_map a;
  std::string problem;
  if (!parse_args({args.begin() + 1, args.end()},
                  {"url", "key-file", "ca", "timeout", "user", "to", "room",
                   "device", "type", "payload", "id"},
                  {"extension", "broadcast", "durable", "insecure", "help"}, a,
                  problem)) {
    std::cerr << "tether api: " << problem << "\n";
    return usage();
  }
  runtime::client_options o;
  auto url = a.get("url");
  for (auto [scheme, tls, port] :
       {std::tuple{"https://", true, 443}, std::tuple{"http://", false, 80}}) {
    std::string s = scheme;
    if (url.compare(0, s.size(), s) != 0)
      continue;
    o.tls = tls;
    auto rest = url.substr(s.size());
    rest = rest.substr(0, rest.find('/'));
    auto colon = rest.rfind(':');
    o.host = rest.substr(0, colon);
    o.port = static_cast<uint16_t>(port);
    if (colon != std::string::npos) {
      // 1-65535 in digits; anything else is no port (65536 is not 0).
      auto digits = rest.substr(colon + 1);
      unsigned long p = 0;
      if (digits.empty() || digits.size() > 5
          || digits.find_first_not_of("0123456789") != std::string::npos
          || (p = std::stoul(digits)) > 65535)
        p = 0;
      o.port = static_cast<uint16_t>(p);
    }
  }
  if (o.host.empty() || o.port == 0) {
    std::cerr << "tether api: --url must be http[s]://HOST[:PORT]\n";
    return usage();
  }
  o.ca_file = a.get("ca");
  o.insecure = a.has("insecure");
  // Seconds, > 0 and at most an hour: the whole exchange's deadline.
  auto seconds = std::strtod(a.get("timeout", "5").c_str(), nullptr);
  if (!(seconds > 0 && seconds <= 3600)) {
    std::cerr << "tether api: --timeout is seconds, more than 0 and at most "
                 "3600\n";
    return usage();
  }
  o.timeout = std::chrono::milliseconds{static_cast<int64_t>(1000 * seconds)};
  if (a.has("key-file")) {
    try {
      o.token = runtime::load_api_keys(a.get("key-file")).front();
    } catch (const std::exception& e) {
      std::cerr << "tether api: --key-file: " << e.what() << "\n";
      return 2;
    }
  } else if (auto* env = std::getenv("TETHER_API_KEY")) {
    o.token = env;
  } else {
    std::cerr << "tether api: give --key-file F (or set TETHER_API_KEY)\n";
    return 2;
  }
  auto need = [&](std::initializer_list<const char*> keys) {
    for (auto* k : keys)
      if (!a.has(k)) {
        std::cerr << "tether api " << what << ": give --" << k << "\n";
        return false;
      }
    return true;
  };
  std::string method = "POST";
  std::string body;
  if (what == "send") {
    if (!need({"user"}))
      return 2;
    std::string destination;
    if (a.has("to"))
      destination = R"({"target":"device","deviceId":)" + quoted(a.get("to"))
                    + "}";
    else if (a.has("extension"))
      destination = R"({"target":"extension"})";
    else if (a.has("broadcast"))
      destination = R"({"target":"broadcast","broadcast":{"scope":"user"}})";
    else {
      std::cerr << "tether api send: give --to DEVICE, --extension or "
                   "--broadcast\n";
      return 2;
    }
    o.target = "/api/v1/users/" + protocol::percent_encode(a.get("user"))
               + "/messages";
    body = message_body(a, destination);
  } else if (what == "publish") {
    if (!need({"room"}))
      return 2;
    o.target = "/api/v1/rooms/" + protocol::percent_encode(a.get("room"))
               + "/messages";
    body = message_body(a, "");
  } else if (what == "presence") {
    if (!need({"room"}))
      return 2;
    method = "GET";
    o.target = "/api/v1/rooms/" + protocol::percent_encode(a.get("room"))
               + "/presence";
  } else if (what == "disconnect") {
    if (!need({"user", "device"}))
      return 2;
    o.target = "/api/v1/users/" + protocol::percent_encode(a.get("user"))
               + "/devices/" + protocol::percent_encode(a.get("device"))
               + "/disconnect";
  } else if (what == "stats") {
    method = "GET";
    o.target = "/api/v1/stats";
  } else {
    std::cerr << "tether api: unknown request '" << what << "'\n";
    return usage();
  }
  auto r = runtime::http_call(o, method, body);
  if (r.status == 0) {
    std::cerr << "tether api: " << r.error << "\n";
    return 1;
  }
  std::cout << r.body << "\n";
  return r.status >= 200 && r.status < 300 ? 0 : 1;
}

} // namespace tether::cli

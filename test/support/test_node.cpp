#include "test/support/test_node.hpp"

#include <filesystem>
#include <random>

#include "protocol/codec.hpp"
#include "protocol/token.hpp"

namespace tether::test {

std::string make_temp_dir() {
  auto base = std::filesystem::temp_directory_path();
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = base / ("tether-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p))
      return p.string();
  }
  throw std::runtime_error("cannot create a temporary directory");
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

test_node::test_node(tweak_fn tweak) : dir_(make_temp_dir()) {
  config::settings s;
  s.server.address = "127.0.0.1";
  s.server.port = 0;
  s.node.data_dir = dir_;
  s.node.log_level = "warn";
  s.node.stop_timeout = std::chrono::milliseconds{2000};
  if (tweak)
    tweak(s);
  try {
    auto problems = config::validate(s);
    if (!problems.empty())
      throw std::runtime_error("test settings invalid: " + problems.front());
    secret_ = runtime::load_or_create_secret(s.secret_path());
    node_ = std::make_unique<runtime::node>(s);
    port_ = node_->start();
  } catch (...) {
    // No destructor runs for a constructor that throws.
    node_.reset();
    remove_tree(dir_);
    throw;
  }
}

test_node::~test_node() {
  stop();
  node_.reset();
  remove_tree(dir_);
}

void test_node::stop() {
  if (node_)
    node_->stop();
}

std::string test_node::token(const std::string& user, const std::string& device,
                             protocol::device_type type,
                             const std::string& role,
                             std::chrono::seconds ttl) const {
  protocol::token_claims c;
  c.user_id = user;
  c.device_id = device;
  c.type = type;
  c.role = role;
  c.issued_at = now_ms() / 1000;
  c.expires_at = c.issued_at + ttl.count();
  return protocol::issue_token(c, secret_);
}

runtime::client_options test_node::options(const std::string& token) const {
  runtime::client_options o;
  o.port = port_;
  o.token = token;
  o.timeout = std::chrono::milliseconds{5000};
  return o;
}

std::string test_device::next(std::chrono::milliseconds timeout) {
  auto f = client.receive(timeout);
  return f ? f->data : std::string{};
}

std::unique_ptr<test_device>
connect_device(const test_node& n, const std::string& user,
               const std::string& device, protocol::device_type type,
               const std::string& role, protocol::codec c, bool deflate) {
  auto d = std::make_unique<test_device>();
  auto opts = n.options(n.token(user, device, type, role));
  opts.deflate = deflate;
  if (c == protocol::codec::msgpack)
    opts.subprotocols = {"tether.v1.msgpack"};
  d->result = d->client.connect(opts);
  if (d->result.ok)
    d->welcome = d->next();
  return d;
}

protocol::mobile_message
make_message(const std::string& id, const std::string& user,
             const std::string& device, protocol::target to,
             protocol::device_type type) {
  protocol::mobile_message m;
  m.id = id;
  m.timestamp = now_ms();
  m.source.device_id = device;
  m.source.user_id = user;
  m.source.type = type;
  m.source.timestamp = m.timestamp;
  m.destination.to = to;
  m.type = "command";
  m.payload = protocol::json_value(R"({"command":"status"})");
  m.optimization.prio = protocol::priority::normal;
  m.optimization.requires_ack = true;
  return m;
}

std::string json_field(const std::string& json, const std::string& key) {
  auto needle = "\"" + key + "\":";
  auto pos = json.find(needle);
  if (pos == std::string::npos)
    return {};
  pos += needle.size();
  if (pos < json.size() && json[pos] == '"') {
    auto end = json.find('"', pos + 1);
    return json.substr(pos + 1, end - pos - 1);
  }
  auto end = json.find_first_of(",}", pos);
  return json.substr(pos, end - pos);
}

} // namespace tether::test

#include "protocol/compression.hpp"

namespace tether::test {

reading read_messages(runtime::ws_client& c, size_t count,
                      std::chrono::milliseconds limit, protocol::codec codec) {
  reading r;
  while (r.messages.size() < count) {
    auto f = c.receive(limit);
    if (!f)
      break;
    ++r.frames;
    std::string bytes = f->data;
    if (f->binary && protocol::is_compressed_frame(bytes)) {
      std::string raw;
      if (protocol::open_compressed_frame(bytes, 64 << 20, raw)
          != protocol::inflate_error::none)
        continue;
      bytes = std::move(raw);
    }
    auto d = protocol::decode(codec, bytes,
                              protocol::limits{1000, 64, 1 << 20});
    if (!d.ok())
      continue;
    if (d.kind == protocol::frame_kind::ack) {
      r.acks.push_back(d.ack);
      continue;
    }
    // The server's seq is dropped by decode(); read it from the raw text.
    for (auto& m : d.messages) {
      delivered x;
      x.id = m.msg.id;
      x.type = m.msg.type;
      x.prio = m.msg.optimization.prio;
      protocol::raw_value json;
      if (!m.msg.payload.empty()
          && protocol::convert(m.msg.payload, protocol::codec::json, json))
        x.payload = json.raw;
      r.messages.push_back(std::move(x));
    }
    if (codec == protocol::codec::json) {
      // "seq":N appears once per message, in order.
      size_t pos = 0;
      size_t i = r.messages.size() - d.messages.size();
      while ((pos = bytes.find("\"seq\":", pos)) != std::string::npos
             && i < r.messages.size()) {
        r.messages[i++].seq = std::stoull(bytes.substr(pos + 6));
        pos += 6;
      }
    }
  }
  return r;
}

std::string self_message(const std::string& id) {
  auto m = make_message(id, "alice", "phone", protocol::target::device);
  m.destination.device_id = "phone";
  return protocol::encode(protocol::codec::json, m);
}

bool still_works(test_device& d, const std::string& id) {
  if (!d.client.send(self_message(id)))
    return false;
  auto seen = 0;
  for (int i = 0; i < 2; ++i) {
    auto f = protocol::decode(protocol::codec::json, d.next(),
                              protocol::limits{});
    if (f.ok() && f.kind == protocol::frame_kind::ack && f.ack.message_id == id
        && f.ack.status == protocol::ack_status::received)
      ++seen;
    else if (f.ok() && f.kind == protocol::frame_kind::message
             && f.messages.front().msg.id == id)
      ++seen;
  }
  return seen == 2;
}

} // namespace tether::test

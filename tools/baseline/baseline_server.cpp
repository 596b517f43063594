// tether-baseline: the bare Boost.Beast reference server of
// `tether bench --baseline`. One thread, one io_context, written in the
// style of Beast's example/websocket/server/async and chat-multi: it does
// the least a server must do for the benchmarks' workloads, so that each
// Tether figure has a floor to be compared with.
//
// It speaks just enough of protocol 1.x (protocol/SPEC.md) for the CLI's
// simulated devices: a welcome on accept (encoded once per codec), a
// `processed` ack for requests to the server (tether.join adds the session
// to the room, tether.leave removes it), a room publish forwarded to every
// other member (one shared buffer), any other message echoed to its sender,
// a `received` ack at once for messages with requiresAck. It verifies no
// token, validates nothing beyond what it reads, stores nothing, has no
// queues per device, no seq, no presence, no batching, no permessage-deflate.
//
//   tether-baseline [--host 127.0.0.1] [--port 0]
//
// prints `listening on HOST:PORT` once it accepts; SIGTERM/SIGINT: exit 0.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/resource.h>

// Header-only: the depth guard of Tether's own JSON parse (no library).
#include "protocol/json.hpp"
#include "runtime/tls_policy.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = rapidjson::Value;
using frame_ptr = std::shared_ptr<const std::string>;

// Tether's default limits.max_message_bytes.
constexpr size_t max_message_bytes = 256 * 1024;
// Bytes queued behind the write in flight before a reader counts as slow
// and is cut off (what tetherd does, SPEC §5.6).
constexpr size_t max_queued_bytes = 8 * 1024 * 1024;
// Rooms one session may be in: bounds the work of its destructor.
constexpr size_t max_rooms_per_session = 64;
// Nesting of a frame, as for msgpack below (Tether's limits.max_depth
// 32 plus a frame's own levels, with room to spare).
constexpr size_t max_depth = 64;

enum class codec { json, msgpack };

// -- msgpack <-> rapidjson DOM (just the types the protocol uses) -------------

uint64_t take_be(const uint8_t*& p, size_t n) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; ++i)
    x = (x << 8) | *p++;
  return x;
}

/// Reads one msgpack value at [p, end) into `v`; false if it is malformed,
/// truncated, nested too deep or an ext type.
bool read_msgpack(const uint8_t*& p, const uint8_t* end, json& v,
                  json::AllocatorType& a, int depth = 0) {
  auto left = [&] { return static_cast<size_t>(end - p); };
  if (p >= end || depth > static_cast<int>(max_depth))
    return false;
  auto tag = *p++;
  auto str = [&](uint64_t n) {
    if (n > left())
      return false;
    v.SetString(reinterpret_cast<const char*>(p), static_cast<unsigned>(n), a);
    p += n;
    return true;
  };
  auto arr = [&](uint64_t n) {
    if (n > left()) // every element takes a byte at least
      return false;
    v.SetArray();
    for (uint64_t i = 0; i < n; ++i) {
      json x;
      if (!read_msgpack(p, end, x, a, depth + 1))
        return false;
      v.PushBack(x, a);
    }
    return true;
  };
  auto map = [&](uint64_t n) {
    if (n > left())
      return false;
    v.SetObject();
    for (uint64_t i = 0; i < n; ++i) {
      json k, x;
      if (!read_msgpack(p, end, k, a, depth + 1) || !k.IsString()
          || !read_msgpack(p, end, x, a, depth + 1))
        return false;
      v.AddMember(k, x, a);
    }
    return true;
  };
  auto uint = [&](size_t n) {
    if (n > left())
      return false;
    v.SetUint64(take_be(p, n));
    return true;
  };
  auto sint = [&](size_t n) {
    if (n > left())
      return false;
    auto x = take_be(p, n);
    auto shift = 64 - 8 * static_cast<int>(n); // sign-extend
    v.SetInt64(static_cast<int64_t>(x << shift) >> shift);
    return true;
  };
  if (tag <= 0x7f) {
    v.SetUint(tag);
    return true;
  }
  if (tag >= 0xe0) {
    v.SetInt(static_cast<int8_t>(tag));
    return true;
  }
  if ((tag & 0xf0) == 0x80)
    return map(tag & 0x0f);
  if ((tag & 0xf0) == 0x90)
    return arr(tag & 0x0f);
  if ((tag & 0xe0) == 0xa0)
    return str(tag & 0x1f);
  switch (tag) {
    case 0xc0:
      v.SetNull();
      return true;
    case 0xc2:
      v.SetBool(false);
      return true;
    case 0xc3:
      v.SetBool(true);
      return true;
    case 0xc4:
    case 0xd9:
      return left() >= 1 && str(take_be(p, 1));
    case 0xc5:
    case 0xda:
      return left() >= 2 && str(take_be(p, 2));
    case 0xc6:
    case 0xdb:
      return left() >= 4 && str(take_be(p, 4));
    case 0xca: {
      if (left() < 4)
        return false;
      auto bits = static_cast<uint32_t>(take_be(p, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      v.SetDouble(f);
      return true;
    }
    case 0xcb: {
      if (left() < 8)
        return false;
      auto bits = take_be(p, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      v.SetDouble(d);
      return true;
    }
    case 0xcc:
      return uint(1);
    case 0xcd:
      return uint(2);
    case 0xce:
      return uint(4);
    case 0xcf:
      return uint(8);
    case 0xd0:
      return sint(1);
    case 0xd1:
      return sint(2);
    case 0xd2:
      return sint(4);
    case 0xd3:
      return sint(8);
    case 0xdc:
      return left() >= 2 && arr(take_be(p, 2));
    case 0xdd:
      return left() >= 4 && arr(take_be(p, 4));
    case 0xde:
      return left() >= 2 && map(take_be(p, 2));
    case 0xdf:
      return left() >= 4 && map(take_be(p, 4));
    default:
      return false;
  }
}

void put_be(std::string& out, uint8_t tag, uint64_t x, int bytes) {
  out += static_cast<char>(tag);
  for (int i = bytes - 1; i >= 0; --i)
    out += static_cast<char>((x >> (8 * i)) & 0xff);
}

// A container or string header: fix form below `fix_max`, else 16/32 bit.
void put_header(std::string& out, uint64_t n, uint8_t fix, uint64_t fix_max,
                uint8_t tag8, uint8_t tag16, uint8_t tag32) {
  if (n < fix_max)
    out += static_cast<char>(fix | n);
  else if (tag8 && n < 256)
    put_be(out, tag8, n, 1);
  else if (n < 65536)
    put_be(out, tag16, n, 2);
  else
    put_be(out, tag32, n, 4);
}

void write_msgpack(const json& v, std::string& out) {
  if (v.IsNull()) {
    out += '\xc0';
  } else if (v.IsBool()) {
    out += v.GetBool() ? '\xc3' : '\xc2';
  } else if (v.IsString()) {
    put_header(out, v.GetStringLength(), 0xa0, 32, 0xd9, 0xda, 0xdb);
    out.append(v.GetString(), v.GetStringLength());
  } else if (v.IsUint64()) {
    auto x = v.GetUint64();
    if (x < 128)
      out += static_cast<char>(x);
    else if (x < 256)
      put_be(out, 0xcc, x, 1);
    else if (x < 65536)
      put_be(out, 0xcd, x, 2);
    else if (x <= UINT32_MAX)
      put_be(out, 0xce, x, 4);
    else
      put_be(out, 0xcf, x, 8);
  } else if (v.IsInt64()) {
    put_be(out, 0xd3, static_cast<uint64_t>(v.GetInt64()), 8);
  } else if (v.IsNumber()) {
    auto d = v.GetDouble();
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_be(out, 0xcb, bits, 8);
  } else if (v.IsArray()) {
    put_header(out, v.Size(), 0x90, 16, 0, 0xdc, 0xdd);
    for (auto& x : v.GetArray())
      write_msgpack(x, out);
  } else {
    put_header(out, v.MemberCount(), 0x80, 16, 0, 0xde, 0xdf);
    for (auto& m : v.GetObject()) {
      write_msgpack(m.name, out);
      write_msgpack(m.value, out);
    }
  }
}

frame_ptr encode(codec c, const json& v) {
  if (c == codec::msgpack) {
    std::string out;
    write_msgpack(v, out);
    return std::make_shared<const std::string>(std::move(out));
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return std::make_shared<const std::string>(buf.GetString(), buf.GetSize());
}

// -- the protocol, as far as the baseline reads it
// ------------------------------

const json* member(const json* obj, const char* key) {
  if (!obj || !obj->IsObject())
    return nullptr;
  auto i = obj->FindMember(key);
  return i == obj->MemberEnd() ? nullptr : &i->value;
}

std::string_view text(const json* v) {
  return v && v->IsString()
           ? std::string_view{v->GetString(), v->GetStringLength()}
           : std::string_view{};
}

/// What the baseline does with one inbound frame.
struct route {
  enum kind_t { ignore, request, publish, echo } kind = ignore;
  std::string_view id;
  std::string_view type;
  /// tether.join/leave: payload.room; publish: destination.broadcast.room.
  std::string_view room;
  bool requires_ack = false;
};

/// Classifies a parsed frame as SPEC §3 does: batches, acks and heartbeats
/// are ignored; a message to `cloud` is a request; a room broadcast is
/// published; anything else goes back to its sender.
route classify(const json& root) {
  route r;
  if (!root.IsObject() || member(&root, "messages")
      || (member(&root, "messageId") && member(&root, "status")))
    return r;
  r.id = text(member(&root, "id"));
  r.type = text(member(&root, "type"));
  if (r.id.empty())
    return r; // a heartbeat, or not a message
  auto ack = member(member(&root, "optimization"), "requiresAck");
  r.requires_ack = ack && ack->IsBool() && ack->GetBool();
  auto dest = member(&root, "destination");
  auto target = text(member(dest, "target"));
  auto broadcast = member(dest, "broadcast");
  if (target == "cloud") {
    r.kind = route::request;
    r.room = text(member(member(&root, "payload"), "room"));
  } else if (target == "broadcast"
             && text(member(broadcast, "scope")) == "room") {
    r.kind = route::publish;
    r.room = text(member(broadcast, "room"));
  } else {
    r.kind = route::echo;
  }
  return r;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

frame_ptr make_ack(codec c, std::string_view id, const char* status) {
  rapidjson::Document d;
  auto& a = d.GetAllocator();
  d.SetObject();
  d.AddMember("messageId", json{id.data(), static_cast<unsigned>(id.size()), a},
              a);
  d.AddMember("status", json{rapidjson::StringRef(status)}, a);
  d.AddMember("timestamp", json{now_ms()}, a);
  return encode(c, d);
}

// SPEC §2.5; the device reads `sessionId` and the server's source.
constexpr const char* welcome_json
  = R"({"id":"welcome-baseline","timestamp":0,"protocolVersion":"1.0.0",)"
    R"("source":{"deviceId":"server","userId":"system","deviceType":"desktop","timestamp":0},)"
    R"("destination":{"target":"device","deviceId":"any"},)"
    R"("type":"tether.welcome",)"
    R"("payload":{"sessionId":"baseline","protocolVersion":"1.0.0",)"
    R"("codec":"tether.v1.json","compression":"none","serverVersion":"baseline",)"
    R"("resumeToken":"","resumed":false,"frameCompression":"none"},)"
    R"("optimization":{"priority":"high"}})";

frame_ptr make_welcome(codec c) {
  rapidjson::Document d;
  d.Parse(welcome_json);
  if (c == codec::msgpack)
    d["payload"]["codec"].SetString("tether.v1.msgpack");
  return encode(c, d);
}

// -- the server
// ------------------------------------------------------------------

/// A room member, whatever its stream (plain or TLS).
class room_member {
public:
  virtual ~room_member() = default;
  /// Queues `frame`; one async_write in flight.
  virtual void send(const frame_ptr& frame) = 0;
};

/// State of the one thread: rooms and the pre-encoded welcomes.
struct server_state {
  /// Members in join order; a leave swaps the last one in.
  std::unordered_map<std::string, std::vector<room_member*>> rooms;
  frame_ptr welcome[2] = {make_welcome(codec::json),
                          make_welcome(codec::msgpack)};
  /// Set with --tls.
  std::unique_ptr<net::ssl::context> tls;
};

using plain_stream = tcp::socket;
using tls_stream = net::ssl::stream<tcp::socket>;

template <class Stream>
class session : public room_member,
                public std::enable_shared_from_this<session<Stream>> {
public:
  session(Stream&& stream, server_state& state, codec c)
    : ws_(std::move(stream)), state_(state), codec_(c) {}

  ~session() override { leave_all(); }

  void run(const http::request<http::string_body>& req,
           const std::string& protocol) {
    ws_.set_option(
      websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
      [protocol](websocket::response_type& res) {
        res.set(http::field::server, "tether-baseline");
        if (!protocol.empty())
          res.set(http::field::sec_websocket_protocol, protocol);
      }));
    ws_.read_message_max(max_message_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&session::on_accept,
                                                    this->shared_from_this()));
  }

  void send(const frame_ptr& frame) override {
    if (closed_)
      return;
    if (queued_bytes_ > max_queued_bytes) {
      close();
      return;
    }
    queued_bytes_ += frame->size();
    queue_.push_back(frame);
    if (queue_.size() == 1)
      do_write();
  }

private:
  void on_accept(beast::error_code ec) {
    if (ec)
      return;
    ws_.text(codec_ == codec::json);
    send(state_.welcome[static_cast<int>(codec_)]);
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(
                              &session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      close();
      return;
    }
    auto data = static_cast<const char*>(buffer_.data().data());
    auto size = buffer_.size();
    rapidjson::Document doc;
    if (codec_ == codec::json) {
      // Iterative and bounded: a deeply nested frame is an error, not a
      // recursion that exhausts the stack.
      tether::protocol::json_depth_guard guard{doc, max_depth};
      rapidjson::Reader reader;
      auto parse = [&](rapidjson::Document&) {
        rapidjson::MemoryStream ms{data, size};
        rapidjson::EncodedInputStream<rapidjson::UTF8<>,
                                      rapidjson::MemoryStream>
          in{ms};
        return !reader.Parse<rapidjson::kParseIterativeFlag>(in, guard)
                  .IsError();
      };
      doc.Populate(parse);
      if (reader.HasParseError())
        doc.SetNull(); // ignored
    } else {
      auto p = reinterpret_cast<const uint8_t*>(data);
      auto end = p + size;
      if (!read_msgpack(p, end, doc, doc.GetAllocator()) || p != end)
        doc.SetNull(); // ignored
    }
    if (!doc.IsNull())
      dispatch(doc, data, size);
    buffer_.consume(size);
    do_read();
  }

  void dispatch(const json& doc, const char* data, size_t size) {
    auto r = classify(doc);
    switch (r.kind) {
      case route::ignore:
        return;
      case route::request:
        if (r.type == "tether.join")
          join(std::string{r.room});
        else if (r.type == "tether.leave")
          leave(std::string{r.room});
        if (r.requires_ack)
          send(make_ack(codec_, r.id, "processed"));
        return;
      case route::publish: {
        // One immutable buffer for every member, as in chat-multi: the
        // frame as received, copied once.
        auto frame = std::make_shared<const std::string>(data, size);
        if (auto i = state_.rooms.find(std::string{r.room});
            i != state_.rooms.end()) {
          // A send may close a slow member, which leaves later (posted):
          // the vector is not changed while it is walked.
          for (auto* m : i->second)
            if (m != this)
              m->send(frame);
        }
        break;
      }
      case route::echo:
        send(std::make_shared<const std::string>(data, size));
        break;
    }
    if (r.requires_ack)
      send(make_ack(codec_, r.id, "received"));
  }

  void join(std::string room) {
    if (room.empty() || joined_.size() >= max_rooms_per_session)
      return;
    for (auto& r : joined_)
      if (r == room)
        return;
    state_.rooms[room].push_back(this);
    joined_.push_back(std::move(room));
  }

  void leave(const std::string& room) {
    for (auto i = joined_.begin(); i != joined_.end(); ++i) {
      if (*i != room)
        continue;
      erase_from(room);
      joined_.erase(i);
      return;
    }
  }

  void leave_all() {
    for (auto& room : joined_)
      erase_from(room);
    joined_.clear();
  }

  void erase_from(const std::string& room) {
    auto i = state_.rooms.find(room);
    if (i == state_.rooms.end())
      return;
    auto& v = i->second;
    for (auto& m : v)
      if (m == this) {
        m = v.back();
        v.pop_back();
        break;
      }
    if (v.empty())
      state_.rooms.erase(i);
  }

  void do_write() {
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&session::on_write,
                                              this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) {
      close();
      return;
    }
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty())
      do_write();
  }

  // Drops the TCP connection: the pending read and write complete with an
  // error and release the session. The rooms are left later, as this may
  // run while a publish walks one of them.
  void close() {
    if (closed_)
      return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).close(ec);
    net::post(ws_.get_executor(),
              [self = this->shared_from_this()] { self->leave_all(); });
  }

  websocket::stream<Stream> ws_;
  server_state& state_;
  codec codec_;
  beast::flat_buffer buffer_;
  std::deque<frame_ptr> queue_;
  size_t queued_bytes_ = 0;
  std::vector<std::string> joined_;
  bool closed_ = false;
};

// The upgrade request's socket, plain or TLS, under one deadline (the TLS
// handshake included): what is not a WebSocket session by then is closed.
tcp::socket& lowest(plain_stream& s) {
  return s;
}
tcp::socket& lowest(tls_stream& s) {
  return s.next_layer();
}

/// Reads the upgrade request (after the TLS handshake, with --tls); hands
/// `/ws` upgrades to a session.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
  template <class... Args>
  http_session(server_state& state, Args&&... args)
    : stream_(std::forward<Args>(args)...), deadline_(stream_.get_executor()),
      state_(state) {}

  void run() {
    deadline_.expires_after(std::chrono::seconds{10});
    deadline_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (auto self = weak.lock(); self && !ec && !self->upgraded_) {
        beast::error_code ignored;
        lowest(self->stream_).close(ignored);
      }
    });
    if constexpr (std::is_same_v<Stream, tls_stream>)
      stream_.async_handshake(
        net::ssl::stream_base::server,
        [self = this->shared_from_this()](beast::error_code ec) {
          if (!ec)
            self->read();
        });
    else
      read();
  }

private:
  void read() {
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&http_session::on_read,
                                               this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec)
      return;
    auto target = std::string_view{req_.target().data(), req_.target().size()};
    if (!websocket::is_upgrade(req_)
        || target.substr(0, target.find('?')) != "/ws") {
      auto res = std::make_shared<http::response<http::string_body>>(
        http::status::not_found, req_.version());
      res->set(http::field::server, "tether-baseline");
      res->body() = "WebSocket upgrades on /ws only\n";
      res->prepare_payload();
      http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](beast::error_code, size_t) {
          beast::error_code e;
          lowest(self->stream_).shutdown(tcp::socket::shutdown_send, e);
        });
      return;
    }
    // The first of ours that the client offers, else JSON and no name
    // in the response (SPEC §2.3).
    std::string chosen;
    auto v = req_[http::field::sec_websocket_protocol];
    auto rest = std::string_view{v.data(), v.size()};
    while (chosen.empty() && !rest.empty()) {
      auto comma = rest.find(',');
      auto name = rest.substr(0, comma);
      while (!name.empty() && name.front() == ' ')
        name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ')
        name.remove_suffix(1);
      if (name == "tether.v1.json" || name == "tether.v1.msgpack")
        chosen = name;
      rest = comma == std::string_view::npos ? std::string_view{}
                                             : rest.substr(comma + 1);
    }
    auto c = chosen == "tether.v1.msgpack" ? codec::msgpack : codec::json;
    upgraded_ = true;
    deadline_.cancel();
    std::make_shared<session<Stream>>(std::move(stream_), state_, c)
      ->run(req_, chosen);
  }

  Stream stream_;
  net::steady_timer deadline_;
  server_state& state_;
  // An upgrade request is a header (at most 8 KiB): a chunk line or
  // trailer without end must not be buffered until the deadline.
  beast::flat_buffer buffer_{64 * 1024};
  http::request<http::string_body> req_;
  bool upgraded_ = false;
};

class listener {
public:
  listener(net::io_context& ioc, const tcp::endpoint& ep, server_state& state)
    : acceptor_(ioc), retry_(ioc), state_(state) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  tcp::endpoint local() const { return acceptor_.local_endpoint(); }

  void do_accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted)
        return;
      if (ec) {
        // EMFILE and friends: back off instead of spinning on accept.
        retry_.expires_after(std::chrono::milliseconds{100});
        retry_.async_wait([this](beast::error_code e) {
          if (!e)
            do_accept();
        });
        return;
      }
      s.set_option(tcp::no_delay{true}, ec);
      if (state_.tls)
        std::make_shared<http_session<tls_stream>>(state_, std::move(s),
                                                   *state_.tls)
          ->run();
      else
        std::make_shared<http_session<plain_stream>>(state_, std::move(s))
          ->run();
      do_accept();
    });
  }

private:
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  server_state& state_;
};

// The TLS policy of tetherd's wss (runtime/tls_policy.hpp, header-only),
// so that the TLS figures compare the servers, not two configurations.
std::unique_ptr<net::ssl::context> make_tls(const std::string& cert,
                                            const std::string& key) {
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  if (auto err = tether::runtime::load_server_tls(ctx->native_handle(), cert,
                                                  key);
      !err.empty())
    throw std::runtime_error(err);
  return ctx;
}

// As many descriptors as the hard limit allows (one per connection).
void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

constexpr const char* usage
  = "usage: tether-baseline [--host 127.0.0.1] [--port 0] "
    "[--tls --cert FILE --key FILE]\n";

} // namespace

static int serve(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned long port = 0;
  bool tls = false;
  std::string cert, key;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else if (a == "--port" && i + 1 < argc) {
      char* end = nullptr;
      port = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || port > 65535) {
        std::cerr << "tether-baseline: bad --port\n";
        return 2;
      }
    } else if (a == "--tls") {
      tls = true;
    } else if (a == "--cert" && i + 1 < argc) {
      cert = argv[++i];
    } else if (a == "--key" && i + 1 < argc) {
      key = argv[++i];
    } else {
      (a == "--help" ? std::cout : std::cerr) << usage;
      return a == "--help" ? 0 : 2;
    }
  }
  if (tls != (!cert.empty() && !key.empty()) || cert.empty() != key.empty()) {
    std::cerr << "tether-baseline: --tls needs --cert and --key (and they "
                 "need --tls)\n"
              << usage;
    return 2;
  }
  raise_fd_limit();
  // The state outlives the io_context: sessions destroyed with its pending
  // handlers leave their rooms.
  server_state state;
  net::io_context ioc{1};
  try {
    if (tls)
      state.tls = make_tls(cert, key);
    beast::error_code ec;
    auto address = net::ip::make_address(host, ec);
    if (ec)
      throw std::runtime_error("bad --host '" + host + "'");
    listener l{ioc, {address, static_cast<uint16_t>(port)}, state};
    l.do_accept();
    net::signal_set signals{ioc, SIGINT, SIGTERM};
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
    std::cout << "listening on " << host << ":" << l.local().port()
              << std::endl;
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << "tether-baseline: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return serve(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tether-baseline: " << e.what() << "\n";
    return 1;
  }
}

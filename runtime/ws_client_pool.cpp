// Client links for simulated devices (runtime/ws_client_pool.hpp): a Beast
// WebSocket client per link, all on one Asio pool; one write in flight.

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include <netinet/in.h>
#include <sys/socket.h>

#include "actors/lazy_deque.hpp"
#include "runtime/io_scheduler.hpp"
#include "runtime/ws_client_pool.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime {

using namespace detail;

namespace {

// Read buffer a link keeps between frames: a server's batched frames fit.
constexpr size_t max_kept_buffer = 64 * 1024;

class client_link final : public actors::link_port,
                          public std::enable_shared_from_this<client_link> {
public:
  client_link(net::io_context& ioc, std::shared_ptr<std::atomic<size_t>> count,
              actors::link_options opts,
              std::shared_ptr<actors::link_events> events,
              std::shared_ptr<net::ssl::context> tls)
    : ws_(net::make_strand(ioc)), tls_(std::move(tls)),
      count_(std::move(count)), opts_(std::move(opts)),
      events_(std::move(events)) {
    count_->fetch_add(1);
  }

  ~client_link() override { count_->fetch_sub(1); }

  void start() {
    net::dispatch(ws_.get_executor(),
                  [self = shared_from_this()] { self->do_connect(); });
  }

  void send(actors::shared_bytes bytes, bool binary) override {
    net::post(ws_.get_executor(),
              [self = shared_from_this(), bytes = std::move(bytes), binary] {
                if (self->done_ || !self->open_)
                  return;
                self->queue_.emplace_back(bytes, binary);
                if (!self->writing_)
                  self->do_write();
              });
  }

  void close(uint16_t code) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), code] {
      if (self->done_ || !self->open_ || self->closing_)
        return;
      self->closing_ = true;
      self->ws_.async_close(websocket::close_reason{code},
                            [self](beast::error_code) {});
    });
  }

  void pause(bool paused) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), paused] {
      self->paused_ = paused;
      if (!paused && self->open_ && !self->reading_ && !self->done_)
        self->do_read();
    });
  }

  void abort() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
      self->finish(1006);
    });
  }

private:
  void do_connect() {
    beast::error_code ec;
    auto address = net::ip::make_address(opts_.host, ec);
    if (ec) {
      fail_open(0, "invalid address " + opts_.host);
      return;
    }
    auto& tcp_layer = beast::get_lowest_layer(ws_);
    if (!opts_.source.empty() && !bind_source(address)) {
      fail_open(0, "cannot connect from " + opts_.source);
      return;
    }
    tcp_layer.expires_after(opts_.timeout);
    tcp_layer.async_connect(tcp::endpoint{address, opts_.port},
                            [self = shared_from_this()](beast::error_code ec) {
                              self->on_connect(ec);
                            });
  }

  // Binds the socket to opts_.source with the port left to connect(), which
  // picks one free for the whole 4-tuple (IP_BIND_ADDRESS_NO_PORT): every
  // source address adds a full ephemeral port range.
  bool bind_source(const net::ip::address& to) {
    beast::error_code ec;
    auto from = net::ip::make_address(opts_.source, ec);
    if (ec || from.is_v4() != to.is_v4())
      return false;
    auto& s = beast::get_lowest_layer(ws_).socket();
    s.open(from.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (ec)
      return false;
    int one = 1;
    ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                 sizeof(one));
    s.bind(tcp::endpoint{from, 0}, ec);
    return !ec;
  }

  void on_connect(beast::error_code ec) {
    if (ec) {
      fail_open(0, "connect: " + ec.message());
      return;
    }
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay{true}, ec);
    if (!tls_) {
      upgrade();
      return;
    }
    // The connect deadline bounds the TLS handshake too.
    auto& stream = ws_.next_layer();
    stream.use_tls(*tls_, opts_.host);
    stream.tls()->async_handshake(
      net::ssl::stream_base::client,
      [self = shared_from_this()](beast::error_code ec) {
        if (ec)
          self->fail_open(0, "tls: " + ec.message());
        else
          self->upgrade();
      });
  }

  void upgrade() {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = opts_.timeout;
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws_.set_option(to);
    if (opts_.deflate) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(64 * 1024 * 1024);
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::decorator(
      [token = opts_.token,
       protocols = opts_.subprotocols](websocket::request_type& req) {
        if (!token.empty())
          req.set(http::field::authorization, "Bearer " + token);
        std::string list;
        for (auto& p : protocols)
          list += (list.empty() ? "" : ", ") + p;
        if (!list.empty())
          req.set(http::field::sec_websocket_protocol, list);
      }));
    ws_.async_handshake(res_, opts_.host + ":" + std::to_string(opts_.port),
                        opts_.target,
                        [self = shared_from_this()](beast::error_code ec) {
                          self->on_handshake(ec);
                        });
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      actors::link_opened r;
      r.status = static_cast<int>(res_.result_int());
      if (auto ra = res_[http::field::retry_after]; !ra.empty())
        r.retry_after_ms = 1000 * std::atoll(std::string{ra}.c_str());
      r.error = "handshake: " + ec.message();
      report_open(std::move(r));
      finish(1006);
      return;
    }
    open_ = true;
    actors::link_opened r;
    r.ok = true;
    r.status = 101;
    r.subprotocol = std::string{res_[http::field::sec_websocket_protocol]};
    r.deflate = !res_[http::field::sec_websocket_extensions].empty();
    report_open(std::move(r));
    do_read();
  }

  void report_open(actors::link_opened r) {
    if (events_)
      events_->on_open(std::move(r));
  }

  void fail_open(int status, std::string why) {
    actors::link_opened r;
    r.status = status;
    r.error = std::move(why);
    report_open(std::move(r));
    finish(1006);
  }

  void do_read() {
    if (paused_)
      return;
    reading_ = true;
    ws_.async_read(buffer_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     self->on_read(ec);
                   });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec) {
      uint16_t code = 1006;
      uint32_t back = 0;
      if (ws_.reason().code != websocket::close_code::none) {
        code = static_cast<uint16_t>(ws_.reason().code);
        auto& r = ws_.reason().reason;
        if (code == protocol::to_int(protocol::close_code::service_restart))
          back = protocol::drain_retry_after({r.data(), r.size()}).value_or(0);
      }
      finish(code, back);
      return;
    }
    if (events_) {
      // One contiguous buffer (flat): handed over as a view, no copy here.
      auto data = buffer_.data();
      events_->on_frame(std::string_view{static_cast<const char*>(data.data()),
                                         data.size()},
                        ws_.got_binary());
    }
    buffer_.consume(buffer_.size());
    // Kept between frames (a client reads many); a large one's storage is
    // given back.
    if (buffer_.capacity() > max_kept_buffer)
      buffer_.release();
    do_read();
  }

  void do_write() {
    if (queue_.empty() || done_)
      return;
    writing_ = true;
    ws_.binary(queue_.front().second);
    ws_.async_write(net::buffer(*queue_.front().first),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec || self->done_) {
                        // The link ended while this frame was on its way.
                        self->finish(1006);
                        self->queue_.clear();
                        return;
                      }
                      self->queue_.pop_front();
                      self->do_write();
                    });
  }

  void finish(uint16_t code, uint32_t retry_after_ms = 0) {
    if (done_)
      return;
    done_ = true;
    // A frame being written stays alive until its write completes.
    if (!writing_)
      queue_.clear();
    if (auto ev = std::move(events_))
      ev->on_closed(code, retry_after_ms);
  }

  websocket::stream<client_stream> ws_;
  std::shared_ptr<net::ssl::context> tls_;
  // Shared: a link left in a stopped loop may outlive its pool.
  std::shared_ptr<std::atomic<size_t>> count_;
  actors::link_options opts_;
  std::shared_ptr<actors::link_events> events_;
  websocket::response_type res_;
  lean_buffer buffer_;
  actors::lazy_deque<std::pair<actors::shared_bytes, bool>> queue_;
  bool open_ = false;
  bool paused_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool done_ = false;
};

} // namespace

struct client_pool::impl {
  /// The pool's own threads, or a loop it shares (with actors running on
  /// it, so that a link and its device hand work over on one thread).
  std::optional<detail::io_pool> own;
  std::shared_ptr<io_loop> loop;
  detail::io_pool* io = nullptr;
  std::shared_ptr<std::atomic<size_t>> count
    = std::make_shared<std::atomic<size_t>>(0);
  /// One TLS context per (CA file, insecure): loading a CA store is costly.
  std::mutex tls_mutex;
  std::map<std::pair<std::string, bool>, std::shared_ptr<net::ssl::context>>
    tls;

  explicit impl(uint32_t n) : own(std::in_place, n), io(&*own) { io->run(); }

  explicit impl(std::shared_ptr<io_loop> l)
    : loop(std::move(l)), io(&loop->pool(0)) {
    // nop
  }

  std::shared_ptr<net::ssl::context>
  tls_context(const actors::link_options& o) {
    if (!o.tls)
      return nullptr;
    std::lock_guard<std::mutex> guard{tls_mutex};
    auto& ctx = tls[{o.ca_file, o.insecure}];
    if (!ctx)
      ctx = make_client_context(o.ca_file, o.insecure);
    return ctx;
  }
};

client_pool::client_pool(uint32_t threads)
  : impl_(std::make_unique<impl>(std::max<uint32_t>(threads, 1))) {
  // nop
}

client_pool::client_pool(std::shared_ptr<io_loop> loop)
  : impl_(std::make_unique<impl>(std::move(loop))) {
  // nop
}

client_pool::~client_pool() {
  stop();
}

std::shared_ptr<actors::link_port>
client_pool::open(const actors::link_options& opts,
                  std::shared_ptr<actors::link_events> events) {
  std::shared_ptr<net::ssl::context> tls;
  try {
    tls = impl_->tls_context(opts);
  } catch (const std::exception& e) {
    // Reported as a failed open, like an unreachable server.
    actors::link_opened r;
    r.error = e.what();
    if (events)
      events->on_open(std::move(r));
    return nullptr;
  }
  auto link = std::make_shared<client_link>(impl_->io->ioc, impl_->count, opts,
                                            std::move(events), std::move(tls));
  link->start();
  return link;
}

actors::link_factory client_pool::factory() {
  return [this](const actors::link_options& o,
                std::shared_ptr<actors::link_events> ev) {
    return open(o, std::move(ev));
  };
}

size_t client_pool::links() const noexcept {
  return impl_ ? impl_->count->load() : 0;
}

void client_pool::stop() {
  if (!impl_)
    return;
  if (impl_->own)
    impl_->own->stop();
  impl_.reset();
}

} // namespace tether::runtime

#include "runtime/cluster_transport.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/detail/socket_guard.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/policy/tcp.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "runtime/cluster_pki.hpp"
#include "runtime/openssl_util.hpp"

namespace tether::runtime {

namespace {

namespace net = caf::io::network;
using actors::peer_refusal;
using net::native_socket;
using net::rw_state;

std::string endpoint_key(const std::string& addr, uint16_t port) {
  return addr + "|" + std::to_string(port);
}

std::string remote_of(native_socket fd) {
  auto addr = net::remote_addr_of_fd(fd);
  auto port = net::remote_port_of_fd(fd);
  return (addr ? *addr : std::string{"?"}) + ":"
         + (port ? std::to_string(*port) : std::string{"?"});
}

// One connection of the cluster port, dialled or accepted: its TLS session
// (none in plain mode) and its handshake's bookkeeping. Lives in the
// stream's policy, so it ends before the stream closes its socket (the
// socket's number is never reused while the transport may still shut it).
class link_session {
public:
  link_session(std::shared_ptr<cluster_transport> t, native_socket fd,
               bool accepted)
    : t_(std::move(t)), fd_(fd), accepted_(accepted) {
    // nop
  }

  ~link_session() {
    if (pending_)
      t_->end_pending(fd_);
    if (!addr_.empty())
      t_->forget(addr_, port_);
    SSL_free(ssl_);
  }

  link_session(const link_session&) = delete;
  link_session& operator=(const link_session&) = delete;

  /// Starts the handshake; false if the connection is not taken (too many
  /// waiting, no context).
  bool start() {
    if (!t_->begin_pending(fd_))
      return false;
    pending_ = true;
    auto ctx = t_->context();
    if (!ctx) // plain TCP: pending until the first bytes arrive
      return true;
    ssl_ = SSL_new(ctx.get());
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      t_->refused(peer_refusal::handshake,
                  "cannot make a TLS session: " + ossl::last_error());
      return false;
    }
    if (accepted_)
      SSL_set_accept_state(ssl_);
    else
      SSL_set_connect_state(ssl_);
    // A client's hello goes out now; a server waits for it.
    return handshake() != rw_state::failure;
  }

  /// Whether BASP may write yet (the handshake completed).
  bool established() const noexcept { return ssl_ == nullptr || !handshaking_; }

  /// Called once the handshake completed (the scribe flushes what BASP
  /// wrote meanwhile).
  std::function<void()> on_established;

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len) {
    result = 0;
    if (ssl_ == nullptr) {
      auto res = caf::policy::tcp::read_some(result, fd, buf, len);
      if (pending_ && res == rw_state::success && result > 0) {
        pending_ = false;
        t_->end_pending(fd_);
      }
      return res;
    }
    if (handshaking_) {
      auto res = handshake();
      if (res != rw_state::success || handshaking_)
        return res;
    }
    if (len == 0)
      return rw_state::indeterminate;
    auto n = SSL_read(ssl_, buf, static_cast<int>(len));
    if (n > 0) {
      result = static_cast<size_t>(n);
      return rw_state::success;
    }
    return after_io(n);
  }

  rw_state write_some(size_t& result, native_socket fd, const void* buf,
                      size_t len) {
    result = 0;
    if (ssl_ == nullptr)
      return caf::policy::tcp::write_some(result, fd, buf, len);
    if (handshaking_) // the scribe holds writes back until it completes
      return len == 0 ? rw_state::indeterminate : rw_state::success;
    if (len == 0)
      return rw_state::indeterminate;
    auto n = SSL_write(ssl_, buf, static_cast<int>(len));
    if (n > 0) {
      result = static_cast<size_t>(n);
      return rw_state::success;
    }
    return after_io(n);
  }

  bool must_read_more(native_socket, size_t threshold) const {
    return ssl_ != nullptr && !handshaking_
           && static_cast<size_t>(SSL_pending(ssl_)) >= threshold;
  }

private:
  rw_state handshake() {
    auto r = SSL_do_handshake(ssl_);
    if (r == 1)
      return complete() ? rw_state::success : rw_state::failure;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return rw_state::success;
      default: {
        auto why = ossl::last_error();
        auto verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK)
          why = X509_verify_cert_error_string(verify);
        t_->refused(peer_refusal::handshake,
                    (accepted_ ? "from " : "to ") + remote_of(fd_) + ": "
                      + (why.empty() ? "the connection ended" : why));
        return rw_state::failure;
      }
    }
  }

  // The handshake completed: the peer's certificate names its node id.
  bool complete() {
    handshaking_ = false;
    auto cert = SSL_get1_peer_certificate(ssl_);
    auto id = certified_node_id(cert);
    X509_free(cert);
    if (id.empty()) {
      t_->refused(peer_refusal::handshake,
                  (accepted_ ? "from " : "to ") + remote_of(fd_)
                    + ": its certificate names no node id");
      return false;
    }
    auto addr = net::remote_addr_of_fd(fd_);
    auto port = net::remote_port_of_fd(fd_);
    if (!addr || !port)
      return false;
    addr_ = std::move(*addr);
    port_ = *port;
    t_->certify(addr_, port_, id);
    pending_ = false;
    t_->end_pending(fd_);
    spdlog::debug("cluster: TLS {} {}:{} is node {}", accepted_ ? "from" : "to",
                  addr_, port_, id);
    if (on_established)
      on_established();
    return true;
  }

  rw_state after_io(int n) {
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return rw_state::success;
      default:
        ERR_clear_error();
        return rw_state::failure;
    }
  }

  std::shared_ptr<cluster_transport> t_;
  native_socket fd_;
  bool accepted_;
  SSL* ssl_ = nullptr;
  bool handshaking_ = true;
  bool pending_ = false;
  std::string addr_;
  uint16_t port_ = 0;
};

// The stream policy: the session's reads and writes.
struct link_policy {
  explicit link_policy(std::unique_ptr<link_session> s)
    : session(std::move(s)) {
    // nop
  }

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len) {
    return session->read_some(result, fd, buf, len);
  }

  rw_state write_some(size_t& result, native_socket fd, const void* buf,
                      size_t len) {
    return session->write_some(result, fd, buf, len);
  }

  bool must_read_more(native_socket fd, size_t threshold) {
    return session->must_read_more(fd, threshold);
  }

  std::unique_ptr<link_session> session;
};

// A connection as BASP's broker sees it.
class link_scribe final : public caf::io::scribe {
public:
  link_scribe(net::default_multiplexer& mpx, native_socket fd,
              std::unique_ptr<link_session> session,
              std::shared_ptr<cluster_transport> t)
    : caf::io::scribe(net::conn_hdl_from_socket(fd)), session_(session.get()),
      t_(std::move(t)), stream_(mpx, fd, std::move(session)) {
    session_->on_established = [this] {
      if (flush_held_) {
        flush_held_ = false;
        stream_.flush(this);
      }
    };
  }

  void configure_read(caf::io::receive_policy::config config) override {
    if (config.second > t_->params().max_payload) {
      // Closed before anything is allocated for it: the next read fails.
      t_->refused(peer_refusal::oversized,
                  "from " + remote_of(stream_.fd()) + ": a message of "
                    + std::to_string(config.second) + " bytes");
      ::shutdown(stream_.fd(), SHUT_RDWR);
      return;
    }
    stream_.configure_read(config);
    if (!launched_) {
      launched_ = true;
      stream_.start(this);
    }
  }

  void ack_writes(bool enable) override { stream_.ack_writes(enable); }

  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }

  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }

  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  void flush() override {
    // Until the handshake completed, BASP's bytes wait (a write interest
    // now would spin the multiplexer while the peer is silent).
    if (!session_->established()) {
      flush_held_ = true;
      return;
    }
    stream_.flush(this);
  }

  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }

  uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : uint16_t{0};
  }

  void add_to_loop() override { stream_.activate(this); }

  void remove_from_loop() override {
    // CAF's multiplexer squashes an add and a del of one fd within one
    // cycle into nothing and then never calls removed_from_loop(read): the
    // stream would keep its reference to this scribe for ever (the scribe,
    // its TLS session and the transport leaked; a link accepted or dialled
    // as the node stopped did). A read interest not in the loop now is
    // never handed back by it, so it is released here.
    auto in_loop = (stream_.eventbf() & net::input_mask) != 0;
    stream_.passivate();
    if (!in_loop) {
      caf::intrusive_ptr<link_scribe> alive{this}; // the reader may be the last
      stream_.removed_from_loop(net::operation::read);
    }
  }

private:
  link_session* session_;
  std::shared_ptr<cluster_transport> t_;
  bool launched_ = false;
  bool flush_held_ = false;
  net::stream_impl<link_policy> stream_;
};

// The cluster port's acceptor: sessions for accepted sockets, within the
// cap.
class link_doorman final : public net::doorman_impl {
public:
  link_doorman(net::default_multiplexer& mpx, native_socket fd,
               std::shared_ptr<cluster_transport> t)
    : net::doorman_impl(mpx, fd), t_(std::move(t)) {
    // nop
  }

  bool new_connection() override {
    if (detached())
      return false;
    auto& mpx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    caf::detail::socket_guard guard{fd};
    net::nonblocking(fd, true);
    net::tcp_nodelay(fd, true);
    auto session = std::make_unique<link_session>(t_, fd, true);
    if (!session->start())
      return false; // the guard closes it
    auto scribe = caf::make_counted<link_scribe>(mpx, fd, std::move(session),
                                                 t_);
    guard.release();
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

private:
  std::shared_ptr<cluster_transport> t_;
};

// A TCP connect bounded by `timeout` (CAF's blocks for the kernel's).
caf::expected<native_socket> dial(const std::string& host, uint16_t port,
                                  std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0
      || found == nullptr)
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           "cannot resolve " + host);
  std::string why = "no address";
  native_socket result = net::invalid_native_socket;
  for (auto ai = found; ai != nullptr && result < 0; ai = ai->ai_next) {
    auto fd = ::socket(ai->ai_family,
                       ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
    if (fd < 0)
      continue;
    auto rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        if (rc == 0)
          errno = ETIMEDOUT;
        rc = -1;
      }
    }
    if (rc == 0) {
      result = fd;
    } else {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (result < 0)
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           host + ":" + service + ": " + why);
  net::tcp_nodelay(result, true);
  return result;
}

// CAF's middleman actor with Tether's connections.
class link_middleman final : public caf::io::middleman_actor_impl {
public:
  link_middleman(caf::actor_config& cfg, caf::actor broker,
                 std::shared_ptr<cluster_transport> t)
    : caf::io::middleman_actor_impl(cfg, std::move(broker)), t_(std::move(t)) {
    // nop
  }

  const char* name() const override { return "tether::cluster_middleman"; }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             uint16_t port) override {
    auto fd = dial(host, port, t_->params().connect_timeout);
    if (!fd)
      return std::move(fd.error());
    caf::detail::socket_guard guard{*fd};
    auto session = std::make_unique<link_session>(t_, *fd, false);
    if (!session->start())
      return caf::make_error(caf::sec::cannot_connect_to_node,
                             host + ":" + std::to_string(port)
                               + ": no TLS session");
    guard.release();
    return caf::make_counted<link_scribe>(mpx(), *fd, std::move(session), t_);
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = net::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<link_doorman>(mpx(), *fd, t_);
  }

private:
  net::default_multiplexer& mpx() {
    return static_cast<net::default_multiplexer&>(
      system().middleman().backend());
  }

  std::shared_ptr<cluster_transport> t_;
};

// Sweeps handshakes past their deadline on the multiplexer's thread, a few
// times per deadline.
caf::behavior sweeper(caf::event_based_actor* self,
                      const std::weak_ptr<cluster_transport>& t,
                      std::chrono::milliseconds every) {
  self->delayed_send(self, every, caf::tick_atom_v);
  return {
    [self, t, every](caf::tick_atom) {
      if (auto transport = t.lock()) {
        self->system().middleman().backend().dispatch([t] {
          if (auto transport = t.lock())
            transport->sweep();
        });
        self->delayed_send(self, every, caf::tick_atom_v);
      } else {
        self->quit();
      }
    },
  };
}

ossl::ctx_ptr make_context(const cluster_transport_params& p) {
  ossl::ctx_ptr ctx{SSL_CTX_new(TLS_method())};
  if (!ctx)
    ossl::fail("cannot make a TLS context");
  auto native = ctx.get();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Links live long: no compression, renegotiation or resumption (a
  // resumed session would skip the certificate check).
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_NO_TICKET
                                | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  if (SSL_CTX_set_cipher_list(
        native, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
      != 1)
    ossl::fail("cannot set the cipher list");
  // Partial writes as with a socket (BASP's stream resumes them); idle
  // links give their record buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                             | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(native, p.cert_file.c_str()) != 1)
    ossl::fail("cannot read the certificate " + p.cert_file);
  if (SSL_CTX_use_PrivateKey_file(native, p.key_file.c_str(), SSL_FILETYPE_PEM)
      != 1)
    ossl::fail("cannot read the private key " + p.key_file);
  if (SSL_CTX_check_private_key(native) != 1)
    ossl::fail(p.key_file + " does not match " + p.cert_file);
  if (SSL_CTX_load_verify_locations(native, p.ca_file.c_str(), nullptr) != 1)
    ossl::fail("cannot read the cluster CA " + p.ca_file);
  // Both ends show a certificate of the cluster's CA, or nothing passes.
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  SSL_CTX_set_verify_depth(native, 1);
  if (auto names = SSL_load_client_CA_file(p.ca_file.c_str()))
    SSL_CTX_set_client_CA_list(native, names);
  return ctx;
}

} // namespace

cluster_transport::cluster_transport(
  cluster_transport_params params,
  std::shared_ptr<actors::node_metrics> metrics)
  : params_(std::move(params)), metrics_(std::move(metrics)) {
  // nop
}

cluster_transport::~cluster_transport() = default;

std::string cluster_transport::load() {
  if (params_.cert_file.empty())
    return {};
  try {
    std::shared_ptr<SSL_CTX> ctx{make_context(params_).release(), SSL_CTX_free};
    std::lock_guard<std::mutex> guard{mx_};
    ctx_ = std::move(ctx);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

caf::io::middleman_actor cluster_transport::start(caf::actor_system& sys) {
  auto broker
    = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  broker_ = broker;
  auto mm = sys.spawn<link_middleman, caf::detached + caf::hidden>(
    std::move(broker), shared_from_this());
  auto every = std::max(std::chrono::milliseconds{50},
                        params_.handshake_timeout / 4);
  sweeper_ = sys.spawn<caf::hidden>(sweeper, weak_from_this(), every);
  middleman_ = caf::actor_cast<caf::actor>(mm);
  return caf::actor_cast<caf::io::middleman_actor>(mm);
}

void end_and_await(const std::vector<caf::actor>& actors,
                   std::chrono::milliseconds timeout) {
  auto first = std::find_if(actors.begin(), actors.end(),
                            [](const caf::actor& a) { return a != nullptr; });
  if (first == actors.end())
    return;
  caf::scoped_actor self{first->home_system()};
  size_t alive = 0;
  for (auto& a : actors)
    if (a) {
      self->monitor(a);
      caf::anon_send_exit(a, caf::exit_reason::kill);
      ++alive;
    }
  for (; alive > 0; --alive)
    self->receive([](const caf::down_msg&) {}, caf::after(timeout) >> [] {});
}

void cluster_transport::stop() {
  // Hidden actors are not awaited by the system: they are ended here, so
  // that none is left to be destroyed in ~actor_system, after its clock
  // (a crash). First no new link: the middleman (which dials) and the
  // sweeper go.
  end_and_await({sweeper_, middleman_}, std::chrono::seconds{5});
  sweeper_ = nullptr;
  middleman_ = nullptr;
  if (!broker_)
    return;
  // Then, on the broker's thread and in one step, its connections and its
  // port close and its helpers are read: CAF spawns one for each node the
  // broker learns of (hidden, registered, alive for minutes), and one
  // spawned after the read, by a link that came up as the node stopped,
  // was never ended (it leaked the broker with it). With no connection
  // left, the broker learns of no node any more.
  // (Shared: a closure run after the wait below gave up still has it.)
  auto helpers = std::make_shared<std::promise<std::vector<caf::actor>>>();
  auto taken = helpers->get_future();
  broker_.home_system().middleman().backend().dispatch([helpers, b = broker_] {
    auto* basp = static_cast<caf::io::basp_broker*>(
      caf::actor_cast<caf::abstract_actor*>(b));
    basp->close_all();
    std::vector<caf::actor> xs;
    for (auto& kv : basp->spawn_servers)
      xs.push_back(kv.second);
    helpers->set_value(std::move(xs));
  });
  std::vector<caf::actor> all;
  if (taken.wait_for(std::chrono::seconds{5}) == std::future_status::ready)
    all = taken.get();
  all.push_back(broker_);
  end_and_await(all, std::chrono::seconds{5});
  broker_ = nullptr;
}

bool cluster_transport::verifying() const noexcept {
  return !params_.cert_file.empty();
}

std::string cluster_transport::node_at(const std::string& addr,
                                       uint16_t port) const {
  std::lock_guard<std::mutex> guard{mx_};
  auto i = certified_.find(endpoint_key(addr, port));
  return i != certified_.end() ? i->second : std::string{};
}

std::shared_ptr<SSL_CTX> cluster_transport::context() const {
  std::lock_guard<std::mutex> guard{mx_};
  return ctx_;
}

bool cluster_transport::begin_pending(int fd) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> guard{mx_};
    if (pending_.size() < params_.max_pending) {
      pending_.emplace(fd, now + params_.handshake_timeout);
      return true;
    }
  }
  sweep();
  std::lock_guard<std::mutex> guard{mx_};
  if (pending_.size() < params_.max_pending) {
    pending_.emplace(fd, now + params_.handshake_timeout);
    return true;
  }
  metrics_->peer_refused(peer_refusal::busy);
  return false;
}

void cluster_transport::end_pending(int fd) {
  std::lock_guard<std::mutex> guard{mx_};
  pending_.erase(fd);
}

void cluster_transport::sweep() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::string> late;
  {
    // Shut under the lock: a session leaves pending_ (under it too) before
    // its socket closes, so every socket shut here is still this one.
    std::lock_guard<std::mutex> guard{mx_};
    for (auto i = pending_.begin(); i != pending_.end();) {
      if (i->second <= now) {
        late.push_back(remote_of(i->first));
        ::shutdown(i->first, SHUT_RDWR); // its next read fails; it closes
        i = pending_.erase(i);
      } else {
        ++i;
      }
    }
  }
  for (auto& who : late)
    refused(peer_refusal::timeout,
            "from " + who + ": no handshake within "
              + std::to_string(params_.handshake_timeout.count()) + " ms");
}

void cluster_transport::certify(const std::string& addr, uint16_t port,
                                std::string node_id) {
  std::lock_guard<std::mutex> guard{mx_};
  certified_[endpoint_key(addr, port)] = std::move(node_id);
}

void cluster_transport::forget(const std::string& addr, uint16_t port) {
  std::lock_guard<std::mutex> guard{mx_};
  certified_.erase(endpoint_key(addr, port));
}

void cluster_transport::refused(peer_refusal why, const std::string& detail) {
  metrics_->peer_refused(why);
  auto now = std::chrono::steady_clock::now();
  uint64_t skipped = 0;
  {
    std::lock_guard<std::mutex> guard{mx_};
    if (now - last_log_ < std::chrono::seconds{1}) {
      ++unlogged_;
      return;
    }
    last_log_ = now;
    skipped = std::exchange(unlogged_, 0);
  }
  if (skipped > 0)
    spdlog::warn("cluster: refused a connection {} ({}; {} more refused "
                 "since the last line)",
                 detail, actors::to_string(why), skipped);
  else
    spdlog::warn("cluster: refused a connection {} ({})", detail,
                 actors::to_string(why));
}

} // namespace tether::runtime

#pragma once

// Internal to runtime/ws_*.cpp (through ws_detail.hpp): tls_stream, the
// server's TLS connection (wss and https on the listener's ports), a Beast
// AsyncStream on OpenSSL without fixed record buffers.
//
// OpenSSL reads and writes the socket itself, through a BIO of ours
// (runtime/ws_tls_stream.cpp); Asio only tells when the socket is readable
// or writable (socket::async_wait). So an idle connection holds no record
// buffer: OpenSSL's own are allocated per record and released once empty
// (SSL_MODE_RELEASE_BUFFERS), where Asio's ssl::stream keeps two 17 KiB
// vectors and a 2 x 17 KiB BIO pair per connection for its whole life.
//
// Writes never wait inside OpenSSL: the BIO sends what the kernel takes and
// keeps the rest of the record in a buffer that exists only until it is
// sent. An operation completes once its record left that buffer, so the
// writer sees the socket's backpressure; a record OpenSSL writes on its own
// while reading (an alert, a TLS 1.3 KeyUpdate answer) cannot collide with
// a write waiting for the socket, as it would with OpenSSL on the socket
// directly (SSL_R_BAD_WRITE_RETRY).
//
// One read and one write may be pending at once (Beast's websocket::stream
// does that); every operation runs on the socket's executor (the session's
// strand), so OpenSSL's SSL object is never entered from two threads. A
// deadline (expires_after) bounds the waits of the operations started
// under it, as beast::tcp_stream's does; on expiry the socket is closed and
// the pending operations end with beast::error::timeout.
//
// Errors as with Asio's ssl::stream: the peer's close_notify is
// net::error::eof, a connection closed without it
// net::ssl::error::stream_truncated, TLS failures net::error::ssl_category.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/async_base.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>

struct ssl_st;
struct ssl_ctx_st;

namespace tether::runtime::detail {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace tls_detail {

/// Plaintext bytes per TLS record (RFC 8446 §5.1): what one write encrypts.
constexpr size_t max_record_plaintext = 16384;

/// Bytes waiting for the socket above which a read first waits for them to
/// be sent: more than one record of a write (which may wait while a peer
/// does not read, without stopping reads), so only records OpenSSL wrote
/// while reading (alerts, KeyUpdate answers) reach it: a peer that provokes
/// them and never reads cannot grow the buffer.
constexpr size_t max_read_side_output = 64 * 1024;

/// The state of one connection, shared by the stream and its pending
/// operations (which may outlive a moved or destroyed stream object until
/// their handlers run). Used on the socket's executor only.
class core : public std::enable_shared_from_this<core> {
public:
  using clock_type = std::chrono::steady_clock;

  /// What an OpenSSL call needs before it can be called again.
  enum class want : uint8_t { nothing, read, write };

  /// The result of one step: a wait, or done with an error or a count.
  struct step {
    want next = want::nothing;
    beast::error_code ec;
    size_t bytes = 0;
  };

  static step wait_for(want w) { return {w, {}, 0}; }
  static step failure(beast::error_code ec) { return {want::nothing, ec, 0}; }

  /// Takes over `socket` for a server connection on `ctx` (the SSL object
  /// holds a reference: a reload may drop the context meanwhile); `prefix`
  /// are bytes read from the socket already (while detecting TLS), which
  /// OpenSSL reads first.
  core(tcp::socket socket, ssl_ctx_st* ctx, net::const_buffer prefix);
  ~core();

  core(const core&) = delete;
  core& operator=(const core&) = delete;

  // -- steps: one OpenSSL call each, never blocking -------------------------

  step handshake();
  step read(net::mutable_buffer b);
  /// Encrypts up to one record of `b` (gathered when it is split in pieces
  /// smaller than a record: one record per WebSocket frame, not two).
  template <class ConstBuffers>
  step write(const ConstBuffers& b) {
    size_t total = net::buffer_size(b);
    if (total == 0)
      return step{};
    net::const_buffer first;
    for (auto i = net::buffer_sequence_begin(b);
         i != net::buffer_sequence_end(b); ++i) {
      first = net::const_buffer(*i);
      if (first.size() > 0)
        break;
    }
    auto want = total < max_record_plaintext ? total : max_record_plaintext;
    if (first.size() >= want)
      return write_one(first);
    auto scratch = write_scratch();
    return write_one({scratch.data(), net::buffer_copy(scratch, b)});
  }
  /// Reads and drops what arrives (after our close_notify, until the
  /// peer's).
  step discard();
  /// Queues our close_notify (once; not after a failure or before the
  /// handshake completed).
  step close_notify();
  /// Sends what the socket did not take yet: want::write while some is
  /// left.
  step flush();

  /// Bytes of records waiting for the socket.
  size_t output_bytes() const noexcept { return out_.size() - out_head_; }
  bool has_output() const noexcept { return output_bytes() > 0; }
  /// Bytes this object buffers itself (outside OpenSSL): the records
  /// waiting for the socket and the unread bytes read before TLS started.
  size_t buffered_bytes() const noexcept {
    return output_bytes() + in_.size() - in_head_;
  }
  /// Whether the handshake completed.
  bool established() const noexcept { return established_; }

  /// Sends waiting records in the background (output of a read, when no
  /// write operation is there to send it), until sent or the socket fails.
  void start_flush();

  // -- deadline and waits -------------------------------------------------

  void expires_at(clock_type::time_point t);
  void expires_never();

  /// Starts waiting for the socket to become readable or writable, then
  /// calls op(ec): at once with a timeout once the deadline passed.
  template <class Op>
  void wait(want what, Op&& op) {
    ++waiting_;
    if (expiry_ != clock_type::time_point::max()) {
      if (expiry_ <= clock_type::now())
        time_out(); // the wait below ends at once
      else
        arm_timer();
    }
    socket.async_wait(what == want::write ? tcp::socket::wait_write
                                          : tcp::socket::wait_read,
                      std::forward<Op>(op));
  }

  /// Ends a wait begun with wait(): the error its operation sees.
  beast::error_code end_wait(beast::error_code ec) noexcept {
    --waiting_;
    if (timed_out_)
      return beast::error::timeout;
    return ec;
  }

  /// Closes the socket: pending waits end (operation_aborted).
  void close() noexcept;

  /// Stops sending: our close_notify if it can go at once, then the TCP
  /// shutdown. False if the connection is gone.
  bool shutdown_send() noexcept;

  ssl_st* native_handle() const noexcept { return ssl_; }

  tcp::socket socket;

  // -- the BIO's side (runtime/ws_tls_stream.cpp) ---------------------------

  int bio_read(char* p, int n) noexcept;
  int bio_write(const char* p, int n) noexcept;
  bool bio_eof() const noexcept { return eof_; }

private:
  step write_one(net::const_buffer b);
  static net::mutable_buffer write_scratch();
  step result_of(int ret, size_t n);
  step closed_step() const;
  void arm_timer();
  void disarm_timer() noexcept;
  void time_out() noexcept;

  ssl_st* ssl_ = nullptr;
  /// Records (or their ends) the socket did not take yet; freed once sent.
  std::vector<char> out_;
  size_t out_head_ = 0;
  /// Bytes read before TLS started (detection), OpenSSL's first input.
  std::vector<char> in_;
  size_t in_head_ = 0;
  /// The socket's error seen by the BIO during the current call.
  beast::error_code sys_error_;
  net::steady_timer timer_;
  clock_type::time_point expiry_ = clock_type::time_point::max();
  uint64_t timer_generation_ = 0;
  uint32_t waiting_ = 0;
  bool timer_armed_ = false;
  bool timed_out_ = false;
  bool flushing_ = false;
  bool failed_ = false;
  bool eof_ = false;
  bool established_ = false;
  bool notified_ = false;
};

/// Base of the operations: the core and the wait they are in.
template <class Handler, class Executor>
class op_base : public beast::async_base<Handler, Executor> {
protected:
  template <class H>
  op_base(H&& h, std::shared_ptr<core> c)
    : beast::async_base<Handler, Executor>(std::forward<H>(h),
                                           c->socket.get_executor()),
      core_(std::move(c)) {}

  /// Waits as `s` asks (true) or not (false).
  template <class Self>
  bool wait_for(const core::step& s, Self&& self) {
    if (s.next == core::want::nothing)
      return false;
    waited_ = true;
    auto c = core_;
    c->wait(s.next, std::forward<Self>(self));
    return true;
  }

  /// At the start of a resumption: the error of the wait that ended.
  void resumed(beast::error_code& ec) {
    if (waited_) {
      waited_ = false;
      ec = core_->end_wait(ec);
    }
  }

  std::shared_ptr<core> core_;
  bool waited_ = false;
};

template <class Handler, class Executor>
class handshake_op : public op_base<Handler, Executor> {
public:
  template <class H>
  handshake_op(H&& h, std::shared_ptr<core> c)
    : op_base<Handler, Executor>(std::forward<H>(h), std::move(c)) {
    (*this)({}, false);
  }

  void operator()(beast::error_code ec = {}, bool cont = true) {
    this->resumed(ec);
    auto& c = *this->core_;
    while (!ec) {
      // Our flight goes out before we wait for the peer's next one.
      if (c.has_output()) {
        auto s = c.flush();
        if (s.ec) {
          ec = s.ec;
          break;
        }
        if (this->wait_for(s, std::move(*this)))
          return;
      }
      if (c.established())
        break;
      auto s = c.handshake();
      if (s.ec) {
        c.flush(); // the alert, if the socket takes it
        ec = s.ec;
        break;
      }
      if (c.has_output())
        continue;
      if (this->wait_for(s, std::move(*this)))
        return;
    }
    this->complete(cont, ec);
  }
};

template <class Buffers, class Handler, class Executor>
class read_op : public op_base<Handler, Executor> {
public:
  template <class H>
  read_op(H&& h, std::shared_ptr<core> c, const Buffers& b)
    : op_base<Handler, Executor>(std::forward<H>(h), std::move(c)), b_(b) {
    (*this)({}, false);
  }

  void operator()(beast::error_code ec = {}, bool cont = true) {
    this->resumed(ec);
    auto& c = *this->core_;
    size_t n = 0;
    while (!ec) {
      net::mutable_buffer b;
      for (auto i = net::buffer_sequence_begin(b_);
           i != net::buffer_sequence_end(b_); ++i) {
        b = net::mutable_buffer(*i);
        if (b.size() > 0)
          break;
      }
      if (b.size() == 0)
        break;
      // A peer that provokes records and does not read them stops being
      // read until they are sent.
      if (c.output_bytes() >= max_read_side_output) {
        auto s = c.flush();
        ec = s.ec;
        if (!ec && this->wait_for(s, std::move(*this)))
          return;
        continue;
      }
      auto s = c.read(b);
      if (c.has_output())
        c.start_flush();
      if (!s.ec && this->wait_for(s, std::move(*this)))
        return;
      ec = s.ec;
      n = s.bytes;
      break;
    }
    this->complete(cont, ec, n);
  }

private:
  Buffers b_;
};

template <class Buffers, class Handler, class Executor>
class write_op : public op_base<Handler, Executor> {
public:
  template <class H>
  write_op(H&& h, std::shared_ptr<core> c, const Buffers& b)
    : op_base<Handler, Executor>(std::forward<H>(h), std::move(c)), b_(b) {
    (*this)({}, false);
  }

  void operator()(beast::error_code ec = {}, bool cont = true) {
    this->resumed(ec);
    auto& c = *this->core_;
    while (!ec) {
      // Records written before (by anyone) go first; this one is done
      // once the socket took it.
      if (c.has_output()) {
        auto s = c.flush();
        ec = s.ec;
        if (!ec && this->wait_for(s, std::move(*this)))
          return;
        continue;
      }
      if (written_)
        break;
      auto s = c.write(b_);
      ec = s.ec;
      if (!ec && this->wait_for(s, std::move(*this)))
        return;
      written_ = true;
      n_ = s.bytes;
    }
    this->complete(cont, ec, ec ? size_t{0} : n_);
  }

private:
  Buffers b_;
  size_t n_ = 0;
  bool written_ = false;
};

template <class Handler, class Executor>
class shutdown_op : public op_base<Handler, Executor> {
public:
  template <class H>
  shutdown_op(H&& h, std::shared_ptr<core> c)
    : op_base<Handler, Executor>(std::forward<H>(h), std::move(c)) {
    (*this)({}, false);
  }

  void operator()(beast::error_code ec = {}, bool cont = true) {
    this->resumed(ec);
    auto& c = *this->core_;
    if (!ec && !notified_) {
      notified_ = true;
      ec = c.close_notify().ec;
    }
    while (!ec) {
      if (c.has_output()) {
        auto s = c.flush();
        ec = s.ec;
        if (!ec && this->wait_for(s, std::move(*this)))
          return;
        continue;
      }
      // Until the peer's close_notify (eof) or the end of the connection.
      auto s = c.discard();
      if (!s.ec && this->wait_for(s, std::move(*this)))
        return;
      if (!s.ec)
        continue; // dropped
      ec = s.ec;
      if (ec == net::error::eof) // the peer's close_notify: done
        ec = {};
      else if (ec == net::ssl::error::stream_truncated)
        ec = net::error::eof; // closed without it: done as Beast sees it
      break;
    }
    this->complete(cont, ec);
  }

private:
  bool notified_ = false;
};

} // namespace tls_detail

/// A server TLS connection on a socket, for Beast's HTTP and WebSocket
/// layers (AsyncStream) and the session's transport operations. It is its
/// own lowest layer: the deadline (expires_*) and socket() are here, as on
/// beast::tcp_stream.
class tls_stream {
public:
  using executor_type = tcp::socket::executor_type;
  using clock_type = tls_detail::core::clock_type;

  /// A server connection on `ctx` over `socket`; `prefix` holds bytes read
  /// from the socket before (the start of the ClientHello).
  tls_stream(tcp::socket socket, ssl_ctx_st* ctx, net::const_buffer prefix = {})
    : core_(
      std::make_shared<tls_detail::core>(std::move(socket), ctx, prefix)) {}

  tls_stream(tls_stream&&) noexcept = default;
  tls_stream& operator=(tls_stream&& other) noexcept {
    if (core_)
      core_->close();
    core_ = std::move(other.core_);
    return *this;
  }
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  /// Closes the socket: pending operations end (they keep the state
  /// alive until their handlers ran).
  ~tls_stream() {
    if (core_)
      core_->close();
  }

  executor_type get_executor() noexcept { return core_->socket.get_executor(); }

  tcp::socket& socket() noexcept { return core_->socket; }

  ssl_st* native_handle() const noexcept { return core_->native_handle(); }

  /// Bytes buffered outside OpenSSL (records waiting for a full socket,
  /// unread bytes from before the handshake): 0 on an idle connection.
  size_t buffered_bytes() const noexcept { return core_->buffered_bytes(); }

  /// The deadline of the waits of operations started from now on (as
  /// beast::tcp_stream's): when it passes during one, the socket closes.
  void expires_after(clock_type::duration d) {
    core_->expires_at(clock_type::now() + d);
  }
  void expires_at(clock_type::time_point t) { core_->expires_at(t); }
  void expires_never() { core_->expires_never(); }

  void close() noexcept { core_->close(); }

  /// Stops sending (our close_notify if it can go at once, then the TCP
  /// shutdown); false if the connection is gone already.
  bool shutdown_send() noexcept { return core_->shutdown_send(); }

  /// The server handshake: handler(error_code).
  template <class Handler>
  void async_handshake(Handler&& h) {
    using op = tls_detail::handshake_op<std::decay_t<Handler>, executor_type>;
    op(std::forward<Handler>(h), core_);
  }

  /// handler(error_code, size_t): at least one byte, eof after the peer's
  /// close_notify.
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& b, Handler&& h) {
    using op = tls_detail::read_op<MutableBuffers, std::decay_t<Handler>,
                                   executor_type>;
    op(std::forward<Handler>(h), core_, b);
  }

  /// handler(error_code, size_t): up to one record's plaintext, complete
  /// once the socket took the record.
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& b, Handler&& h) {
    using op = tls_detail::write_op<ConstBuffers, std::decay_t<Handler>,
                                    executor_type>;
    op(std::forward<Handler>(h), core_, b);
  }

  /// Our close_notify, then what the peer still sends is dropped until its
  /// close_notify (success) or the end of the connection (eof):
  /// handler(error_code).
  template <class Handler>
  void async_shutdown(Handler&& h) {
    using op = tls_detail::shutdown_op<std::decay_t<Handler>, executor_type>;
    op(std::forward<Handler>(h), core_);
  }

  /// Beast's close_socket (a WebSocket timeout closes the connection).
  friend void beast_close_socket(tls_stream& s) noexcept { s.close(); }

  /// Beast's WebSocket teardown after the close handshake: close_notify,
  /// then the peer's (Asio's ssl::stream does the same).
  template <class Handler>
  friend void async_teardown(beast::role_type, tls_stream& s, Handler&& h) {
    s.async_shutdown(std::forward<Handler>(h));
  }

  /// The synchronous teardown: close_notify if it can go at once, then
  /// the TCP connection closes.
  friend void teardown(beast::role_type, tls_stream& s, beast::error_code& ec) {
    s.shutdown_send();
    s.close();
    ec = {};
  }

private:
  std::shared_ptr<tls_detail::core> core_;
};

/// The session's transport operations (ws_detail.hpp) for tls_stream.
inline void clear_deadline(tls_stream& s) {
  s.expires_never();
}
inline bool shutdown_send(tls_stream& s) {
  return s.shutdown_send();
}
inline void close_transport(tls_stream& s) {
  beast::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s.close();
}

} // namespace tether::runtime::detail

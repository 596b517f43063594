// tls_stream's state (runtime/ws_detail_tls.hpp): the SSL object, the BIO
// through which OpenSSL reads and writes the socket itself, the records
// waiting for a full socket, the deadline.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <new>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/ws_detail_tls.hpp"

namespace tether::runtime::detail::tls_detail {

namespace {

// What core::bio_read and core::bio_write return besides a byte count.
constexpr int bio_retry = -1;
constexpr int bio_failed = -2;

// Sent prefix bytes of the waiting records above which they are moved to
// the front (a record is at most ~16.4 KB: this rarely runs).
constexpr size_t compact_after = 4096;

core* owner(BIO* b) {
  return static_cast<core*>(BIO_get_data(b));
}

int on_bio_read(BIO* b, char* p, int n) {
  BIO_clear_retry_flags(b);
  auto r = owner(b)->bio_read(p, n);
  if (r == bio_retry) {
    BIO_set_retry_read(b);
    return -1;
  }
  return r == bio_failed ? -1 : r;
}

int on_bio_write(BIO* b, const char* p, int n) {
  BIO_clear_retry_flags(b);
  auto r = owner(b)->bio_write(p, n);
  return r == bio_failed ? -1 : r;
}

long on_bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: // written already, or waiting in our buffer
      return 1;
    case BIO_CTRL_EOF:
      return owner(b)->bio_eof() ? 1 : 0;
    default:
      return 0;
  }
}

int on_bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int on_bio_destroy(BIO*) {
  return 1;
}

// One method for every connection, made on first use (OpenSSL's method
// objects are immutable once made; never freed: it lives as long as the
// process).
const BIO_METHOD* bio_method() {
  static BIO_METHOD* method = [] {
    auto* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                           "tether socket");
    if (m != nullptr) {
      BIO_meth_set_read(m, on_bio_read);
      BIO_meth_set_write(m, on_bio_write);
      BIO_meth_set_ctrl(m, on_bio_ctrl);
      BIO_meth_set_create(m, on_bio_create);
      BIO_meth_set_destroy(m, on_bio_destroy);
    }
    return m;
  }();
  return method;
}

beast::error_code errno_code(int e) {
  return {e, net::error::get_system_category()};
}

} // namespace

core::core(tcp::socket s, ssl_ctx_st* ctx, net::const_buffer prefix)
  : socket(std::move(s)), timer_(socket.get_executor()) {
  const auto* p = static_cast<const char*>(prefix.data());
  in_.assign(p, p + prefix.size());
  auto* method = bio_method();
  ssl_ = ctx != nullptr && method != nullptr ? SSL_new(ctx) : nullptr;
  if (ssl_ == nullptr)
    return; // every step fails
  auto* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);
  // A record per write (the rest of a larger buffer is the caller's next
  // write); release the record buffers whenever they are empty; read what
  // the socket has in one call instead of a header, then a body.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE
                       | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                       | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_accept_state(ssl_);
}

core::~core() {
  if (ssl_ != nullptr)
    SSL_free(ssl_); // and the BIO
}

// -- the BIO's side ------------------------------------------------------

int core::bio_read(char* p, int n) noexcept {
  if (n <= 0)
    return 0;
  if (in_head_ < in_.size()) {
    auto k = std::min(static_cast<size_t>(n), in_.size() - in_head_);
    std::memcpy(p, in_.data() + in_head_, k);
    in_head_ += k;
    if (in_head_ == in_.size()) {
      std::vector<char>{}.swap(in_);
      in_head_ = 0;
    }
    return static_cast<int>(k);
  }
  for (;;) {
    auto r = ::recv(socket.native_handle(), p, static_cast<size_t>(n),
                    MSG_DONTWAIT);
    if (r > 0)
      return static_cast<int>(r);
    if (r == 0) {
      eof_ = true;
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return bio_retry;
    sys_error_ = errno_code(errno);
    return bio_failed;
  }
}

int core::bio_write(const char* p, int n) noexcept {
  if (n <= 0)
    return 0;
  auto len = static_cast<size_t>(n);
  size_t sent = 0;
  // Behind records still waiting, a record waits too (order).
  while (!has_output() && sent < len) {
    auto r = ::send(socket.native_handle(), p + sent, len - sent,
                    MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      sent += static_cast<size_t>(r);
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    sys_error_ = errno_code(errno);
    return bio_failed;
  }
  if (sent < len) {
    try {
      out_.insert(out_.end(), p + sent, p + len);
    } catch (const std::bad_alloc&) {
      sys_error_ = errno_code(ENOMEM);
      return bio_failed;
    }
  }
  return n;
}

// -- steps ---------------------------------------------------------------

core::step core::closed_step() const {
  if (ssl_ == nullptr)
    return failure(net::error::no_memory);
  if (!socket.is_open())
    return failure(timed_out_ ? beast::error_code{beast::error::timeout}
                              : net::error::bad_descriptor);
  return {};
}

core::step core::result_of(int ret, size_t n) {
  if (ret > 0)
    return {want::nothing, {}, n};
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return wait_for(want::read);
    case SSL_ERROR_WANT_WRITE: // our BIO always takes a write
      return wait_for(want::write);
    case SSL_ERROR_ZERO_RETURN: // the peer's close_notify
      return failure(net::error::eof);
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      if (sys_error_)
        return failure(sys_error_);
      return failure(net::ssl::error::stream_truncated);
    case SSL_ERROR_SSL: {
      failed_ = true;
      auto e = ERR_get_error();
      ERR_clear_error();
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
      if (ERR_GET_LIB(e) == ERR_LIB_SSL
          && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return failure(net::ssl::error::stream_truncated);
#endif
      if (sys_error_)
        return failure(sys_error_);
      return failure(
        beast::error_code(static_cast<int>(e), net::error::get_ssl_category()));
    }
    default:
      failed_ = true;
      return failure(net::error::fault);
  }
}

core::step core::handshake() {
  if (auto s = closed_step(); s.ec)
    return s;
  ERR_clear_error();
  sys_error_ = {};
  auto r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return {};
  }
  return result_of(r, 0);
}

core::step core::read(net::mutable_buffer b) {
  if (auto s = closed_step(); s.ec)
    return s;
  ERR_clear_error();
  sys_error_ = {};
  size_t n = 0;
  auto r = SSL_read_ex(ssl_, b.data(), b.size(), &n);
  return result_of(r, n);
}

core::step core::write_one(net::const_buffer b) {
  if (auto s = closed_step(); s.ec)
    return s;
  ERR_clear_error();
  sys_error_ = {};
  size_t n = 0;
  auto r = SSL_write_ex(ssl_, b.data(), b.size(), &n);
  return result_of(r, n);
}

core::step core::discard() {
  return read(write_scratch());
}

core::step core::close_notify() {
  if (notified_)
    return {};
  if (auto s = closed_step(); s.ec)
    return s;
  if (!established_ || failed_)
    return failure(net::ssl::error::stream_truncated);
  notified_ = true;
  ERR_clear_error();
  sys_error_ = {};
  auto r = SSL_shutdown(ssl_);
  if (r >= 0) // 0: ours is out, 1: the peer's came before
    return {};
  auto s = result_of(r, 0);
  return failure(s.ec);
}

core::step core::flush() {
  while (has_output()) {
    auto r = ::send(socket.native_handle(), out_.data() + out_head_,
                    output_bytes(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      out_head_ += static_cast<size_t>(r);
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (out_head_ >= compact_after && 2 * out_head_ >= out_.size()) {
        out_.erase(out_.begin(),
                   out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
        out_head_ = 0;
      }
      return wait_for(want::write);
    }
    if (!socket.is_open())
      return closed_step();
    return failure(errno_code(errno));
  }
  std::vector<char>{}.swap(out_);
  out_head_ = 0;
  return {};
}

net::mutable_buffer core::write_scratch() {
  // One per I/O thread: a record's worth gathered, encrypted at once.
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer)
    buffer = std::make_unique<char[]>(max_record_plaintext);
  return {buffer.get(), max_record_plaintext};
}

void core::start_flush() {
  if (flushing_ || !has_output())
    return;
  auto s = flush();
  if (s.ec || s.next != want::write)
    return;
  flushing_ = true;
  socket.async_wait(tcp::socket::wait_write,
                    [self = shared_from_this()](beast::error_code ec) {
                      self->flushing_ = false;
                      if (!ec)
                        self->start_flush();
                    });
}

bool core::shutdown_send() noexcept {
  if (!socket.is_open())
    return false;
  if (!has_output() && close_notify().ec == beast::error_code{})
    flush(); // if the socket does not take it now, the peer goes without
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  return !ec && socket.is_open();
}

// -- deadline ------------------------------------------------------------

void core::expires_at(clock_type::time_point t) {
  expiry_ = t;
  if (timer_armed_ && timer_.expiry() > t)
    disarm_timer();
  if (waiting_ > 0 && !timed_out_)
    arm_timer();
}

void core::expires_never() {
  expiry_ = clock_type::time_point::max();
  if (timer_armed_)
    disarm_timer();
}

void core::disarm_timer() noexcept {
  timer_armed_ = false;
  ++timer_generation_; // a wait that completes anyway is stale
  try {
    timer_.cancel();
  } catch (const std::exception&) {
    // Asio's cancel throws only if the reactor fails; the wait is stale.
  }
}

void core::arm_timer() {
  if (timer_armed_) // armed at or before the deadline: it looks again
    return;
  timer_armed_ = true;
  timer_.expires_at(expiry_);
  timer_.async_wait([weak = weak_from_this(),
                     generation = ++timer_generation_](beast::error_code) {
    auto self = weak.lock();
    if (!self || self->timer_generation_ != generation)
      return;
    self->timer_armed_ = false;
    if (self->expiry_ == clock_type::time_point::max() || self->waiting_ == 0)
      return; // the next wait looks at the deadline
    if (clock_type::now() < self->expiry_)
      self->arm_timer();
    else
      self->time_out();
  });
}

void core::time_out() noexcept {
  timed_out_ = true;
  close();
}

void core::close() noexcept {
  beast::error_code ignored;
  socket.close(ignored);
  if (timer_armed_)
    disarm_timer();
}

} // namespace tether::runtime::detail::tls_detail

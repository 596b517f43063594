#pragma once

// Internal to runtime/ (ws_session.cpp and the session fuzz target): the
// server side of one WebSocket connection, a template over the stream
// (tcp::socket, tls_stream, or Beast's in-memory test stream). Beast
// stream on one event loop, one write in flight, read credit from the
// connection actor, ping/pong with RTT. Implements actors::session_port; a
// method called on the session's own loop (by an actor of that loop) runs at
// once, from anywhere else it is posted there.

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>

#include <spdlog/spdlog.h>

#include "actors/lazy_deque.hpp"
#include "protocol/errc.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime::detail {

namespace session_detail {

using clock_type = std::chrono::steady_clock;
using protocol::close_code;

// Frames handed to the actor but not yet processed: reading pauses at the
// high mark and resumes at the low mark (CAF mailboxes are unbounded).
constexpr int read_high_mark = 64;
constexpr int read_low_mark = 16;

// Outbound bytes queued beyond the one in-flight write before the peer is
// treated as a slow consumer and cut off.
constexpr size_t max_queued_bytes = 8 * 1024 * 1024;

// Actor runs waiting on the session's loop above which it counts as loaded
// (a room publish to 1000 members readies 1000; an echo keeps it below 4).
constexpr int64_t loaded_backlog = 32;

// What a lingering close reads (and discards) at a time.
constexpr size_t drain_bytes = 1024;

template <class Stream>
class ws_session final
  : public actors::session_port,
    public std::enable_shared_from_this<ws_session<Stream>> {
public:
  ws_session(std::shared_ptr<server_shared> shared, Stream stream,
             actors::session_info info)
    : shared_(std::move(shared)), ws_(std::move(stream)),
      timer_(ws_.get_executor()), info_(std::move(info)),
      // Made on its loop's thread (by the HTTP session's handler).
      loop_(shared_->loops ? shared_->loops->current() : -1) {
    shared_->sessions.fetch_add(1);
  }

  ~ws_session() override { shared_->sessions.fetch_sub(1); }

  void run(http::request<http::string_body> req) {
    req_ = std::make_unique<http::request<http::string_body>>(std::move(req));
    auto& p = shared_->params;
    // The HTTP phase's deadline must not apply to the WebSocket.
    clear_deadline(beast::get_lowest_layer(ws_));
    // ping/pong below keep the session alive, not Beast's idle timeout
    set_server_options(ws_, p, websocket::stream_base::none());
    ws_.control_callback(
      [this](websocket::frame_type kind, beast::string_view payload) {
        on_control(kind, payload);
      });
    ws_.set_option(websocket::stream_base::decorator(
      [this, protocol = echoed_subprotocol()](websocket::response_type& res) {
        res.set(http::field::server, "tether/" TETHER_VERSION);
        if (!protocol.empty())
          res.set(http::field::sec_websocket_protocol, protocol);
        deflate_negotiated_
          = !res[http::field::sec_websocket_extensions].empty();
      }));
    ws_.async_accept(*req_,
                     beast::bind_front_handler(&ws_session::on_accept,
                                               this->shared_from_this()));
  }

  // -- session_port
  // -------------------------------------------------------------

  void attach(std::shared_ptr<actors::session_events> events) override {
    net::dispatch(ws_.get_executor(), [self = this->shared_from_this(),
                                       events = std::move(events)] {
      if (self->finished_) {
        events->on_closed(self->close_code_);
        return;
      }
      self->events_ = events;
      self->do_read();
      self->schedule_ping();
    });
  }

  void send(actors::shared_bytes bytes, bool binary, uint64_t tag) override {
    net::dispatch(ws_.get_executor(),
                  [self = this->shared_from_this(), bytes = std::move(bytes),
                   binary, tag] { self->enqueue(bytes, binary, tag); });
  }

  void close(uint16_t code, std::string reason) override {
    net::dispatch(ws_.get_executor(), [self = this->shared_from_this(), code,
                                       reason = std::move(reason)] {
      self->do_close(code, reason);
    });
  }

  void consumed(size_t n) override {
    auto left = inflight_.fetch_sub(static_cast<int>(n)) - static_cast<int>(n);
    if (left <= read_low_mark && paused_.exchange(false))
      net::dispatch(ws_.get_executor(),
                    [self = this->shared_from_this()] { self->do_read(); });
  }

  const actors::session_info& info() const noexcept override { return info_; }

  int32_t loop() const noexcept override { return loop_; }

  bool runs_here() const noexcept override {
    return loop_ >= 0 && shared_->loops && shared_->loops->current() == loop_;
  }

  bool loaded() const noexcept override {
    return loop_ >= 0
           && shared_->loops->backlog(static_cast<uint32_t>(loop_))
                  .load(std::memory_order_relaxed)
                > loaded_backlog;
  }

  void after_round(uint64_t tag) override {
    // At the end of the loop's busy stretch: what else the actors there
    // ready for this session meanwhile leaves with it. One call per
    // session and round carries all its tags (a function pointer and the
    // session: nothing allocated).
    round_end_tags_.push_back(tag);
    if (round_end_tags_.size() > 1)
      return;
    round_end_call report{[](void* s) {
                            static_cast<ws_session*>(s)->report_round_end();
                          },
                          this->shared_from_this()};
    if (loop_ >= 0)
      shared_->loops->at_round_end(static_cast<uint32_t>(loop_),
                                   std::move(report));
    else
      net::post(ws_.get_executor(), std::move(report));
  }

private:
  void report_round_end() {
    std::vector<uint64_t> tags;
    tags.swap(round_end_tags_);
    for (auto t : tags)
      if (events_)
        events_->on_written(t);
    // The buffer stays for the next round unless tags came meanwhile.
    if (round_end_tags_.empty()) {
      tags.clear();
      round_end_tags_.swap(tags);
    }
  }

  // The listener chose the codec from the offered subprotocols; the response
  // names it (and nothing if the client offered none).
  std::string echoed_subprotocol() const {
    if ((*req_)[http::field::sec_websocket_protocol].empty())
      return {};
    return std::string{protocol::subprotocol(info_.codec)};
  }

  void on_accept(beast::error_code ec) {
    handler_scope scope{shared_->loops};
    // The headers are not needed any more (about 1 KB per session).
    req_.reset();
    if (ec) {
      spdlog::info("handshake failed user={} device={} from {}: {}",
                   info_.user_id, info_.device_id, info_.remote_address,
                   ec.message());
      finished_ = true;
      return;
    }
    info_.deflate = deflate_negotiated_;
    // App-level compression only where permessage-deflate is off.
    if (info_.deflate)
      info_.compress = 0;
    accepted_ = true;
    // Until its connection actor attaches, this pending wait owns the
    // session (the actor holds a weak reference only) and bounds the wait.
    arm(timer_role::attach, shared_->params.handshake_timeout);
    shared_->metrics->connection_opened();
    spdlog::info("connected user={} device={} type={} session={} codec={} "
                 "deflate={} from {}",
                 info_.user_id, info_.device_id,
                 protocol::to_string(info_.type), info_.session_id,
                 protocol::to_string(info_.codec), info_.deflate,
                 info_.remote_address);
    shared_->hooks.open(this->shared_from_this());
  }

  void do_read() {
    if (finished_ || reading_)
      return;
    reading_ = true;
    ws_.async_read(buffer_, beast::bind_front_handler(
                              &ws_session::on_read, this->shared_from_this()));
  }

  // The close code a failed read ends the session with.
  uint16_t close_code_for(const beast::error_code& ec) const {
    if (local_close_)
      return local_close_;
    if (ec == websocket::error::closed)
      return ws_.reason().code == websocket::close_code::none
               ? uint16_t{1005}
               : static_cast<uint16_t>(ws_.reason().code);
    // Beast has sent the matching close frame for these.
    if (ec == websocket::error::message_too_big)
      return protocol::to_int(close_code::too_big);
    if (ec == websocket::error::bad_frame_payload)
      return protocol::to_int(close_code::invalid_payload);
    if (&ec.category()
        == &beast::error_code{websocket::error::bad_opcode}.category())
      return protocol::to_int(close_code::protocol_error);
    // Corrupt permessage-deflate data: the session writes the close frame
    // itself (finish() does).
    if (is_inflate_error(ec))
      return protocol::to_int(close_code::invalid_payload);
    return 1006;
  }

  void on_read(beast::error_code ec, size_t) {
    handler_scope scope{shared_->loops};
    reading_ = false;
    if (ec) {
      if (is_inflate_error(ec) && !local_close_)
        raw_close_ = protocol::to_int(close_code::invalid_payload);
      finish(close_code_for(ec));
      return;
    }
    auto binary = ws_.got_binary();
    auto bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.release();
    if (auto ev = events_) {
      inflight_.fetch_add(1);
      ev->on_frame(std::move(bytes), binary);
    }
    if (inflight_.load() >= read_high_mark) {
      paused_.store(true);
      // The actor may have drained meanwhile: whoever clears the flag reads.
      if (inflight_.load() <= read_low_mark && paused_.exchange(false))
        do_read();
      return;
    }
    do_read();
  }

  void enqueue(actors::shared_bytes bytes, bool binary, uint64_t tag) {
    if (finished_ || local_close_)
      return;
    queued_bytes_ += bytes->size();
    out_frame f{std::move(bytes), binary, tag};
    if (!head_.bytes)
      head_ = std::move(f);
    else
      queue_.push_back(std::move(f));
    if (queued_bytes_ > max_queued_bytes) {
      spdlog::warn("user={} device={}: {} bytes queued for a peer that does "
                   "not read; closing as slow consumer",
                   info_.user_id, info_.device_id, queued_bytes_);
      hard_close(protocol::to_int(close_code::slow_consumer));
      return;
    }
    if (!writing_)
      do_write();
  }

  void do_write() {
    if (!head_.bytes || finished_)
      return;
    writing_ = true;
    ws_.binary(head_.binary);
    ws_.async_write(net::buffer(*head_.bytes),
                    beast::bind_front_handler(&ws_session::on_write,
                                              this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    handler_scope scope{shared_->loops};
    writing_ = false;
    if (ec || finished_) {
      // The session ended while this frame was on its way.
      finish(local_close_ ? local_close_ : uint16_t{1006});
      drop_frames();
      if (raw_close_ && !raw_close_sent_ && !pinging_) {
        if (ec)
          linger();
        else
          send_raw_close();
      }
      return;
    }
    auto& f = head_;
    queued_bytes_ -= f.bytes->size();
    if (f.tag != 0 && events_) {
      // On a loaded loop the credit comes back at the end of the busy
      // stretch: until then the batcher gathers what arrives into one
      // frame (fan-out coalesces under load on one thread).
      if (loaded())
        after_round(f.tag);
      else
        events_->on_written(f.tag);
    }
    head_ = {};
    if (!queue_.empty()) {
      head_ = std::move(queue_.front());
      queue_.pop_front();
    }
    if (head_.bytes)
      do_write();
    else if (pending_close_)
      start_close();
  }

  void do_close(uint16_t code, const std::string& reason) {
    if (finished_ || local_close_)
      return;
    local_close_ = code;
    close_reason_ = reason;
    // A peer that does not answer the close (or does not even read) must not
    // hold the session: cut the TCP connection after close_timeout.
    arm(timer_role::close, shared_->params.close_timeout);
    // Let queued frames (e.g. the failed ack explaining the close) go first.
    if (writing_ || head_.bytes)
      pending_close_ = true;
    else
      start_close();
  }

  void start_close() {
    pending_close_ = false;
    websocket::close_reason cr{static_cast<websocket::close_code>(local_close_),
                               close_reason_};
    ws_.async_close(cr, [self = this->shared_from_this()](beast::error_code) {
      self->finish(self->local_close_);
    });
  }

  // Ends the TCP connection without a close handshake (a peer that does not
  // read would leave async_close queued behind the stuck write).
  void hard_close(uint16_t code) {
    local_close_ = code;
    close_transport(beast::get_lowest_layer(ws_));
    finish(code);
  }

  void finish(uint16_t code) {
    if (finished_)
      return;
    finished_ = true;
    close_code_ = code;
    timer_.cancel();
    // A frame (or ping) being written must end before a close frame of our
    // own; the deadline bounds it if the peer stopped reading.
    if (!raw_close_)
      linger();
    else if (!writing_ && !pinging_)
      send_raw_close();
    else
      deadline(shared_->params.close_timeout);
    if (accepted_) {
      shared_->metrics->connection_closed(code);
      spdlog::info("disconnected user={} device={} session={} code={}",
                   info_.user_id, info_.device_id, info_.session_id, code);
    }
    if (auto ev = std::move(events_))
      ev->on_closed(code);
    // A frame being written stays alive until its write completes.
    if (!writing_)
      drop_frames();
  }

  void drop_frames() {
    head_ = {};
    queue_.clear();
  }

  // Writes the close frame Beast did not (a failed stream sends nothing
  // more): FIN + opcode 8, unmasked, the code, no reason. Then lingers.
  void send_raw_close() {
    raw_close_sent_ = true;
    deadline(shared_->params.close_timeout);
    write_close_frame(ws_.next_layer(), raw_close_,
                      [self = this->shared_from_this()] { self->linger(); });
  }

  // Lingering close: stop sending, read and discard what the peer still sends
  // (bounded by close_timeout), then close. Closing a socket with unread
  // input makes the kernel send a reset that can destroy the close frame we
  // just sent (e.g. 1009 for a message that was too big).
  void linger() {
    if (!shutdown_send(beast::get_lowest_layer(ws_))) {
      end_transport();
      return;
    }
    deadline(shared_->params.close_timeout);
    drain_buffer_ = std::make_unique<char[]>(drain_bytes);
    drain();
  }

  void drain() {
    beast::get_lowest_layer(ws_).async_read_some(
      net::buffer(drain_buffer_.get(), drain_bytes),
      [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (!ec) {
          self->drain();
          return;
        }
        self->end_transport();
      });
  }

  // The last of the connection: closed, and the deadline no longer holds
  // the session.
  void end_transport() {
    close_transport(beast::get_lowest_layer(ws_));
    timer_.cancel();
  }

  // Bounds what is left of the connection (a write to a peer that stopped
  // reading, a lingering close): past it the transport closes, whatever is
  // pending on it.
  void deadline(std::chrono::milliseconds after) {
    arm(timer_role::deadline, after);
  }

  // -- liveness
  // -------------------------------------------------------------------

  // -- the session's timer
  // ------------------------------------------------------ One timer per
  // session (a steady_timer is ~100 bytes of every idle connection), in one
  // role at a time, in the order of a session's life: waiting for its
  // connection actor to attach, then the heartbeat (ping, pong), then the close
  // deadline. Arming a role replaces the one before; a wait that fires after
  // its role was replaced does nothing.
  enum class timer_role : uint8_t { attach, ping, pong, close, deadline };

  void arm(timer_role role, std::chrono::milliseconds after) {
    timer_role_ = role;
    timer_.expires_after(after);
    timer_.async_wait(
      [self = this->shared_from_this(), role](beast::error_code ec) {
        if (!ec && self->timer_role_ == role)
          self->on_timer(role);
      });
  }

  void on_timer(timer_role role) {
    switch (role) {
      case timer_role::attach:
        // Until its connection actor attaches, this wait owns the session.
        if (!events_ && !finished_) {
          spdlog::warn("session {}: no connection actor attached; closing",
                       info_.session_id);
          hard_close(protocol::to_int(close_code::internal_error));
        }
        return;
      case timer_role::ping:
        send_ping();
        return;
      case timer_role::pong:
        check_pong();
        return;
      case timer_role::close:
        if (!finished_)
          hard_close(local_close_);
        return;
      case timer_role::deadline:
        close_transport(beast::get_lowest_layer(ws_));
        return;
    }
  }

  void schedule_ping() { arm(timer_role::ping, shared_->params.ping_interval); }

  void send_ping() {
    if (finished_ || local_close_)
      return;
    // An idle session gives back its write queue's block (freed here, not
    // after every write: a busy session would allocate it per frame).
    if (queue_.empty())
      queue_.clear();
    ++ping_counter_;
    ping_sent_ = clock_type::now();
    awaiting_pong_ = true;
    char payload[8];
    std::memcpy(payload, &ping_counter_, sizeof(payload));
    pinging_ = true;
    ws_.async_ping(websocket::ping_data{payload, sizeof(payload)},
                   [self = this->shared_from_this()](beast::error_code ec) {
                     self->pinging_ = false;
                     if (ec)
                       self->finish(self->local_close_ ? self->local_close_
                                                       : uint16_t{1006});
                     // A close frame of our own waited for this ping.
                     if (self->raw_close_ && !self->raw_close_sent_
                         && !self->writing_) {
                       if (ec)
                         self->linger();
                       else
                         self->send_raw_close();
                     }
                   });
    arm(timer_role::pong, shared_->params.pong_timeout);
  }

  void check_pong() {
    if (finished_ || local_close_)
      return;
    if (awaiting_pong_) {
      spdlog::info("user={} device={}: no pong within {} ms; closing",
                   info_.user_id, info_.device_id,
                   shared_->params.pong_timeout.count());
      do_close(protocol::to_int(close_code::heartbeat_timeout),
               std::string{protocol::reason(close_code::heartbeat_timeout)});
      return;
    }
    arm(timer_role::ping,
        shared_->params.ping_interval - shared_->params.pong_timeout);
  }

  void on_control(websocket::frame_type kind, beast::string_view payload) {
    if (kind != websocket::frame_type::pong || !awaiting_pong_
        || payload.size() != sizeof(ping_counter_))
      return;
    uint64_t counter = 0;
    std::memcpy(&counter, payload.data(), sizeof(counter));
    if (counter != ping_counter_)
      return;
    awaiting_pong_ = false;
    auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
      clock_type::now() - ping_sent_);
    shared_->metrics->rtt(static_cast<uint64_t>(rtt.count()));
  }

  std::shared_ptr<server_shared> shared_;
  websocket::stream<Stream> ws_;
  net::steady_timer timer_;
  timer_role timer_role_ = timer_role::attach;
  lean_buffer buffer_;
  /// The upgrade request, until the handshake completed.
  std::unique_ptr<http::request<http::string_body>> req_;
  actors::session_info info_;
  int32_t loop_;
  std::shared_ptr<actors::session_events> events_;
  struct out_frame {
    actors::shared_bytes bytes;
    bool binary = false;
    uint64_t tag = 0;
  };
  /// The frame being written (or next), then the ones waiting behind it:
  /// a session that writes one frame at a time (the welcome, then a
  /// message now and then) never allocates the queue.
  out_frame head_;
  actors::lazy_deque<out_frame> queue_;
  size_t queued_bytes_ = 0;
  std::atomic<int> inflight_{0};
  /// Write credit and round ends to report at the end of the loop's busy
  /// stretch (after_round), in order.
  std::vector<uint64_t> round_end_tags_;
  std::atomic<bool> paused_{false};
  bool reading_ = false;
  bool writing_ = false;
  bool accepted_ = false;
  bool finished_ = false;
  bool deflate_negotiated_ = false;
  bool pending_close_ = false;
  uint16_t local_close_ = 0;
  /// A close code the session writes itself (Beast could not), and whether
  /// it did.
  uint16_t raw_close_ = 0;
  bool raw_close_sent_ = false;
  /// A ping is being written (Beast's write lock; our close frame waits).
  bool pinging_ = false;
  uint16_t close_code_ = 1006;
  std::string close_reason_;
  /// Only while lingering (an idle session does not need it).
  std::unique_ptr<char[]> drain_buffer_;
  uint64_t ping_counter_ = 0;
  bool awaiting_pong_ = false;
  clock_type::time_point ping_sent_;
};

} // namespace session_detail

using session_detail::ws_session;

} // namespace tether::runtime::detail

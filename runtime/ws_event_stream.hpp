#pragma once

// Internal to runtime/ws_listener.cpp: GET /api/v1/stream, the node's
// overview as server-sent events (SPEC §15) on a plain or TLS connection.
// Every interval the session asks the server API hook for
// /api/v1/overview and writes it as one `event: overview`; a reader that
// stops reading for stall_limit, or the node stopping, ends the stream.

#include "runtime/ws_detail.hpp"

namespace tether::runtime::detail {

template <class Stream>
class event_stream : public std::enable_shared_from_this<event_stream<Stream>> {
public:
  /// A reader not taking an event for this long is dropped.
  static constexpr std::chrono::seconds stall_limit{10};

  event_stream(std::shared_ptr<server_shared> shared, Stream stream,
               std::chrono::milliseconds interval)
    : shared_(std::move(shared)), stream_(std::move(stream)),
      timer_(stream_.get_executor()), interval_(interval) {
    ++shared_->streams;
  }

  ~event_stream() { --shared_->streams; }

  void run() {
    // Writes are watched by the stall limit instead of a deadline: the
    // read below is pending all the time.
    beast::get_lowest_layer(stream_).expires_never();
    watch_reads();
    tick();
  }

private:
  // The reader sends nothing after its request: a read ends when it closes.
  void watch_reads() {
    stream_.async_read_some(
      net::buffer(sink_),
      [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (ec) {
          self->end();
          return;
        }
        self->watch_reads();
      });
  }

  void tick() {
    if (ended_)
      return;
    if (shared_->stopping.load()) {
      end();
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (writing_) {
      if (now - write_started_ > stall_limit)
        end();
      else
        schedule();
      return;
    }
    shared_->hooks.api(
      "GET", "/api/v1/overview", "",
      [self = this->shared_from_this()](unsigned status, std::string body) {
        net::post(self->stream_.get_executor(), [self, status,
                                                 body = std::move(body)] {
          if (self->ended_)
            return;
          // The response's header goes with the first event.
          auto event = std::exchange(self->header_, {});
          event += status == 200 ? "event: overview\n" : "event: error\n";
          event.append("data: ").append(body).append("\n\n");
          self->write(std::move(event));
          self->schedule();
        });
      });
  }

  void schedule() {
    timer_.expires_after(interval_);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->tick();
    });
  }

  // Called only when no write is on its way (tick checks).
  void write(std::string bytes) {
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    out_ = std::move(bytes);
    net::async_write(stream_, net::buffer(out_),
                     [self = this->shared_from_this()](beast::error_code ec,
                                                       size_t) {
                       self->writing_ = false;
                       if (ec)
                         self->end();
                     });
  }

  void end() {
    if (ended_)
      return;
    ended_ = true;
    timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(
      tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  std::shared_ptr<server_shared> shared_;
  Stream stream_;
  net::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::array<char, 256> sink_{};
  std::string header_ = "HTTP/1.1 200 OK\r\n"
                        "Server: tether/" TETHER_VERSION "\r\n"
                        "Content-Type: text/event-stream\r\n"
                        "Cache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "Connection: close\r\n"
                        "\r\n"
                        "retry: 2000\n\n";
  std::string out_;
  bool writing_ = false;
  bool ended_ = false;
  std::chrono::steady_clock::time_point write_started_;
};

} // namespace tether::runtime::detail

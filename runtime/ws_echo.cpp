// The conformance echo route (server.echo_path, empty by default: off).
// Every message comes back as it was received (text as text, binary as
// binary), with the same Beast stream options as a device session, so that
// test/conformance/ can drive the WebSocket layer (framing, control frames,
// UTF-8, close handling, permessage-deflate, limits) case by case. No
// token, no actor: nothing here reaches the node's data.

#include "protocol/errc.hpp"
#include "runtime/ws_detail.hpp"

namespace tether::runtime::detail {

namespace {

template <class Stream>
class echo_session : public std::enable_shared_from_this<echo_session<Stream>> {
public:
  echo_session(std::shared_ptr<server_shared> shared, Stream stream)
    : shared_(std::move(shared)), ws_(std::move(stream)) {}

  void run(http::request<http::string_body> req) {
    auto& p = shared_->params;
    clear_deadline(beast::get_lowest_layer(ws_));
    // The device sessions' options; a test peer that went quiet is dropped
    // after the handshake time.
    set_server_options(ws_, p, p.handshake_timeout);
    req_ = std::move(req);
    ws_.async_accept(req_,
                     [self = this->shared_from_this()](beast::error_code ec) {
                       self->req_ = {};
                       if (!ec)
                         self->read();
                     });
  }

private:
  void read() {
    ws_.async_read(
      buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
        // As a device session does: corrupt deflate data gets a close frame.
        if (is_inflate_error(ec)) {
          beast::get_lowest_layer(self->ws_).expires_after(
            self->shared_->params.close_timeout);
          write_close_frame(
            self->ws_.next_layer(),
            protocol::to_int(protocol::close_code::invalid_payload),
            [self] { self->linger(); });
          return;
        }
        if (ec)
          return; // Beast answered the close or failed the connection
        self->ws_.text(self->ws_.got_text());
        self->ws_.async_write(self->buffer_.data(),
                              [self](beast::error_code ec, size_t) {
                                self->buffer_.consume(self->buffer_.size());
                                if (!ec)
                                  self->read();
                              });
      });
  }

  // Stop sending, read what the peer still sends (until the deadline), then
  // close: unread input would make the kernel reset the connection and
  // destroy the close frame just written.
  void linger() {
    if (!shutdown_send(beast::get_lowest_layer(ws_))) {
      close_transport(beast::get_lowest_layer(ws_));
      return;
    }
    beast::get_lowest_layer(ws_).async_read_some(
      net::buffer(drain_),
      [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (ec)
          close_transport(beast::get_lowest_layer(self->ws_));
        else
          self->linger();
      });
  }

  std::shared_ptr<server_shared> shared_;
  std::array<char, 512> drain_{};
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
};

template <class Stream>
void start(std::shared_ptr<server_shared> shared, Stream stream,
           http::request<http::string_body> req) {
  std::make_shared<echo_session<Stream>>(std::move(shared), std::move(stream))
    ->run(std::move(req));
}

} // namespace

void start_echo_session(std::shared_ptr<server_shared> shared,
                        beast::tcp_stream stream,
                        http::request<http::string_body> req) {
  start(std::move(shared), std::move(stream), std::move(req));
}

void start_echo_session(std::shared_ptr<server_shared> shared,
                        tls_stream stream,
                        http::request<http::string_body> req) {
  start(std::move(shared), std::move(stream), std::move(req));
}

} // namespace tether::runtime::detail

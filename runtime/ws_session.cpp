// The server side of one WebSocket connection (ws_detail_session.hpp),
// instantiated for plain and TLS connections.

#include "runtime/ws_detail_session.hpp"

namespace tether::runtime::detail {

namespace {

template <class Stream>
void start(std::shared_ptr<server_shared> shared, Stream stream,
           http::request<http::string_body> req, actors::session_info info) {
  auto session = std::make_shared<ws_session<Stream>>(
    std::move(shared), std::move(stream), std::move(info));
  session->run(std::move(req));
}

} // namespace

void start_ws_session(std::shared_ptr<server_shared> shared,
                      beast::tcp_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info) {
  // The session runs on the bare socket (about 500 bytes less per
  // connection than the stream, and no timer bookkeeping per read).
  start(std::move(shared), stream.release_socket(), std::move(req),
        std::move(info));
}

void start_ws_session(std::shared_ptr<server_shared> shared, tls_stream stream,
                      http::request<http::string_body> req,
                      actors::session_info info) {
  start(std::move(shared), std::move(stream), std::move(req), std::move(info));
}

} // namespace tether::runtime::detail

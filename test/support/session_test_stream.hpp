#pragma once

// The server WebSocket session (runtime/ws_detail_session.hpp) over Beast's
// in-memory test stream, for the session's test and its fuzz target: the
// transport operations of a session for that stream, found by the session
// template's unqualified calls, so this header comes before it.

#include <boost/beast/_experimental/test/stream.hpp>

#include "runtime/ws_detail.hpp"

namespace tether::runtime::detail {

using test_stream = beast::test::stream;

inline void clear_deadline(test_stream&) {}
inline bool shutdown_send(test_stream& s) {
  s.close();
  return false;
}
inline void close_transport(test_stream& s) {
  s.close();
}

} // namespace tether::runtime::detail

#include "runtime/ws_detail_session.hpp"

#pragma once

// A client's fast read of delivered messages (the simulated devices of
// `tether devices` and `tether bench`): one pass of rapidjson's SAX reader
// over a JSON frame that picks out the few fields a receiving device needs
// (id, seq, requiresAck, priority, the probe timestamp of the payload),
// without building a DOM or a mobile_message. It accepts only frames it can
// read completely: one MobileMessage or a BatchMessage of them, none of
// them a control message of the server, no tracked key given twice, every
// required envelope field present. Anything else (acks, heartbeats, control
// messages, malformed or odd frames) is left to protocol::decode, so the
// two readers never disagree on a frame both accept.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/model.hpp"

namespace tether::protocol {

/// What a receiving device reads of one delivered message.
struct received_view {
  std::string id;
  bool has_seq = false;
  uint64_t seq = 0;
  bool requires_ack = false;
  priority prio = priority::normal;
  /// The payload is an object whose first key is "t", an unsigned integer
  /// (make_probe_payload).
  bool has_probe = false;
  uint64_t probe = 0;
};

/// The scanner and its scratch: keeps its strings' capacity and the
/// reader's stack, so a steady stream of frames allocates nothing.
class delivery_scan {
public:
  delivery_scan();
  ~delivery_scan();

  delivery_scan(const delivery_scan&) = delete;
  delivery_scan& operator=(const delivery_scan&) = delete;

  /// Reads a JSON text frame of delivered messages; false if the frame is
  /// anything else or cannot be read (then size() is 0). Nesting beyond
  /// `max_depth` levels (the frame is level 1) stops the scan. Never
  /// throws.
  bool scan(std::string_view frame, size_t max_depth = 64);

  /// The messages of the last frame scanned, in frame order.
  size_t size() const noexcept { return count_; }
  const received_view& operator[](size_t i) const { return messages_[i]; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::vector<received_view> messages_;
  size_t count_ = 0;
};

} // namespace tether::protocol

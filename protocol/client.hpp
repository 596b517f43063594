#pragma once

// The device side of the protocol, for Tether's own clients (the simulated
// devices of `tether devices`/`tether bench`, `tether send`): the session
// target with resume, reading the server's welcome and gap notices, device
// acks, requests to the server, and the timestamped payloads used to
// measure latency.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/control.hpp"
#include "protocol/model.hpp"

namespace tether::protocol {

/// The upgrade target: `path`, plus `?resume=<token>&lastSeq=<n>` when a
/// resume token is known (§5.6).
std::string session_target(std::string_view path, std::string_view resume_token,
                           uint64_t last_seq);

/// Reads the payload of a `tether.welcome`; false if it is not one.
bool read_welcome(const raw_value& payload, welcome_info& out);

/// Reads the payload of a `tether.gap`; false if it is not one.
bool read_gap(const raw_value& payload, gap_info& out);

/// A device's cumulative delivery ack of every seq <= `seq`.
message_ack make_delivery_ack(uint64_t seq, int64_t now_ms);

/// A message from device `src` to the server (`destination.target: cloud`)
/// of `type` (e.g. tether.join) with a JSON payload text.
mobile_message make_request(const source_info& src, std::string id,
                            std::string type, std::string payload_json,
                            bool requires_ack, int64_t now_ms);

/// A payload `{"t":<t>,"pad":"..."}` of about `bytes` bytes: `t` is a
/// timestamp (the sender's intended send time, steady clock ns).
raw_value make_probe_payload(uint64_t t, size_t bytes);

/// Reads `t` of such a payload in either codec; false if it has none.
bool read_probe_time(const raw_value& payload, uint64_t& t);

} // namespace tether::protocol

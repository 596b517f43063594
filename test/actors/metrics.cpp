#define CAF_SUITE actors.metrics
#include <caf/test/unit_test.hpp>

#include "actors/metrics.hpp"

using namespace tether::actors;

namespace {

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

} // namespace

CAF_TEST(counters render in the prometheus text format) {
  node_metrics m;
  m.connection_opened();
  m.connection_opened();
  m.connection_closed(1000);
  m.connection_closed(4999);
  m.handshake_rejected(reject_reason::unauthorized);
  m.received(traffic_kind::message, 3, 300);
  m.sent(traffic_kind::ack, 1, 40);
  m.error(tether::protocol::errc::validation_error);
  m.error(tether::protocol::errc::node_unavailable); // the last code
  m.rtt(120);
  m.rtt(3000);
  auto text = m.render_prometheus();
  CAF_CHECK(contains(text, "# TYPE tether_connections gauge"));
  CAF_CHECK(contains(text, "tether_connections 0"));
  CAF_CHECK(contains(text, "tether_connections_total 2"));
  CAF_CHECK(
    contains(text, R"(tether_connections_closed_total{code="1000"} 1)"));
  CAF_CHECK(
    contains(text, R"(tether_connections_closed_total{code="other"} 1)"));
  CAF_CHECK(contains(
    text, R"(tether_handshakes_rejected_total{reason="unauthorized"} 1)"));
  CAF_CHECK(
    contains(text, R"(tether_messages_received_total{kind="message"} 3)"));
  CAF_CHECK(
    contains(text, R"(tether_bytes_received_total{kind="message"} 300)"));
  CAF_CHECK(contains(text, R"(tether_messages_sent_total{kind="ack"} 1)"));
  CAF_CHECK(
    contains(text, R"(tether_errors_total{code="VALIDATION_ERROR"} 1)"));
  CAF_CHECK(
    contains(text, R"(tether_errors_total{code="NODE_UNAVAILABLE"} 1)"));
  // Histogram buckets are cumulative.
  CAF_CHECK(contains(text, R"(tether_rtt_seconds_bucket{le="0.000100"} 0)"));
  CAF_CHECK(contains(text, R"(tether_rtt_seconds_bucket{le="0.000250"} 1)"));
  CAF_CHECK(contains(text, R"(tether_rtt_seconds_bucket{le="0.005000"} 2)"));
  CAF_CHECK(contains(text, R"(tether_rtt_seconds_bucket{le="+Inf"} 2)"));
  CAF_CHECK(contains(text, "tether_rtt_seconds_sum 0.003120"));
  CAF_CHECK(contains(text, "tether_rtt_seconds_count 2"));
}

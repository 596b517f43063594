#define CAF_SUITE actors.reconnect_policy
#include <caf/test/unit_test.hpp>

#include "actors/device/reconnect_policy.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

namespace {

reconnect_params params() {
  reconnect_params p;
  p.backoff.base = 100ms;
  p.backoff.cap = 1000ms;
  p.backoff.multiplier = 2;
  p.stable_link = 3000ms;
  return p;
}

// A link that ended before its welcome (a failed attempt to connect).
link_outcome dropped(std::chrono::milliseconds uptime = 10ms) {
  link_outcome o;
  o.kind = link_outcome::closed;
  o.close_code = 1006;
  o.uptime = uptime;
  return o;
}

// A link that was established and dropped `after` its welcome.
link_outcome established(std::chrono::milliseconds after) {
  auto o = dropped(after + 20ms);
  o.welcomed = true;
  o.since_welcome = after;
  return o;
}

} // namespace

CAF_TEST(a dropped link retries within a growing window capped at the cap) {
  reconnect_policy r{params()};
  // u = 0.999: the delay is just under each window: 100, 200, 400, 800, 1000.
  std::vector<int64_t> upper{99, 199, 399, 799, 999, 999};
  for (auto want : upper) {
    auto d = r.next(dropped(), 0.999);
    CAF_REQUIRE(d.retry);
    CAF_CHECK_EQUAL(d.delay.count(), want);
  }
  CAF_CHECK_EQUAL(r.attempts(), 6u);
}

CAF_TEST(full jitter spreads the delays over the whole window) {
  reconnect_policy r{params()};
  CAF_CHECK_EQUAL(r.next(dropped(), 0.0).delay.count(), 0);
  CAF_CHECK_EQUAL(r.next(dropped(), 0.5).delay.count(), 100);
  CAF_CHECK_EQUAL(r.next(dropped(), 0.25).delay.count(), 100);
}

CAF_TEST(an established link resets the attempts) {
  reconnect_policy r{params()};
  for (int i = 0; i < 4; ++i)
    r.next(dropped(), 0.5);
  CAF_CHECK_EQUAL(r.attempts(), 4u);
  // Up 3 s after its welcome (a flaky network drops it then): the next
  // attempt starts from the base window again, as the shipped clients do.
  auto d = r.next(established(3000ms), 0.999);
  CAF_CHECK_EQUAL(d.delay.count(), 99);
  CAF_CHECK_EQUAL(r.attempts(), 1u);
  // Six drops a minute, each after a welcome: never past the base window.
  for (int i = 0; i < 20; ++i)
    CAF_CHECK_EQUAL(r.next(established(10000ms), 0.999).delay.count(), 99);
}

CAF_TEST(a link that is long but never welcomed is a failed attempt) {
  reconnect_policy r{params()};
  for (int i = 0; i < 3; ++i)
    r.next(dropped(60000ms), 0.5);
  CAF_CHECK_EQUAL(r.attempts(), 3u);
  CAF_CHECK_EQUAL(r.next(dropped(60000ms), 0.999).delay.count(), 799);
}

CAF_TEST(a crash loop right after the welcome still backs off to the cap) {
  reconnect_policy r{params()};
  // Welcomed, then dropped within the stable time: each counts as a
  // failure, so a server that accepts and drops at once is not hammered.
  std::vector<int64_t> upper{99, 199, 399, 799, 999, 999, 999};
  for (auto want : upper) {
    auto d = r.next(established(500ms), 0.999);
    CAF_REQUIRE(d.retry);
    CAF_CHECK_EQUAL(d.delay.count(), want);
  }
  // One link that lasts: back to the base.
  CAF_CHECK_EQUAL(r.next(established(3000ms), 0.999).delay.count(), 99);
}

CAF_TEST(terminal close codes are never retried) {
  // 4501 (token expired) needs a new token first: not retried blindly.
  for (uint16_t code : {1002, 1003, 1007, 1008, 4500, 4501, 4999}) {
    reconnect_policy r{params()};
    link_outcome o = dropped();
    o.close_code = code;
    auto d = r.next(o, 0.5);
    CAF_CHECK(!d.retry);
    CAF_CHECK(d.why.find(std::to_string(code)) != std::string::npos);
  }
  for (uint16_t code : {1000, 1001, 1006, 1009, 1011, 4000, 4002}) {
    reconnect_policy r{params()};
    link_outcome o = dropped();
    o.close_code = code;
    CAF_CHECK(r.next(o, 0.5).retry);
  }
}

CAF_TEST(final HTTP refusals stop and overload honours Retry - After) {
  reconnect_policy r{params()};
  link_outcome o;
  o.kind = link_outcome::refused;
  for (int32_t s : {400, 401, 403, 404, 426}) {
    o.http_status = s;
    CAF_CHECK(!r.next(o, 0.5).retry);
  }
  o.http_status = 503;
  o.retry_after = 3000ms;
  auto d = r.next(o, 0.5);
  CAF_REQUIRE(d.retry);
  // Longer than the backoff would wait, and longer than the cap.
  CAF_CHECK_EQUAL(d.delay.count(), 3000);
  o.http_status = 0; // no answer at all: plain backoff
  o.retry_after = 0ms;
  d = r.next(o, 0.5);
  CAF_CHECK(d.retry);
  CAF_CHECK(d.delay <= 1000ms);
}

CAF_TEST(background returns after its period without counting a failure) {
  reconnect_policy r{params()};
  r.next(dropped(), 0.5);
  r.next(dropped(), 0.5);
  link_outcome o;
  o.kind = link_outcome::background;
  o.retry_after = 2000ms;
  auto d = r.next(o, 0.9);
  CAF_CHECK(d.retry);
  CAF_CHECK_EQUAL(d.delay.count(), 2000);
  CAF_CHECK_EQUAL(r.attempts(), 0u);
}

CAF_TEST(max attempts gives up) {
  auto p = params();
  p.backoff.max_attempts = 2;
  reconnect_policy r{p};
  CAF_CHECK(r.next(dropped(), 0.5).retry);
  CAF_CHECK(r.next(dropped(), 0.5).retry);
  auto d = r.next(dropped(), 0.5);
  CAF_CHECK(!d.retry);
  CAF_CHECK_EQUAL(d.why, "gave up after 2 attempts");
}

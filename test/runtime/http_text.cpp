#define CAF_SUITE runtime.http_text
#include <caf/test/unit_test.hpp>

#include "protocol/validate.hpp"
#include "runtime/http_text.hpp"

using namespace tether::runtime;
using namespace std::chrono_literals;

CAF_TEST(error bodies are json whatever the message holds) {
  CAF_CHECK_EQUAL(
    json_error("bad_request", "malformed HTTP request"),
    R"({"error":"bad_request","message":"malformed HTTP request"})");
  CAF_CHECK_EQUAL(json_error("x", "a\"b\\c\n\x01"),
                  R"({"error":"x","message":"a\"b\\c\u000a\u0001"})");
  // UTF-8 passes; bytes that are not UTF-8 never reach the answer.
  CAF_CHECK_EQUAL(json_error("x", "caf\xc3\xa9"),
                  "{\"error\":\"x\",\"message\":\"caf\xc3\xa9\"}");
  auto bad = json_error("x", "room '\xff\xfe' and caf\xc3\xa9");
  CAF_CHECK(tether::protocol::valid_utf8(bad));
  CAF_CHECK_EQUAL(bad, R"({"error":"x","message":"room '??' and caf??"})");
}

CAF_TEST(secrets compare by every byte) {
  CAF_CHECK(same_secret("k3y-0123456789abcdef", "k3y-0123456789abcdef"));
  CAF_CHECK(!same_secret("k3y-0123456789abcdeX", "k3y-0123456789abcdef"));
  CAF_CHECK(!same_secret("k3y-0123456789abcde", "k3y-0123456789abcdef"));
  CAF_CHECK(!same_secret("k3y-0123456789abcdefg", "k3y-0123456789abcdef"));
  CAF_CHECK(!same_secret("", "k3y-0123456789abcdef"));
}

CAF_TEST(the stream interval is 250 to 60000 ms) {
  CAF_CHECK_EQUAL(stream_interval("").count(), 1000);
  CAF_CHECK_EQUAL(stream_interval("a=1&interval=250").count(), 250);
  CAF_CHECK_EQUAL(stream_interval("interval=60000").count(), 60000);
  for (auto q : {"interval=249", "interval=60001", "interval=", "interval=1e3",
                 "interval=-5", "interval=9999999", "interval=\xff"})
    CAF_CHECK_EQUAL(stream_interval(q).count(), 0);
}

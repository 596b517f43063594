#define CAF_SUITE runtime.push_http
#include <caf/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "runtime/push_http.hpp"
#include "test/support/push_provider.hpp"

using namespace tether;
using namespace tether::runtime;
using namespace std::chrono_literals;

namespace {

// Answers collected from the client's thread.
struct answers {
  std::mutex mx;
  std::condition_variable cv;
  std::vector<http_answer> got;

  std::function<void(http_answer)> sink() {
    return [this](http_answer a) {
      std::lock_guard<std::mutex> guard{mx};
      got.push_back(std::move(a));
      cv.notify_all();
    };
  }

  bool wait(size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock<std::mutex> guard{mx};
    return cv.wait_for(guard, limit, [&] { return got.size() >= n; });
  }
};

http_post post(const std::string& url, std::string body = R"({"a":1})") {
  http_post p;
  p.url = url;
  p.headers = {"content-type: application/json", "x-test: 1"};
  p.body = std::move(body);
  return p;
}

} // namespace

CAF_TEST(posts go over one reused HTTP / 2 connection with checked TLS) {
  test::push_provider srv;
  CAF_REQUIRE(srv.port() != 0);
  push_http::options o;
  o.ca_file = srv.cert();
  push_http client{o};
  answers a;
  client.post(post(srv.url("/ok")), a.sink());
  CAF_REQUIRE(a.wait(1));
  for (int i = 0; i < 4; ++i)
    client.post(post(srv.url("/ok"), "{\"n\":" + std::to_string(i) + "}"),
                a.sink());
  CAF_REQUIRE(a.wait(5));
  for (auto& x : a.got) {
    CAF_CHECK_EQUAL(x.status, 200);
    CAF_CHECK_EQUAL(x.version, 2);
    CAF_CHECK_EQUAL(x.body, R"({"ok":true})");
    CAF_CHECK(x.error.empty());
  }
  auto reqs = srv.requests(5, 10s);
  CAF_REQUIRE_EQUAL(reqs.size(), 5u);
  for (auto& r : reqs) {
    CAF_CHECK(r.find(R"("session":1)") != std::string::npos);
    CAF_CHECK(r.find(R"("version":"2.0")") != std::string::npos);
    CAF_CHECK(r.find(R"("method":"POST")") != std::string::npos);
    CAF_CHECK(r.find(R"("x-test":"1")") != std::string::npos);
    CAF_CHECK(r.find(R"("content-type":"application/json")")
              != std::string::npos);
  }
  CAF_CHECK(reqs[0].find(R"("body":"{\"a\":1}")") != std::string::npos);
  CAF_CHECK_EQUAL(client.in_flight(), 0u);
}

CAF_TEST(an untrusted certificate is refused) {
  test::push_provider srv;
  CAF_REQUIRE(srv.port() != 0);
  push_http client{push_http::options{}}; // the system's CAs only
  answers a;
  client.post(post(srv.url("/ok")), a.sink());
  CAF_REQUIRE(a.wait(1));
  CAF_CHECK_EQUAL(a.got[0].status, 0);
  CAF_MESSAGE("error: " << a.got[0].error);
  CAF_CHECK(!a.got[0].error.empty());
  CAF_CHECK(srv.requests(1, 1s).empty());
}

CAF_TEST(the status the retry after and a capped body come back) {
  test::push_provider srv;
  CAF_REQUIRE(srv.port() != 0);
  push_http::options o;
  o.ca_file = srv.cert();
  o.max_body = 1000;
  push_http client{o};
  answers a;
  client.post(post(srv.url("/retry")), a.sink());
  CAF_REQUIRE(a.wait(1));
  client.post(post(srv.url("/gone")), a.sink());
  CAF_REQUIRE(a.wait(2));
  client.post(post(srv.url("/big")), a.sink());
  CAF_REQUIRE(a.wait(3));
  CAF_CHECK_EQUAL(a.got[0].status, 429);
  CAF_CHECK_EQUAL(a.got[0].retry_after, "7");
  CAF_CHECK_EQUAL(a.got[1].status, 410);
  CAF_CHECK_EQUAL(a.got[1].body, R"({"reason":"Unregistered"})");
  CAF_CHECK(a.got[1].retry_after.empty());
  CAF_CHECK_EQUAL(a.got[2].status, 200);
  CAF_CHECK_EQUAL(a.got[2].body.size(), 1000u);
}

CAF_TEST(a provider that hangs times out without holding the others) {
  test::push_provider srv;
  CAF_REQUIRE(srv.port() != 0);
  push_http::options o;
  o.ca_file = srv.cert();
  o.timeout = 1500ms;
  push_http client{o};
  answers a;
  auto started = std::chrono::steady_clock::now();
  client.post(post(srv.url("/hang")), a.sink());
  client.post(post(srv.url("/ok")), a.sink());
  CAF_REQUIRE(a.wait(1, 5s));
  // The answered one first, long before the timeout.
  CAF_CHECK_EQUAL(a.got[0].status, 200);
  CAF_CHECK(std::chrono::steady_clock::now() - started < 1400ms);
  CAF_REQUIRE(a.wait(2, 10s));
  auto took = std::chrono::steady_clock::now() - started;
  CAF_CHECK_EQUAL(a.got[1].status, 0);
  CAF_MESSAGE(
    "hanging request: "
    << a.got[1].error << " after "
    << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
    << " ms");
  CAF_CHECK(!a.got[1].error.empty());
  CAF_CHECK(took >= 1400ms);
}

CAF_TEST(plain http speaks HTTP 1.1 and pending requests end when stopped) {
  test::push_provider srv{true};
  CAF_REQUIRE(srv.port() != 0);
  answers a;
  {
    push_http client{push_http::options{}};
    client.post(post(srv.url("/ok", false)), a.sink());
    CAF_REQUIRE(a.wait(1));
    CAF_CHECK_EQUAL(a.got[0].status, 200);
    CAF_CHECK_EQUAL(a.got[0].version, 1);
    client.post(post(srv.url("/hang", false)), a.sink());
    CAF_CHECK(!srv.requests(2, 10s).empty());
  } // the client stops with the request pending
  CAF_REQUIRE(a.wait(2, 1s));
  CAF_CHECK_EQUAL(a.got[1].error, "stopped");
  // Not http or https: refused by the client itself.
  push_http client{push_http::options{}};
  client.post(post("file:///etc/passwd"), a.sink());
  client.post(post("gopher://127.0.0.1:" + std::to_string(srv.port())),
              a.sink());
  CAF_REQUIRE(a.wait(4));
  CAF_CHECK_EQUAL(a.got[2].status, 0);
  CAF_CHECK_EQUAL(a.got[3].status, 0);
  CAF_CHECK(!a.got[2].error.empty());
}

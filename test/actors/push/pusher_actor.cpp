#define CAF_SUITE actors.pusher_actor
#include "test/support/actor_fixture.hpp"

#include "actors/push/pusher_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "protocol/base64.hpp"
#include "test/support/keys.hpp"

using namespace tether;
using namespace tether::actors;

namespace {

// A transport that answers every post at once (200, or what `answer`
// says for its URL) and keeps what it got.
class recording_transport : public push_transport {
public:
  std::vector<push_post> posts;
  std::function<push_answer(const push_post&)> answer;

  void post(push_post p, std::function<void(push_answer)> done) override {
    push_answer a;
    a.status = 200;
    a.version = 2;
    if (answer)
      a = answer(p);
    posts.push_back(std::move(p));
    done(std::move(a));
  }
};

protocol::private_key new_p256_key() {
  std::string why;
  return protocol::private_key::read(test::new_key_pem("EC", "P-256", 0), why);
}

std::string bearer(const push_post& p) {
  for (auto& h : p.headers)
    if (h.rfind("authorization: bearer ", 0) == 0)
      return h.substr(22);
  return {};
}

// The iat claim of a provider token.
int64_t iat_of(const std::string& jwt) {
  auto claims
    = protocol::base64url_decode(
        jwt.substr(jwt.find('.') + 1, jwt.rfind('.') - jwt.find('.') - 1))
        .value_or("");
  auto at = claims.find("\"iat\":");
  return at == std::string::npos ? 0 : std::stoll(claims.substr(at + 6));
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(pusher_tests, test::fixture_base)

CAF_TEST(the apns provider token is kept and renewed before it expires) {
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  auto store_handle = sys.spawn(store, log, metrics, store_params{});
  protocol::push_address address{protocol::push_provider::apns,
                                 "00aa11bb22cc33dd", "com.example.app", false};
  self->send(store_handle, atom::push_v, atom::append_v, std::string{"alice"},
             std::string{"phone"}, address);
  sched.run();
  self->receive([](atom::ok) {});
  auto transport = std::make_shared<recording_transport>();
  pusher_params params;
  params.apns.key = new_p256_key();
  CAF_REQUIRE(params.apns.key);
  params.apns.key_id = "KEYID12345";
  params.apns.team_id = "TEAM123456";
  params.test_clock_skew = std::make_shared<std::atomic<int64_t>>(0);
  auto skew = params.test_clock_skew;
  auto pusher = sys.spawn(actors::pusher, transport, store_handle, metrics,
                          params);
  auto push = [&] {
    push_request r;
    r.user_id = "alice";
    r.device_id = "phone";
    r.message_ids = {"m1"};
    r.top = 2;
    r.count = 1;
    self->send(pusher, atom::push_v, r);
    sched.run();
  };
  push();
  push();
  CAF_REQUIRE_EQUAL(transport->posts.size(), 2u);
  auto first = bearer(transport->posts[0]);
  CAF_REQUIRE(!first.empty());
  // Within its life the same token is used again (Apple refuses renewals
  // more often than every 20 minutes).
  CAF_CHECK_EQUAL(bearer(transport->posts[1]), first);
  skew->store(49 * 60 * 1000);
  push();
  CAF_CHECK_EQUAL(bearer(transport->posts[2]), first);
  // Past 50 minutes (Apple takes a token for an hour): a new one, issued
  // now.
  skew->store(51 * 60 * 1000);
  push();
  CAF_REQUIRE_EQUAL(transport->posts.size(), 4u);
  auto renewed = bearer(transport->posts[3]);
  CAF_CHECK_NOT_EQUAL(renewed, first);
  CAF_CHECK_EQUAL(iat_of(renewed) - iat_of(first), 51 * 60);
  CAF_CHECK_EQUAL(metrics->pushes(0, push_outcome::sent), 4u);
  anon_send_exit(pusher, caf::exit_reason::user_shutdown);
  anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
}

CAF_TEST(a token endpoint that refuses the account fails the push at once) {
  // Its 401 is not FCM's (a stale access token, bought again at once): the
  // account's assertion was refused, and would be again.
  test::temp_dir dir;
  auto log = std::make_shared<durable_log>(dir.path() + "/tether.db");
  auto metrics = std::make_shared<node_metrics>();
  auto store_handle = sys.spawn(store, log, metrics, store_params{});
  protocol::push_address address{protocol::push_provider::fcm, "tok-1", "",
                                 false};
  self->send(store_handle, atom::push_v, atom::append_v, std::string{"alice"},
             std::string{"phone"}, address);
  sched.run();
  self->receive([](atom::ok) {});
  auto transport = std::make_shared<recording_transport>();
  transport->answer = [](const push_post& p) {
    push_answer a;
    a.status = p.url == "https://oauth.test/token" ? 401 : 200;
    a.body = R"({"error":"invalid_client"})";
    return a;
  };
  std::string why;
  pusher_params params;
  params.fcm.key
    = protocol::private_key::read(test::new_key_pem("RSA", nullptr, 2048), why);
  CAF_REQUIRE(params.fcm.key);
  params.fcm.account = {"p1", "svc@p1.iam.gserviceaccount.com", "",
                        "https://oauth.test/token"};
  auto pusher = sys.spawn(actors::pusher, transport, store_handle, metrics,
                          params);
  push_request r;
  r.user_id = "alice";
  r.device_id = "phone";
  r.count = 1;
  self->send(pusher, atom::push_v, r);
  sched.run();
  CAF_CHECK_EQUAL(transport->posts.size(), 1u); // asked once, not again
  CAF_CHECK_EQUAL(metrics->pushes(1, push_outcome::failed), 1u);
  CAF_CHECK_EQUAL(metrics->pushes(1, push_outcome::retried), 0u);
  anon_send_exit(pusher, caf::exit_reason::user_shutdown);
  anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

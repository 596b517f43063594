#include "actors/push/pusher_actor.hpp"

#include <algorithm>
#include <cctype>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "protocol/push.hpp"

namespace tether::actors {

namespace {

using self_ptr = pusher_actor::stateful_pointer<pusher_state>;

uint8_t provider_slot(protocol::push_provider p) {
  return static_cast<uint8_t>(p);
}

constexpr int64_t apns_token_life_ms = 50 * 60 * 1000; // Apple: <= 1 h
constexpr int64_t fcm_token_margin_ms = 5 * 60 * 1000;
constexpr int64_t apns_expiration_s = 24 * 3600;

void settle(self_ptr self, uint64_t id, protocol::push_verdict verdict,
            const push_answer& a);

protocol::push_notice notice_of(const pusher_state::pending& p) {
  protocol::push_notice n;
  n.user_id = p.request.user_id;
  n.device_id = p.request.device_id;
  n.address = p.address;
  n.message_ids = p.request.message_ids;
  n.top = static_cast<protocol::priority>(std::min<uint8_t>(p.request.top, 3));
  n.count = p.request.count;
  if (p.request.has_notification)
    n.notification = protocol::notification_info{p.request.title,
                                                 p.request.body};
  return n;
}

push_post post_of(const std::string& base, protocol::provider_request r) {
  push_post out;
  out.url = base + r.path;
  out.headers = {"Content-Type: application/json"};
  for (auto& h : r.headers)
    out.headers.push_back(std::move(h));
  out.body = std::move(r.body);
  return out;
}

// Asks the token endpoint for an FCM access token (once at a time).
void ask_fcm_token(self_ptr self) {
  auto& st = self->state;
  if (st.fcm_asking)
    return;
  st.fcm_asking = true;
  auto& f = st.params.fcm;
  auto url = f.token_url.empty() ? f.account.token_uri : f.token_url;
  push_post post;
  post.url = url;
  post.headers = {"Content-Type: application/x-www-form-urlencoded"};
  post.body = protocol::google_token_request(protocol::google_assertion(
    f.key, f.account.client_email, f.account.token_uri, wall_ms(self) / 1000));
  auto me = caf::actor_cast<pusher_actor>(self);
  st.transport->post(std::move(post), [me](push_answer a) {
    caf::anon_send(me, atom::push_v, atom::ack_v, std::move(a));
  });
}

// The post of `id` as its provider wants it now (fresh credentials and
// signature); false if it must wait (for FCM's access token).
bool make_post(self_ptr self, uint64_t id, const pusher_state::pending& p,
               push_post& out) {
  auto& st = self->state;
  auto now = wall_ms(self);
  auto notice = notice_of(p);
  switch (p.address.provider) {
    case protocol::push_provider::webhook: {
      auto body = protocol::webhook_body(notice);
      auto signature = protocol::webhook_signature(st.params.webhook_secret,
                                                   now / 1000, body);
      out
        = post_of(st.params.webhook_url,
                  {"", {"X-Tether-Signature: " + signature}, std::move(body)});
      return true;
    }
    case protocol::push_provider::apns: {
      auto& a = st.params.apns;
      if (st.apns_token.empty()
          || now - st.apns_token_ms >= apns_token_life_ms) {
        st.apns_token = protocol::apns_provider_token(a.key, a.key_id,
                                                      a.team_id, now / 1000);
        st.apns_token_ms = now;
      }
      out = post_of(p.address.sandbox ? a.sandbox_url : a.url,
                    protocol::apns_request(notice, a.topic, st.apns_token,
                                           now / 1000 + apns_expiration_s));
      return true;
    }
    case protocol::push_provider::fcm:
      if (st.fcm_token.empty() || now >= st.fcm_token_until_ms) {
        st.fcm_waiting.push_back(id);
        ask_fcm_token(self);
        return false;
      }
      out = post_of(st.params.fcm.url,
                    protocol::fcm_request(
                      notice, st.params.fcm.account.project_id, st.fcm_token));
      return true;
  }
  return false;
}

// Posts (or posts again) the request of `id`; its answer comes back as a
// message to this actor.
void send_post(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.posts.find(id);
  if (i == st.posts.end())
    return;
  push_post post;
  if (!make_post(self, id, i->second, post))
    return;
  auto me = caf::actor_cast<pusher_actor>(self);
  st.transport->post(std::move(post), [me, id](push_answer a) {
    caf::anon_send(me, atom::push_v, atom::ack_v, id, std::move(a));
  });
}

// The token endpoint answered: the waiting posts go (or, without a token,
// take the endpoint's answer as theirs: retried or failed).
void on_fcm_token(self_ptr self, const push_answer& a) {
  auto& st = self->state;
  st.fcm_asking = false;
  std::string token;
  int64_t expires_in = 0;
  auto waiting = std::move(st.fcm_waiting);
  st.fcm_waiting.clear();
  if (a.status >= 200 && a.status < 300
      && protocol::read_access_token(a.body, token, expires_in)) {
    st.fcm_token = std::move(token);
    st.fcm_token_until_ms
      = wall_ms(self)
        + std::max<int64_t>(expires_in * 1000 - fcm_token_margin_ms,
                            expires_in * 500);
    for (auto id : waiting)
      send_post(self, id);
    return;
  }
  spdlog::warn("push: the FCM token endpoint answered {}{}", a.status,
               a.error.empty() ? " " + a.body.substr(0, 200)
                               : " (" + a.error + ")");
  // Its answer stands for theirs: none, 429, 5xx or a 2xx without a token
  // (a broken answer) retried after a backoff; a refusal (the account's
  // key or assertion) failed: asking again at once would be refused again.
  // (Judged as a plain HTTP answer: the webhook's rules.)
  auto verdict = protocol::judge_answer(protocol::push_provider::webhook,
                                        a.status, a.body);
  verdict = verdict == protocol::push_verdict::retry
                || verdict == protocol::push_verdict::sent
              ? protocol::push_verdict::retry
              : protocol::push_verdict::failed;
  for (auto id : waiting)
    settle(self, id, verdict, a);
}

void on_addresses(self_ptr self, const push_request& r,
                  std::vector<protocol::push_address>& addresses) {
  auto& st = self->state;
  for (auto& a : addresses) {
    auto configured = false;
    switch (a.provider) {
      case protocol::push_provider::webhook:
        configured = !st.params.webhook_url.empty();
        break;
      case protocol::push_provider::apns:
        configured = static_cast<bool>(st.params.apns.key);
        break;
      case protocol::push_provider::fcm:
        configured = static_cast<bool>(st.params.fcm.key);
        break;
    }
    if (!configured) {
      st.metrics->push_ended(provider_slot(a.provider),
                             push_outcome::unconfigured);
      spdlog::debug("push: no {} settings on this node for user={} device={}",
                    protocol::to_string(a.provider), r.user_id, r.device_id);
      continue;
    }
    auto id = st.next_id++;
    st.posts.emplace(id, pusher_state::pending{r, a, 0});
    send_post(self, id);
  }
}

// What becomes of the post of `id` by `verdict` on answer `a`.
void settle(self_ptr self, uint64_t id, protocol::push_verdict verdict,
            const push_answer& a) {
  auto& st = self->state;
  auto i = st.posts.find(id);
  if (i == st.posts.end())
    return;
  auto& p = i->second;
  auto slot = provider_slot(p.address.provider);
  switch (verdict) {
    case protocol::push_verdict::sent:
      st.metrics->push_ended(slot, push_outcome::sent);
      st.posts.erase(i);
      return;
    case protocol::push_verdict::dead:
      // The provider says the token is dead: the address goes (if the
      // device has not registered another meanwhile).
      st.metrics->push_ended(slot, push_outcome::dead);
      self->send(st.store, atom::push_v, atom::dead_v, p.request.user_id,
                 p.request.device_id, p.address);
      st.posts.erase(i);
      return;
    case protocol::push_verdict::renew:
      if (p.address.provider == protocol::push_provider::apns)
        st.apns_token.clear();
      else
        st.fcm_token.clear();
      break;
    case protocol::push_verdict::retry:
    case protocol::push_verdict::failed:
      break;
  }
  if (verdict != protocol::push_verdict::failed
      && p.attempt < st.params.max_retries) {
    ++p.attempt;
    st.metrics->push_ended(slot, push_outcome::retried);
    // A renewed credential is tried at once; the rest wait their backoff.
    auto wait = verdict == protocol::push_verdict::renew
                  ? std::chrono::milliseconds{0}
                  : push_backoff(p.attempt, a.retry_after);
    spdlog::info("push: {} for user={} device={} answered {}{}; try {} in "
                 "{} ms",
                 protocol::to_string(p.address.provider), p.request.user_id,
                 p.request.device_id, a.status,
                 a.error.empty() ? "" : " (" + a.error + ")", p.attempt + 1,
                 wait.count());
    if (wait.count() == 0)
      send_post(self, id);
    else
      self->delayed_send(self, wait, atom::push_v, atom::tick_v, id);
    return;
  }
  st.metrics->push_ended(slot, push_outcome::failed);
  spdlog::warn("push: {} for user={} device={} failed: {} {}",
               protocol::to_string(p.address.provider), p.request.user_id,
               p.request.device_id, a.status,
               a.error.empty() ? a.body.substr(0, 200) : a.error);
  st.posts.erase(i);
}

} // namespace

std::chrono::milliseconds push_backoff(uint32_t attempt,
                                       const std::string& retry_after) {
  using std::chrono::milliseconds;
  if (!retry_after.empty() && retry_after.size() <= 6
      && std::all_of(retry_after.begin(), retry_after.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c));
         }))
    return std::min(milliseconds{std::stoll(retry_after) * 1000},
                    milliseconds{3600 * 1000});
  auto shift = std::min<uint32_t>(attempt > 0 ? attempt - 1 : 0, 20);
  return std::min(milliseconds{1000LL << shift}, milliseconds{300 * 1000});
}

pusher_actor::behavior_type
pusher(pusher_actor::stateful_pointer<pusher_state> self,
       std::shared_ptr<push_transport> transport, store_actor store,
       std::shared_ptr<node_metrics> metrics, pusher_params params) {
  auto& st = self->state;
  st.transport = std::move(transport);
  st.store = std::move(store);
  st.metrics = std::move(metrics);
  st.params = std::move(params);
  st.clock = wall_clock{self->clock().now(), st.params.test_clock_skew};
  return {
    [=](atom::push, push_request& r) {
      auto& st = self->state;
      self
        ->request(st.store, caf::infinite, atom::push_v, atom::get_v, r.user_id,
                  r.device_id)
        .then(
          [self, r](std::vector<protocol::push_address>& addresses) {
            on_addresses(self, r, addresses);
          },
          [r](caf::error& err) {
            spdlog::error("push: cannot read the addresses of user={} "
                          "device={}: {}",
                          r.user_id, r.device_id, caf::to_string(err));
          });
    },
    [=](atom::push, atom::ack, uint64_t id, const push_answer& a) {
      auto& st = self->state;
      if (auto i = st.posts.find(id); i != st.posts.end())
        settle(self, id,
               protocol::judge_answer(i->second.address.provider, a.status,
                                      a.body),
               a);
    },
    [=](atom::push, atom::ack, const push_answer& a) { on_fcm_token(self, a); },
    [=](atom::push, atom::tick, uint64_t id) { send_post(self, id); },
  };
}

} // namespace tether::actors

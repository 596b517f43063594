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

// Posts (or posts again) the request of `id`; its answer comes back as a
// message to this actor.
void send_post(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.posts.find(id);
  if (i == st.posts.end())
    return;
  auto me = caf::actor_cast<pusher_actor>(self);
  st.transport->post(i->second.post, [me, id](push_answer a) {
    caf::anon_send(me, atom::push_v, atom::ack_v, id, std::move(a));
  });
}

// Builds the provider's request for one address; false if this node has no
// settings for that provider.
bool make_post(self_ptr self, const push_request& r,
               const protocol::push_address& a, push_post& out) {
  auto& p = self->state.params;
  switch (a.provider) {
    case protocol::push_provider::webhook: {
      if (p.webhook_url.empty())
        return false;
      protocol::webhook_push w;
      w.user_id = r.user_id;
      w.device_id = r.device_id;
      w.token = a.token;
      w.message_ids = r.message_ids;
      w.top = static_cast<protocol::priority>(std::min<uint8_t>(r.top, 3));
      w.count = r.count;
      out.url = p.webhook_url;
      out.body = protocol::webhook_body(w);
      auto now_s = wall_ms(self) / 1000;
      out.headers
        = {"Content-Type: application/json",
           "X-Tether-Signature: "
             + protocol::webhook_signature(p.webhook_secret, now_s, out.body)};
      return true;
    }
    case protocol::push_provider::apns:
    case protocol::push_provider::fcm:
      // Their clients (JWT-signed HTTP/2) are the next part of issue 22.
      return false;
  }
  return false;
}

void on_addresses(self_ptr self, const push_request& r,
                  std::vector<protocol::push_address>& addresses) {
  auto& st = self->state;
  for (auto& a : addresses) {
    push_post post;
    if (!make_post(self, r, a, post)) {
      st.metrics->push_ended(provider_slot(a.provider),
                             push_outcome::unconfigured);
      spdlog::debug("push: no {} settings on this node for user={} device={}",
                    protocol::to_string(a.provider), r.user_id, r.device_id);
      continue;
    }
    auto id = st.next_id++;
    st.posts.emplace(id, pusher_state::pending{r, a, std::move(post), 0});
    send_post(self, id);
  }
}

void on_answer(self_ptr self, uint64_t id, const push_answer& a) {
  auto& st = self->state;
  auto i = st.posts.find(id);
  if (i == st.posts.end())
    return;
  auto& p = i->second;
  auto slot = provider_slot(p.address.provider);
  if (a.status >= 200 && a.status < 300) {
    st.metrics->push_ended(slot, push_outcome::sent);
    st.posts.erase(i);
    return;
  }
  if (a.status == 410) {
    // The provider says the token is dead: the address goes (if the
    // device has not registered another meanwhile).
    st.metrics->push_ended(slot, push_outcome::dead);
    self->send(st.store, atom::push_v, atom::dead_v, p.request.user_id,
               p.request.device_id, p.address);
    st.posts.erase(i);
    return;
  }
  auto again = a.status == 0 || a.status == 429 || a.status >= 500;
  if (again && p.attempt < st.params.max_retries) {
    ++p.attempt;
    st.metrics->push_ended(slot, push_outcome::retried);
    auto wait = push_backoff(p.attempt, a.retry_after);
    spdlog::info("push: {} for user={} device={} answered {}{}; try {} in "
                 "{} ms",
                 protocol::to_string(p.address.provider), p.request.user_id,
                 p.request.device_id, a.status,
                 a.error.empty() ? "" : " (" + a.error + ")", p.attempt + 1,
                 wait.count());
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
      on_answer(self, id, a);
    },
    [=](atom::push, atom::tick, uint64_t id) { send_post(self, id); },
  };
}

} // namespace tether::actors

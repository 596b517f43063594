#define CAF_SUITE actors.routing
#include <caf/test/unit_test.hpp>

#include "actors/directory/routing.hpp"

using namespace tether::actors;
using namespace tether::protocol;

namespace {

std::vector<device_entry> alice() {
  return {
    {"phone", device_type::mobile, false, true},
    {"laptop", device_type::desktop, true, true},
    {"tablet", device_type::tablet, false, true},
    {"browser", device_type::web, false, false},
  };
}

destination_info to_device(std::string id) {
  destination_info d;
  d.to = target::device;
  d.device_id = std::move(id);
  return d;
}

destination_info broadcast(broadcast_scope scope,
                           std::vector<device_type> types = {}) {
  destination_info d;
  d.to = target::broadcast;
  d.broadcast = broadcast_info{scope, std::nullopt, {}, std::move(types)};
  return d;
}

} // namespace

CAF_TEST(a device target reaches exactly that device) {
  auto p = plan_route(alice(), "alice", "phone", to_device("tablet"), false);
  CAF_REQUIRE(p.ok());
  CAF_CHECK_EQUAL(p.recipients, std::vector<size_t>{2});
  // Messaging oneself is allowed (echo).
  auto self = plan_route(alice(), "alice", "phone", to_device("phone"), false);
  CAF_CHECK_EQUAL(self.recipients, std::vector<size_t>{0});
}

CAF_TEST(unknown and offline devices are errors) {
  CAF_CHECK(
    plan_route(alice(), "alice", "phone", to_device("fridge"), false).error
    == errc::unknown_device);
  CAF_CHECK(
    plan_route(alice(), "alice", "phone", to_device("browser"), false).error
    == errc::device_offline);
  // With offline delivery (queues) the offline device is a recipient.
  auto p = plan_route(alice(), "alice", "phone", to_device("browser"), true);
  CAF_CHECK_EQUAL(p.recipients, std::vector<size_t>{3});
}

CAF_TEST(the extension target reaches the extension role only) {
  destination_info d;
  d.to = target::extension;
  auto p = plan_route(alice(), "alice", "phone", d, false);
  CAF_CHECK_EQUAL(p.recipients, std::vector<size_t>{1});
  auto none = plan_route({alice()[0]}, "alice", "phone", d, false);
  CAF_CHECK(none.error == errc::no_recipients);
}

CAF_TEST(user broadcast reaches every other online device) {
  auto p = plan_route(alice(), "alice", "phone",
                      broadcast(broadcast_scope::user), false);
  CAF_CHECK_EQUAL(p.recipients, (std::vector<size_t>{1, 2}));
  auto q = plan_route(alice(), "alice", "phone",
                      broadcast(broadcast_scope::device_type,
                                {device_type::tablet, device_type::web}),
                      false);
  CAF_CHECK_EQUAL(q.recipients, std::vector<size_t>{2});
}

CAF_TEST(another user and scope all are forbidden) {
  auto d = to_device("phone");
  d.user_id = "bob";
  CAF_CHECK(plan_route(alice(), "alice", "laptop", d, false).error
            == errc::forbidden);
  CAF_CHECK(plan_route(alice(), "alice", "phone",
                       broadcast(broadcast_scope::all), false)
              .error
            == errc::forbidden);
  destination_info cloud;
  cloud.to = target::cloud;
  CAF_CHECK(plan_route(alice(), "alice", "phone", cloud, false).error
            == errc::unsupported_target);
}

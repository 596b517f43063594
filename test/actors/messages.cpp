#define CAF_SUITE actors.messages
#include "test/support/actor_fixture.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/messages.hpp"

using namespace tether;
using namespace tether::actors;

CAF_TEST_FIXTURE_SCOPE(message_tests, test::fixture_base)

// Every serializable message type survives the binary serializer, so two
// nodes agree on it (an unregistered type would arrive as an empty message).
CAF_TEST(device_identity round trips through the binary serializer) {
  device_identity x{"alice", "phone", protocol::device_type::tablet,
                    "extension", "s1", protocol::codec::msgpack};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  CAF_REQUIRE(!inspect(sink, x));
  device_identity y;
  caf::binary_deserializer source{sys, buf};
  CAF_REQUIRE(!inspect(source, y));
  CAF_CHECK_EQUAL(y.user_id, "alice");
  CAF_CHECK_EQUAL(y.device_id, "phone");
  CAF_CHECK(y.type == protocol::device_type::tablet);
  CAF_CHECK_EQUAL(y.role, "extension");
  CAF_CHECK_EQUAL(y.session_id, "s1");
  CAF_CHECK(y.codec == protocol::codec::msgpack);
}

CAF_TEST(member_info round trips through the binary serializer) {
  member_info x;
  x.node_id = "east-1";
  x.host = "10.200.0.1";
  x.port = 7401;
  x.protocol = cluster_protocol_version;
  x.incarnation = 1764633600123;
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  CAF_REQUIRE(!inspect(sink, x));
  member_info y;
  caf::binary_deserializer source{sys, buf};
  CAF_REQUIRE(!inspect(source, y));
  CAF_CHECK_EQUAL(y.node_id, "east-1");
  CAF_CHECK_EQUAL(y.host, "10.200.0.1");
  CAF_CHECK_EQUAL(y.port, 7401);
  CAF_CHECK_EQUAL(y.protocol, cluster_protocol_version);
  CAF_CHECK_EQUAL(y.incarnation, 1764633600123);
  // A view crosses nodes as a vector: registered too.
  auto& names = sys.config().type_names_by_rtti;
  CAF_CHECK(names.count(typeid(std::vector<member_info>)) == 1);
  CAF_CHECK(names.count(typeid(cluster_actor)) == 1);
}

CAF_TEST(peer link exits say whether to dial again) {
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::lost, "x")));
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::refused, "x")));
  CAF_CHECK(peer_link_retries(make_peer_error(peer_exit::unreachable, "x")));
  CAF_CHECK(!peer_link_retries(make_peer_error(peer_exit::redundant, "x")));
  CAF_CHECK(!peer_link_retries(caf::error{}));
  CAF_CHECK(!peer_link_retries(caf::exit_reason::user_shutdown));
}

CAF_TEST(every registered type has a name in the actor system) {
  auto& names = sys.config().type_names_by_rtti;
  CAF_CHECK(names.count(typeid(device_identity)) == 1);
  CAF_CHECK(names.count(typeid(connection_actor)) == 1);
  CAF_CHECK(names.count(typeid(directory_actor)) == 1);
}

CAF_TEST(protocol errors travel inside caf errors) {
  caf::error e = protocol::make_error(protocol::errc::queue_overflow);
  CAF_CHECK(to_errc(e) == protocol::errc::queue_overflow);
  CAF_CHECK(to_errc(caf::make_error(caf::sec::request_timeout))
            == protocol::errc::timeout);
  CAF_CHECK(to_errc(caf::make_error(caf::sec::invalid_argument))
            == protocol::errc::internal_error);
}

CAF_TEST_FIXTURE_SCOPE_END()

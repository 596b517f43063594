#define CAF_SUITE runtime.api_request
#include <caf/test/unit_test.hpp>

#include "runtime/api_request.hpp"

using namespace tether;
using protocol::errc;

namespace {

struct outcome {
  bool ok = false;
  protocol::mobile_message msg;
  errc error = errc::none;
  std::string why;
  std::vector<protocol::field_error> errors;

  bool names(const std::string& field) const {
    for (auto& e : errors)
      if (e.field == field)
        return true;
    return false;
  }
};

outcome read(const std::string& body, const std::string& room = {}) {
  outcome o;
  o.ok = runtime::read_message(body, protocol::limits{}, room, o.msg, o.error,
                               o.why, o.errors);
  return o;
}

constexpr std::string_view to_user
  = R"({"type":"t","payload":{"n":1},"destination":{"target":"broadcast",)"
    R"("broadcast":{"scope":"user"}}})";

// `to_user` with `member` added as its first member.
std::string with(std::string_view member) {
  return "{" + std::string{member} + "," + std::string{to_user.substr(1)};
}

} // namespace

CAF_TEST(a body becomes a message from the server) {
  auto o = read(std::string{to_user});
  CAF_REQUIRE(o.ok);
  CAF_CHECK_EQUAL(o.msg.source.user_id, "system");
  CAF_CHECK_EQUAL(o.msg.source.device_id, "server");
  CAF_CHECK_EQUAL(o.msg.payload.raw, R"({"n":1})");
  // A source of the body's own is replaced by the server's.
  o = read(with(R"("source":{"userId":"alice","deviceId":"phone",)"
                R"("deviceType":"mobile","timestamp":1})"));
  CAF_REQUIRE(o.ok);
  CAF_CHECK_EQUAL(o.msg.source.user_id, "system");
}

CAF_TEST(a body nested 270000 levels deep is refused not a crash) {
  // The attacker probe's body: under the size cap, it crashed tetherd
  // (a recursive parse, SIGSEGV) and dropped every session of the node.
  auto o = read(std::string(270000, '['));
  CAF_CHECK(!o.ok);
  CAF_CHECK(o.error == errc::malformed_frame);
  // Well-formed but too deep, in the payload: refused as well.
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  o = read(with(R"("x":)" + deep));
  CAF_CHECK(!o.ok);
  CAF_CHECK(o.error == errc::malformed_frame);
  CAF_CHECK(o.why.find("deeper") != std::string::npos);
}

CAF_TEST(a second source in a body is refused naming the key) {
  // The probe: the first "source" was replaced, the second survived and
  // the recipient read it as the sender (SPEC §9, §15).
  auto src = R"("source":{"userId":"alice","deviceId":"phone",)"
             R"("deviceType":"mobile","timestamp":1})";
  auto o = read(with(std::string{src} + "," + src));
  CAF_CHECK(!o.ok);
  CAF_CHECK(o.error == errc::validation_error);
  CAF_CHECK(o.names("source"));
  CAF_CHECK(o.msg.source.user_id != "alice");
}

CAF_TEST(a key given twice at any level of a body is refused naming it) {
  for (auto [member, field] :
       {std::pair{R"("type":"u")", "type"},
        std::pair{R"("id":"a","id":"b")", "id"},
        std::pair{R"("optimization":{"priority":"low","priority":"high"})",
                  "optimization.priority"},
        std::pair{R"("x":{"k":[{"a":1,"a":2}]})", "x.k[0].a"}}) {
    auto o = read(with(member));
    CAF_CHECK(!o.ok);
    CAF_CHECK(o.error == errc::validation_error);
    CAF_CHECK(o.names(field));
  }
  // In the destination of a room publish, which the path sets.
  auto o = read(R"({"type":"t","destination":{"target":"device",)"
                R"("target":"extension"}})",
                "ops");
  CAF_CHECK(!o.ok);
  CAF_CHECK(o.names("destination.target"));
}

CAF_TEST(path ids are checked without being echoed) {
  using runtime::check_path_id;
  using runtime::path_id;
  std::vector<protocol::field_error> errors;
  CAF_CHECK(check_path_id(path_id::user, "alice", errors));
  CAF_CHECK(check_path_id(path_id::device, "ph\"one\\u00e9", errors));
  CAF_CHECK(check_path_id(path_id::room, "team-42:doc.7@x", errors));
  CAF_CHECK(errors.empty());
  for (auto [kind, id, field] : {
         std::tuple{path_id::user, std::string{"\xff"}, "userId"},
         std::tuple{path_id::user, std::string{"\xed\xa0\x80"}, "userId"},
         std::tuple{path_id::device, std::string(256, 'd'), "deviceId"},
         std::tuple{path_id::device, std::string{}, "deviceId"},
         std::tuple{path_id::room, std::string{"\xff\xfe"}, "room"},
         std::tuple{path_id::room, std::string{"ops\0x", 5}, "room"},
         std::tuple{path_id::room, std::string{"a b"}, "room"},
       }) {
    errors.clear();
    CAF_CHECK(!check_path_id(kind, id, errors));
    CAF_REQUIRE_EQUAL(errors.size(), 1u);
    CAF_CHECK_EQUAL(errors.front().field, field);
    CAF_CHECK(errors.front().message.find(id) == std::string::npos
              || id.empty());
  }
}

CAF_TEST(a failure lists its errors as an ack does) {
  // SPEC §15: the ack's error object (§3.3): at most 20 errors, each field
  // and message cut to 255 bytes, `omitted` for the rest. A key given
  // twice is named in full otherwise, however long the body made it.
  std::vector<protocol::field_error> errors;
  for (int i = 0; i < 25; ++i)
    errors.push_back(
      {std::string(300, 'k') + std::to_string(i), "is given more than once"});
  auto text = runtime::failure(errc::validation_error,
                               "invalid message: see details.errors", errors);
  size_t fields = 0;
  for (auto i = text.find(R"("field":)"); i != std::string::npos;
       i = text.find(R"("field":)", i + 1))
    ++fields;
  CAF_CHECK_EQUAL(fields, 20u);
  CAF_CHECK(text.find(R"("omitted":5)") != std::string::npos);
  CAF_CHECK(text.find(std::string(256, 'k')) == std::string::npos);
  CAF_CHECK(text.find(std::string(255, 'k')) != std::string::npos);
  CAF_CHECK_EQUAL(text.rfind(R"({"status":"failed","error":{"code":)"
                             R"("VALIDATION_ERROR","message":"invalid )"
                             R"(message: see details.errors","retryable":)"
                             R"(false,"details":{"errors":[{"field":"kkk)",
                             0),
                  0u);
}

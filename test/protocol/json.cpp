#define CAF_SUITE protocol.json
#include <caf/test/unit_test.hpp>

#include "protocol/json.hpp"

// parse_json: the bounded parse behind every JSON text Tether reads.

using namespace tether::protocol;

namespace {

json_parse_result parse(std::string_view text, size_t depth = 32,
                        bool refuse_duplicates = true) {
  rapidjson::Document doc;
  return parse_json(text, depth, doc, refuse_duplicates);
}

} // namespace

CAF_TEST(valid json parses into the document) {
  rapidjson::Document doc;
  auto r = parse_json(R"({"a":[1,{"b":"c"}],"d":null})", 32, doc);
  CAF_REQUIRE(r.ok());
  CAF_CHECK(doc.IsObject());
  CAF_CHECK_EQUAL(std::string{doc["a"][1]["b"].GetString()}, "c");
}

CAF_TEST(nesting is bounded at the given depth) {
  // Exactly at the limit: accepted; one more level: refused.
  CAF_CHECK(parse("[[[]]]", 3).ok());
  auto r = parse("[[[[]]]]", 3);
  CAF_CHECK(r.refusal == json_refusal::too_deep);
  CAF_CHECK_EQUAL(r.message(), "invalid JSON: nested deeper than 3 levels");
  CAF_CHECK(parse(R"({"a":{"b":{}}})", 3).ok());
  CAF_CHECK(parse(R"({"a":{"b":{"c":1}}})", 2).refusal
            == json_refusal::too_deep);
  // Unclosed or closed, far past the limit: refused, no recursion.
  CAF_CHECK(parse(std::string(270000, '[')).refusal == json_refusal::too_deep);
  CAF_CHECK(parse(std::string(270000, '{')).refusal != json_refusal::none);
  auto deep = std::string(200000, '[') + std::string(200000, ']');
  // The parser itself is iterative: any depth parses if allowed (the
  // duplicate check recurses, within the depth given).
  CAF_CHECK(parse(deep, 1000000, false).ok());
  CAF_CHECK(parse(deep).refusal == json_refusal::too_deep);
}

CAF_TEST(syntax errors name the offset) {
  auto r = parse(R"({"a":1,})");
  CAF_CHECK(r.refusal == json_refusal::syntax);
  CAF_CHECK_EQUAL(r.offset, 7u);
  for (auto bad : {"", "{} {}", "{\"a\":\"\xff\"}", "[1,]", "nul"})
    CAF_CHECK(parse(bad).refusal == json_refusal::syntax);
  CAF_CHECK(parse(R"(["\udc80"])").refusal == json_refusal::lone_surrogate);
}

CAF_TEST(a key given twice is refused with its path) {
  for (auto text : {
         R"({"a":1,"a":2})",
         R"({"a":1,"\u0061":2})", // escaped alike
         R"({"x":{"y":[0,{"k":1,"k":1}]}})",
         R"([{"a":1},[{"b":1,"b":2}]])",
         R"({"":1,"":2})",
         "{\"a\\u0000\":1,\"a\\u0000\":2}",
       })
    CAF_CHECK(parse(text).refusal == json_refusal::duplicate_key);
  CAF_CHECK_EQUAL(parse(R"({"a":1,"\u0061":2})").field, "a");
  CAF_CHECK_EQUAL(parse(R"({"x":{"y":[0,{"k":1,"k":1}]}})").field, "x.y[1].k");
  CAF_CHECK_EQUAL(parse(R"([{"a":1},[{"b":1,"b":2}]])").field, "[1][0].b");
  // Keys that differ, even by a NUL, a case or a space, are no duplicate.
  CAF_CHECK(parse("{\"a\":1,\"a\\u0000\":2,\"A\":3,\"a \":4}").ok());
  // Left to the caller on request (the frame reader reports them itself).
  CAF_CHECK(parse(R"({"a":1,"a":2})", 32, false).ok());
}

CAF_TEST(a key given twice among many is found) {
  std::string text = "{";
  for (int i = 0; i < 5000; ++i)
    text += "\"k" + std::to_string(i) + "\":0,";
  auto unique = text.substr(0, text.size() - 1) + "}";
  CAF_CHECK(parse(unique).ok());
  auto r = parse(text + "\"k4321\":1}");
  CAF_CHECK(r.refusal == json_refusal::duplicate_key);
  CAF_CHECK_EQUAL(r.field, "k4321");
}

CAF_TEST(the parse tells whether an object may name a key twice) {
  rapidjson::Document doc;
  // The same key in different objects is no repetition.
  auto r = parse_json(R"({"a":{"a":1,"b":[{"a":2},{"a":3}]},"b":2})", 32, doc);
  CAF_REQUIRE(r.ok());
  CAF_CHECK(!r.repeated_keys);
  // Repeated: flagged, and the exact check refuses it with its path.
  r = parse_json(R"({"a":{"x":1,"y":{},"x":2}})", 32, doc);
  CAF_CHECK(r.refusal == json_refusal::duplicate_key);
  CAF_CHECK_EQUAL(r.field, "a.x");
  // Repeated and not refused (the caller reads on): still flagged.
  r = parse_json(R"([{"k":1,"k":2}])", 32, doc, false);
  CAF_REQUIRE(r.ok());
  CAF_CHECK(r.repeated_keys);
  // Many keys are left to the exact check: flagged, not refused.
  std::string many = "{";
  for (int i = 0; i < 40; ++i)
    many += (i ? ",\"" : "\"") + std::to_string(i) + "\":" + std::to_string(i);
  many += "}";
  r = parse_json(many, 32, doc);
  CAF_REQUIRE(r.ok());
  CAF_CHECK(r.repeated_keys);
  // A key of an object that ended does not count against the next one.
  r = parse_json(R"({"o":{"p":1},"q":{"p":2},"p":3})", 32, doc);
  CAF_REQUIRE(r.ok());
  CAF_CHECK(!r.repeated_keys);
}

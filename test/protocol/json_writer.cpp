#define CAF_SUITE protocol.json_writer
#include <caf/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/detail/json_writer.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"

// The JSON writer of frames (json_text_writer) against rapidjson's own
// Writer, which it replaced and must match byte for byte; the UTF-8 prefix
// scan against a byte-at-a-time decoder; the in-situ parse against the
// copying one.

using namespace tether::protocol;
using tether::protocol::detail::json_text_writer;

namespace {

std::string with_rapidjson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

std::string with_ours(const rapidjson::Value& v) {
  std::string out;
  {
    json_text_writer w{out};
    v.Accept(w);
  }
  return out;
}

// Strings of every kind of byte a parsed value may hold: ASCII, the
// characters that need escapes, control characters, NUL, and UTF-8 of two,
// three and four bytes; short and longer than one 8-byte word.
std::string random_string(std::mt19937_64& rng) {
  static const char* pieces[] = {"a",
                                 "Z",
                                 " ",
                                 "\"",
                                 "\\",
                                 "/",
                                 "\b",
                                 "\f",
                                 "\n",
                                 "\r",
                                 "\t",
                                 "\x01",
                                 "\x1f",
                                 "\x7f",
                                 "\xc3\xa9",
                                 "\xe2\x82\xac",
                                 "\xf0\x9f\x98\x80",
                                 "xxxxxxxx"};
  std::string s;
  auto n = rng() % 24;
  for (size_t i = 0; i < n; ++i) {
    auto k = rng() % (std::size(pieces) + 1);
    if (k == std::size(pieces))
      s.push_back('\0');
    else
      s += pieces[k];
  }
  return s;
}

double random_double(std::mt19937_64& rng) {
  static const double fixed[]
    = {0.0,     -0.0,   0.1,    1.5,  -2.25,
       1e300,   1e-300, 5e-324, 1e21, 123456789.0,
       1.0 / 3, 2e-7,   -1e-10, 4.35, 9007199254740993.0};
  if (rng() % 2 == 0)
    return fixed[rng() % std::size(fixed)];
  double d;
  do {
    auto bits = rng();
    std::memcpy(&d, &bits, sizeof d);
  } while (!std::isfinite(d));
  return d;
}

void random_value(std::mt19937_64& rng, rapidjson::Value& v,
                  rapidjson::Document::AllocatorType& a, int depth) {
  auto kind = rng() % (depth > 5 ? 7 : 9);
  switch (kind) {
    case 0:
      v.SetNull();
      break;
    case 1:
      v.SetBool(rng() % 2 == 0);
      break;
    case 2: {
      static const int64_t fixed[] = {0,
                                      -1,
                                      1,
                                      std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max(),
                                      -4294967296LL};
      v.SetInt64(fixed[rng() % std::size(fixed)]);
      break;
    }
    case 3:
      v.SetUint64(rng() % 2 == 0 ? std::numeric_limits<uint64_t>::max()
                                 : rng());
      break;
    case 4:
      v.SetInt(static_cast<int>(rng() % 2000) - 1000);
      break;
    case 5:
      v.SetDouble(random_double(rng));
      break;
    case 6: {
      auto s = random_string(rng);
      v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
      break;
    }
    case 7: {
      v.SetArray();
      auto n = rng() % 5;
      for (size_t i = 0; i < n; ++i) {
        rapidjson::Value x;
        random_value(rng, x, a, depth + 1);
        v.PushBack(x, a);
      }
      break;
    }
    default: {
      v.SetObject();
      auto n = rng() % 5;
      for (size_t i = 0; i < n; ++i) {
        auto k = random_string(rng);
        rapidjson::Value key{k.data(),
                             static_cast<rapidjson::SizeType>(k.size()), a};
        rapidjson::Value x;
        random_value(rng, x, a, depth + 1);
        v.AddMember(key, x, a);
      }
    }
  }
}

// The reference: one code point at a time, as valid_utf8 was written.
size_t reference_prefix(std::string_view s) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    auto c = p[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i <= n)
      return i;
    for (size_t k = 1; k <= n; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static constexpr uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n + 1;
  }
  return s.size();
}

} // namespace

CAF_TEST(random values are written as rapidjson writes them) {
  std::mt19937_64 rng{20261207};
  for (int round = 0; round < 3000; ++round) {
    rapidjson::Document doc;
    random_value(rng, doc, doc.GetAllocator(), 0);
    auto theirs = with_rapidjson(doc);
    auto ours = with_ours(doc);
    if (ours != theirs) {
      CAF_FAIL("round " << round << ": " << ours << " != " << theirs);
    }
  }
}

CAF_TEST(escapes and separators) {
  std::string out;
  json_text_writer w{out};
  w.StartObject();
  w.LiteralKey("a");
  w.String(std::string_view{"q\"b\\s/\x01\x1f\n\t\r\b\f\0z", 15});
  w.Key("k\"");
  w.StartArray();
  w.Int64(-5);
  w.Uint64(18446744073709551615ULL);
  w.Bool(false);
  w.Null();
  w.RawValue(R"({"x":[1]})");
  w.EndArray();
  w.Key("e");
  w.StartObject();
  w.EndObject();
  w.EndObject();
  w.finish();
  CAF_CHECK_EQUAL(out, R"({"a":"q\"b\\s/\u0001\u001F\n\t\r\b\f\u0000z",)"
                       R"("k\"":[-5,18446744073709551615,false,null,)"
                       R"({"x":[1]}],"e":{}})");
}

CAF_TEST(nan and infinities are refused and write nothing) {
  std::string out;
  json_text_writer w{out};
  w.StartArray();
  CAF_CHECK(!w.Double(std::nan("")));
  CAF_CHECK(!w.Double(std::numeric_limits<double>::infinity()));
  CAF_CHECK(w.Double(2.5));
  w.EndArray();
  w.finish();
  CAF_CHECK_EQUAL(out, "[2.5]");
}

CAF_TEST(the text follows what the string held and goes on after finish) {
  std::string out = "head:";
  {
    json_text_writer w{out};
    w.StartArray();
    w.Int64(1);
    // The string holds the text alone once finished, and the writer may
    // write on: past the string's first room, growing it.
    w.finish();
    CAF_CHECK_EQUAL(out, "head:[1");
    std::string long_text(1000, 'x');
    w.String(long_text);
    w.EndArray();
    CAF_CHECK_EQUAL(w.size(), 5 + 3 + 1002 + 1);
  }
  CAF_CHECK_EQUAL(out, "head:[1,\"" + std::string(1000, 'x') + "\"]");
}

CAF_TEST(nesting deeper than the inline levels keeps its separators) {
  // 300 levels, past the 256 kept inline, each with two values.
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += "[1,";
  text += "0";
  for (int i = 0; i < 300; ++i)
    text += "]";
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  CAF_REQUIRE(!doc.HasParseError());
  CAF_CHECK_EQUAL(with_ours(doc), text);
  CAF_CHECK_EQUAL(with_rapidjson(doc), text);
}

CAF_TEST(the utf8 prefix is that of a decoder of one byte at a time) {
  std::mt19937_64 rng{7};
  static const char* pieces[] = {
    "abcdefgh", "a",       "\xc3\xa9",     "\xe2\x82\xac", "\xf0\x9f\x98\x80",
    "\xc3",     "\x80",    "\xed\xa0\x80", "\xc0\xaf",     "\xf4\x90\x80\x80",
    "\xff",     "\xe2\x82"};
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    auto n = rng() % 12;
    for (size_t i = 0; i < n; ++i)
      s += pieces[rng() % std::size(pieces)];
    auto expected = reference_prefix(s);
    if (utf8_prefix(s) != expected)
      CAF_FAIL("round " << round << ": " << utf8_prefix(s)
                        << " != " << expected);
    CAF_CHECK_EQUAL(valid_utf8(s), expected == s.size());
  }
  CAF_CHECK_EQUAL(utf8_prefix("0123456789abcdef\xff"), 16u);
  CAF_CHECK_EQUAL(utf8_prefix("01234567\xc3\xa9"
                              "89\xc3"),
                  12u);
}

CAF_TEST(the in situ parse answers as the copying parse) {
  const std::string texts[] = {
    R"({"a":[1,{"b":"c\n\u00e9\ud83d\ude00"}],"d":null,"e":1.5e3})",
    R"(  {"long":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"yy"}  )",
    R"({"a":1}x)",
    R"({"a":"\udc00"})",
    R"({"a":1,"a":2})",
    "{\"a\":\"\xff\"}",
    std::string{"{\"a\":\"b\0c\"}", 11},
    std::string{"{\"a\":1}\0", 8},
    R"([[[[]]]])",
    "",
  };
  // A NUL is refused where it is, after a value too (it used to end the
  // text there, so anything after it was not read).
  rapidjson::Document doc;
  auto r = parse_json(std::string{"{\"a\":1}\0{", 9}, 8, doc);
  CAF_CHECK(r.refusal == json_refusal::syntax);
  CAF_CHECK_EQUAL(r.message(), "invalid JSON at offset 7");
  for (size_t i = 0; i < std::size(texts); ++i) {
    auto& text = texts[i];
    rapidjson::Document copying;
    tether::protocol::frame_document insitu;
    std::string buffer;
    auto a = parse_json(text, 3, copying);
    auto b = parse_json_insitu(text, buffer, 3, insitu);
    CAF_MESSAGE("text " << i);
    CAF_CHECK(a.refusal == b.refusal);
    CAF_CHECK_EQUAL(a.message(), b.message());
    if (a.ok() && b.ok())
      CAF_CHECK_EQUAL(with_rapidjson(copying), with_rapidjson(insitu));
  }
}

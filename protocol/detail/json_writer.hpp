#pragma once

// Internal to protocol/*.cpp: a JSON writer that appends to a std::string,
// with rapidjson's Handler interface (so a parsed value's Accept() writes
// through it) and rapidjson::Writer's output byte for byte: the same
// escapes (", \, control characters; \b \f \n \r \t, else \u00XX in upper
// case hex), UTF-8 passed through unescaped, the same number formatting
// (rapidjson's i64toa/u64toa/dtoa; NaN and infinities refused).
//
// What it does differently is the cost: a string's run of bytes that need
// no escape is appended at once (rapidjson's Writer puts one char at a time
// through its stream, which was a tenth of a delivery's instructions), and
// the nesting is a bit per level instead of a stack on the heap.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/internal/dtoa.h>
#include <rapidjson/internal/itoa.h>
#include <rapidjson/rapidjson.h>

namespace tether::protocol::detail {

class json_text_writer {
public:
  explicit json_text_writer(std::string& out) : out_(&out) {}

  bool Null() {
    prefix();
    out_->append("null", 4);
    return true;
  }

  bool Bool(bool b) {
    prefix();
    if (b)
      out_->append("true", 4);
    else
      out_->append("false", 5);
    return true;
  }

  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }

  bool Int64(int64_t i) {
    prefix();
    char buf[24];
    auto* end = rapidjson::internal::i64toa(i, buf);
    out_->append(buf, static_cast<size_t>(end - buf));
    return true;
  }

  bool Uint64(uint64_t u) {
    prefix();
    char buf[24];
    auto* end = rapidjson::internal::u64toa(u, buf);
    out_->append(buf, static_cast<size_t>(end - buf));
    return true;
  }

  bool Double(double d) {
    if (rapidjson::internal::Double(d).IsNanOrInf())
      return false;
    prefix();
    char buf[25];
    auto* end = rapidjson::internal::dtoa(d, buf);
    out_->append(buf, static_cast<size_t>(end - buf));
    return true;
  }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool = false) {
    prefix();
    out_->append(s, n);
    return true;
  }

  bool String(const char* s, rapidjson::SizeType n, bool = false) {
    return String(std::string_view{s, n});
  }

  bool String(std::string_view s) {
    prefix();
    quote(s);
    return true;
  }

  bool Key(const char* s, rapidjson::SizeType n, bool = false) {
    return Key(std::string_view{s, n});
  }

  bool Key(std::string_view s) {
    prefix();
    quote(s);
    out_->push_back(':');
    after_key_ = true;
    return true;
  }

  /// A key known to need no escape (a literal of the writer's caller).
  bool LiteralKey(std::string_view s) {
    assert(std::none_of(s.begin(), s.end(), [](char c) {
      return escaped(static_cast<unsigned char>(c));
    }));
    prefix();
    out_->push_back('"');
    out_->append(s);
    out_->append("\":", 2);
    after_key_ = true;
    return true;
  }

  bool StartObject() { return open('{'); }
  bool EndObject(rapidjson::SizeType = 0) { return close('}'); }
  bool StartArray() { return open('['); }
  bool EndArray(rapidjson::SizeType = 0) { return close(']'); }

  /// A value already encoded as JSON, appended whole.
  bool RawValue(std::string_view json) {
    prefix();
    out_->append(json);
    return true;
  }

  size_t size() const { return out_->size(); }

private:
  static constexpr size_t inline_levels = 64 * 4;

  /// Whether JSON writes byte `c` of a string escaped: a control
  /// character, '"' or '\\'.
  static bool escaped(unsigned char c) {
    return c < 0x20 || c == '"' || c == '\\';
  }

  // Whether a byte of `w` is escaped (the "has a byte less than n" and "has
  // a zero byte" tests, which are exact for whether any byte is).
  static bool any_escaped(uint64_t w) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    auto zero_byte = [](uint64_t v) { return (v - ones) & ~v & highs; };
    auto below_space = (w - ones * 0x20) & ~w & highs;
    return (below_space | zero_byte(w ^ (ones * '"'))
            | zero_byte(w ^ (ones * '\\')))
           != 0;
  }

  /// Appends `s` as a JSON string (quotes and escapes), with no separator.
  void quote(std::string_view s) {
    auto& out = *out_;
    out.push_back('"');
    auto* p = s.data();
    auto* end = p + s.size();
    auto* run = p;
    while (p != end) {
      // Eight bytes at a time while none needs an escape.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (any_escaped(word))
          break;
        p += 8;
      }
      if (p == end)
        break;
      auto c = static_cast<unsigned char>(*p);
      if (!escaped(c)) {
        ++p;
        continue;
      }
      out.append(run, static_cast<size_t>(p - run));
      run = p + 1;
      out.push_back('\\');
      switch (c) {
        case '"':
        case '\\':
          out.push_back(static_cast<char>(c));
          break;
        case '\b':
          out.push_back('b');
          break;
        case '\f':
          out.push_back('f');
          break;
        case '\n':
          out.push_back('n');
          break;
        case '\r':
          out.push_back('r');
          break;
        case '\t':
          out.push_back('t');
          break;
        default: {
          static constexpr char hex[] = "0123456789ABCDEF";
          char u[5] = {'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          out.append(u, sizeof u);
        }
      }
      ++p;
    }
    out.append(run, static_cast<size_t>(end - run));
    out.push_back('"');
  }

  // A comma before every value or key but the first of its container; none
  // after a key (its colon is written with it).
  void prefix() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0)
      return;
    auto& word = level_word(depth_);
    auto bit = level_bit(depth_);
    if ((word & bit) != 0)
      out_->push_back(',');
    else
      word |= bit;
  }

  bool open(char c) {
    prefix();
    out_->push_back(c);
    ++depth_;
    level_word(depth_) &= ~level_bit(depth_);
    return true;
  }

  bool close(char c) {
    out_->push_back(c);
    if (depth_ > 0)
      --depth_;
    return true;
  }

  // Whether a container holds a value yet: a bit per level, the first
  // inline_levels in the writer, deeper ones on the heap.
  static uint64_t level_bit(size_t level) {
    return uint64_t{1} << (level % 64);
  }

  uint64_t& level_word(size_t level) {
    auto word = level / 64;
    if (word < inline_levels / 64)
      return levels_[word];
    auto i = word - inline_levels / 64;
    if (more_.size() <= i)
      more_.resize(i + 1);
    return more_[i];
  }

  std::string* out_;
  size_t depth_ = 0;
  bool after_key_ = false;
  uint64_t levels_[inline_levels / 64] = {};
  std::vector<uint64_t> more_;
};

} // namespace tether::protocol::detail

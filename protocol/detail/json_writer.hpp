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
// through its stream, which was a tenth of a delivery's instructions), the
// nesting is a bit per level instead of a stack on the heap, and bytes go
// into the string's spare room through a cursor of its own: std::string's
// append and push_back are calls into libstdc++ (an extern template), each
// checking and updating its size, which was a third of a frame's encoding.
// So the string holds the spare room, zero-filled, while the writer works:
// it has the text alone once the writer is finished (finish(), or the
// writer's end), and is read only then.

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
  explicit json_text_writer(std::string& out) : out_(&out), len_(out.size()) {
    out.resize(out.capacity());
    data_ = out.data();
    cap_ = out.size();
  }

  ~json_text_writer() { finish(); }

  json_text_writer(const json_text_writer&) = delete;
  json_text_writer& operator=(const json_text_writer&) = delete;

  /// Cuts the spare room: the string holds what was written, and more may
  /// be written after.
  void finish() {
    out_->resize(len_);
    cap_ = len_;
  }

  bool Null() {
    prefix();
    put("null", 4);
    return true;
  }

  bool Bool(bool b) {
    prefix();
    if (b)
      put("true", 4);
    else
      put("false", 5);
    return true;
  }

  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }

  bool Int64(int64_t i) {
    prefix();
    auto* at = room(24);
    len_ += static_cast<size_t>(rapidjson::internal::i64toa(i, at) - at);
    return true;
  }

  bool Uint64(uint64_t u) {
    prefix();
    auto* at = room(24);
    len_ += static_cast<size_t>(rapidjson::internal::u64toa(u, at) - at);
    return true;
  }

  bool Double(double d) {
    if (rapidjson::internal::Double(d).IsNanOrInf())
      return false;
    prefix();
    auto* at = room(25);
    len_ += static_cast<size_t>(rapidjson::internal::dtoa(d, at) - at);
    return true;
  }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool = false) {
    prefix();
    put(s, n);
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
    put(':');
    after_key_ = true;
    return true;
  }

  /// A key known to need no escape (a string literal of the writer's
  /// caller: its length is a constant, so is its copy).
  template <size_t N>
  bool LiteralKey(const char (&s)[N]) {
    assert(std::none_of(s, s + N - 1, [](char c) {
      return escaped(static_cast<unsigned char>(c));
    }));
    prefix();
    auto* at = room(N + 2);
    at[0] = '"';
    std::memcpy(at + 1, s, N - 1);
    at[N] = '"';
    at[N + 1] = ':';
    len_ += N + 2;
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
    put(json.data(), json.size());
    return true;
  }

  /// The length of the text written.
  size_t size() const { return len_; }

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

  /// Room for `n` more bytes at the cursor (the string grows, doubling).
  char* room(size_t n) {
    if (cap_ - len_ < n)
      grow(n);
    return data_ + len_;
  }

  void grow(size_t n) {
    out_->resize(std::max(len_ + n, 2 * cap_));
    out_->resize(out_->capacity());
    data_ = out_->data();
    cap_ = out_->size();
  }

  void put(char c) {
    *room(1) = c;
    ++len_;
  }

  void put(const char* s, size_t n) {
    std::memcpy(room(n), s, n);
    len_ += n;
  }

  /// Appends `s` as a JSON string (quotes and escapes), with no separator.
  void quote(std::string_view s) {
    put('"');
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
      put(run, static_cast<size_t>(p - run));
      run = p + 1;
      put('\\');
      switch (c) {
        case '"':
        case '\\':
          put(static_cast<char>(c));
          break;
        case '\b':
          put('b');
          break;
        case '\f':
          put('f');
          break;
        case '\n':
          put('n');
          break;
        case '\r':
          put('r');
          break;
        case '\t':
          put('t');
          break;
        default: {
          static constexpr char hex[] = "0123456789ABCDEF";
          char u[5] = {'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          put(u, sizeof u);
        }
      }
      ++p;
    }
    put(run, static_cast<size_t>(end - run));
    put('"');
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
      put(',');
    else
      word |= bit;
  }

  bool open(char c) {
    prefix();
    put(c);
    ++depth_;
    level_word(depth_) &= ~level_bit(depth_);
    return true;
  }

  bool close(char c) {
    put(c);
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
  /// The string's bytes, the text's length in them, and their size.
  char* data_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
  size_t depth_ = 0;
  bool after_key_ = false;
  uint64_t levels_[inline_levels / 64] = {};
  std::vector<uint64_t> more_;
};

} // namespace tether::protocol::detail

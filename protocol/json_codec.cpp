// The JSON codec (subprotocol tether.v1.json) and parse_json, the bounded
// parse behind every JSON text Tether reads (protocol/json.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "protocol/base64.hpp"
#include "protocol/detail/codecs.hpp"
#include "protocol/detail/duplicates.hpp"
#include "protocol/detail/emit.hpp"
#include "protocol/detail/json_writer.hpp"
#include "protocol/detail/parse.hpp"
#include "protocol/detail/thread_loan.hpp"
#include "protocol/json.hpp"

namespace tether::protocol::detail {

namespace {

class json_node {
public:
  /// parse_json checked the text's UTF-8, keys and strings included.
  static constexpr bool utf8_checked = true;

  /// `repeats`: whether an object of the document may name a key twice
  /// (parse_stream's key_watch saw two equal hashes); false: none does.
  explicit json_node(const rapidjson::Value* v, bool repeats = true)
    : v_(v), repeats_(repeats) {}

  bool may_repeat_keys() const noexcept { return repeats_; }

  bool is_null() const { return v_->IsNull(); }
  bool is_object() const { return v_->IsObject(); }
  bool is_array() const { return v_->IsArray(); }
  bool is_string() const { return v_->IsString(); }
  bool is_bool() const { return v_->IsBool(); }
  bool is_number() const { return v_->IsNumber(); }

  std::string_view str() const {
    return {v_->GetString(), v_->GetStringLength()};
  }

  bool boolean() const { return v_->GetBool(); }

  bool to_int64(int64_t& out) const {
    if (v_->IsInt64()) {
      out = v_->GetInt64();
      return true;
    }
    if (v_->IsDouble()) {
      auto d = v_->GetDouble();
      // Fractions are truncated: timestamps are integral milliseconds.
      if (!std::isfinite(d) || d < -9.0e18 || d > 9.0e18)
        return false;
      out = static_cast<int64_t>(d);
      return true;
    }
    return false;
  }

  bool to_uint64(uint64_t& out) const {
    if (!v_->IsUint64())
      return false;
    out = v_->GetUint64();
    return true;
  }

  // The reader asks for an object's keys in the order the writers put
  // them (SPEC's), so each search starts after the last key found and
  // mostly ends at its first comparison. In an object that names a key
  // twice (refused, whatever the values) the copy found may be either.
  std::optional<json_node> member(std::string_view key) const {
    if (!v_->IsObject())
      return std::nullopt;
    auto first = v_->MemberBegin();
    auto n = static_cast<size_t>(v_->MemberCount());
    auto i = next_ < n ? next_ : 0;
    for (size_t k = 0; k < n; ++k) {
      auto& m = first[static_cast<std::ptrdiff_t>(i)];
      if (m.name.GetStringLength() == key.size()
          && std::memcmp(m.name.GetString(), key.data(), key.size()) == 0) {
        next_ = i + 1;
        return json_node{&m.value, repeats_};
      }
      if (++i == n)
        i = 0;
    }
    return std::nullopt;
  }

  template <class F>
  void members(F f) const {
    for (auto i = v_->MemberBegin(); i != v_->MemberEnd(); ++i)
      f(std::string_view{i->name.GetString(), i->name.GetStringLength()},
        json_node{&i->value, repeats_});
  }

  size_t size() const { return v_->IsArray() ? v_->Size() : 0; }

  json_node at(size_t i) const {
    return json_node{&(*v_)[static_cast<rapidjson::SizeType>(i)], repeats_};
  }

  // Written to a buffer of the thread, then copied once at its size: the
  // value's length is known only when written.
  raw_value raw() const {
    thread_local std::string scratch;
    scratch.clear();
    json_text_writer w{scratch};
    v_->Accept(w);
    w.finish();
    raw_value result;
    result.format = codec::json;
    result.raw = scratch;
    if (scratch.capacity() > 64 * 1024)
      std::string{}.swap(scratch);
    return result;
  }

  // Parsing validated UTF-8 already; only the depth is left to check.
  bool check(size_t max_depth, std::string& why) const {
    if (!depth_ok(*v_, 1, max_depth)) {
      why = "is nested deeper than " + std::to_string(max_depth) + " levels";
      return false;
    }
    return true;
  }

private:
  static bool depth_ok(const rapidjson::Value& v, size_t depth, size_t max) {
    if (v.IsObject() || v.IsArray()) {
      if (depth > max)
        return false;
      if (v.IsObject()) {
        for (auto i = v.MemberBegin(); i != v.MemberEnd(); ++i)
          if (!depth_ok(i->value, depth + 1, max))
            return false;
      } else {
        for (auto& x : v.GetArray())
          if (!depth_ok(x, depth + 1, max))
            return false;
      }
    }
    return true;
  }

  const rapidjson::Value* v_;
  bool repeats_;
  mutable size_t next_ = 0;
};

class json_emitter {
public:
  static constexpr codec format = codec::json;

  explicit json_emitter(std::string& out) : w_{out} {
    // nop
  }

  void begin_object(size_t) { w_.StartObject(); }
  void end_object() { w_.EndObject(); }
  void begin_array(size_t) { w_.StartArray(); }
  void end_array() { w_.EndArray(); }
  // emit.hpp's keys are string literals that need no escape: written
  // whole. A key from the message (an extra field's name) is escaped.
  template <size_t N>
  void key(const char (&literal)[N]) {
    w_.LiteralKey(literal);
  }
  void key(std::string_view k) { w_.Key(k); }
  void string(std::string_view s) { w_.String(s); }
  void int64(int64_t v) { w_.Int64(v); }
  void uint64(uint64_t v) { w_.Uint64(v); }
  void boolean(bool v) { w_.Bool(v); }
  size_t size() const { return w_.size(); }

  void raw(const raw_value& v) {
    if (v.format == codec::json) {
      w_.RawValue(v.raw);
      return;
    }
    std::string tmp;
    if (msgpack_to_json(v.raw, tmp))
      w_.RawValue(tmp);
    else
      w_.Null();
  }

private:
  json_text_writer w_;
};

template <class T>
void encode_any(const T& x, std::string& out) {
  json_emitter e{out};
  emit(e, x);
}

// Whether parsed JSON text holds a \u escape of a low surrogate that does
// not follow a high one. rapidjson refuses a lone high surrogate but turns
// a lone low one into bytes that are not UTF-8, which the server would then
// forward in text frames (a browser closes on those) and cannot transcode
// to msgpack. Backslashes occur only inside strings, so scanning escapes is
// exact; most frames have none.
bool has_lone_low_surrogate(std::string_view text) {
  bool after_high = false;
  for (size_t i = text.find('\\'); i != std::string_view::npos;
       i = text.find('\\', i)) {
    if (i + 1 >= text.size())
      return false;
    if (text[i + 1] != 'u' || i + 5 >= text.size()) {
      after_high = false;
      i += 2;
      continue;
    }
    int unit = 0;
    for (size_t k = 2; k < 6; ++k)
      unit = unit * 16 + std::max(0, hex_digit(text[i + k]));
    auto low = unit >= 0xDC00 && unit <= 0xDFFF;
    // A low surrogate counts only right after a high one (no gap).
    if (low && !after_high)
      return true;
    after_high = unit >= 0xD800 && unit <= 0xDBFF;
    i += 6;
    if (after_high && (i >= text.size() || text[i] != '\\'))
      after_high = false; // rapidjson refused it already
  }
  return false;
}

/// What decoding a frame needs besides its result, kept by the thread
/// (thread_loan).
struct frame_scratch {
  alignas(std::max_align_t) char arena[16 * 1024];
  /// The document's stack of values in the making (a frame's: about
  /// 1 KiB; one more deeply nested or larger grows into the heap).
  alignas(std::max_align_t) char stack[4 * 1024];
  std::string text;
};

} // namespace

void decode_json(std::string_view bytes, const limits& lim,
                 decoded_frame& out) {
  // The document's values go to the arena while it lasts (rapidjson would
  // allocate a 64 KiB chunk per frame); what a larger frame needs beyond it
  // comes from the heap in 16 KiB chunks. The text is parsed in a copy
  // (strings decoded in place, not copied into the document).
  thread_loan<frame_scratch> scratch;
  rapidjson::MemoryPoolAllocator<> pool{scratch->arena, sizeof scratch->arena,
                                        sizeof scratch->arena};
  rapidjson::MemoryPoolAllocator<> stack_pool{
    scratch->stack, sizeof scratch->stack, sizeof scratch->stack};
  frame_document doc{&pool, 1024, &stack_pool};
  auto& text = scratch->text;
  // Duplicate keys are the reader's to report, as field errors of the
  // message or the batch they are in.
  auto r = parse_json_insitu(bytes, text, lim.max_depth + frame_depth_margin,
                             doc, false);
  if (!r.ok()) {
    out.error = errc::malformed_frame;
    out.error_message = r.message();
    return;
  }
  read_frame(json_node{&doc, r.repeated_keys}, lim, out);
  // A frame of the largest kind does not keep its copy.
  if (text.capacity() > 256 * 1024)
    std::string{}.swap(text);
}

void encode_json(const mobile_message& x, std::string& out) {
  encode_any(x, out);
}

void encode_json(const message_ack& x, std::string& out) {
  encode_any(x, out);
}

void encode_json(const heartbeat& x, std::string& out) {
  encode_any(x, out);
}

void encode_json(const batch_message& x, std::string& out) {
  encode_any(x, out);
}

void encode_json(const mobile_message& x, uint64_t seq, std::string& out) {
  // The envelope's fields around the payload fit in this for most messages,
  // so the frame is allocated once (doubling from empty took five).
  out.reserve(out.size() + 384 + x.payload.raw.size());
  json_emitter e{out};
  emit(e, x, seq);
}

void encode_json_batch(std::string_view id, int64_t timestamp,
                       const std::vector<delivery_view>& items,
                       std::string& out) {
  json_emitter e{out};
  emit_deliveries(e, id, timestamp, items);
}

} // namespace tether::protocol::detail

namespace tether::protocol {

std::string json_parse_result::message() const {
  switch (refusal) {
    case json_refusal::none:
      return "ok";
    case json_refusal::syntax:
      return "invalid JSON at offset " + std::to_string(offset);
    case json_refusal::too_deep:
      return "invalid JSON: nested deeper than " + std::to_string(max_depth)
             + " levels";
    case json_refusal::lone_surrogate:
      return "invalid JSON: a \\u escape of a lone surrogate is not Unicode";
    case json_refusal::duplicate_key:
      return "is given more than once";
  }
  return "invalid JSON";
}

namespace {

/// Passes a parse's events on to `Handler` and watches the keys of each
/// object on the way: whether one may name a key twice (two of its keys
/// hash alike). Most texts have no such object, and then the exact check
/// (duplicates.hpp), a second walk of the whole tree, is skipped. Keys are
/// hashed, not kept: outside an in-situ parse rapidjson hands a key over
/// in a buffer it reuses. The hashes of the objects open at the moment
/// live in buffers of the thread (each watch pops what it pushed).
template <class Handler>
class key_watch : public json_handler_relay<Handler> {
public:
  explicit key_watch(Handler& h)
    : json_handler_relay<Handler>(h), hashes_(hashes()), opens_(opens()),
      base_(hashes_.size()), open_base_(opens_.size()) {}

  ~key_watch() {
    hashes_.resize(base_);
    opens_.resize(open_base_);
  }

  key_watch(const key_watch&) = delete;
  key_watch& operator=(const key_watch&) = delete;

  bool repeated() const noexcept { return repeated_; }

  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    auto& hs = hashes_;
    auto h = key_hash(s, n);
    auto first = opens_.empty() ? base_ : opens_.back();
    // An object of many keys is left to the exact check (which sorts
    // them) rather than compared pairwise here.
    if (!repeated_
        && (hs.size() - first >= pairwise_keys
            || std::find(hs.begin() + static_cast<std::ptrdiff_t>(first),
                         hs.end(), h)
                 != hs.end()))
      repeated_ = true;
    hs.push_back(h);
    return this->next_.Key(s, n, copy);
  }
  bool StartObject() {
    opens_.push_back(hashes_.size());
    return this->next_.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    hashes_.resize(opens_.back());
    opens_.pop_back();
    return this->next_.EndObject(n);
  }

private:
  static constexpr size_t pairwise_keys = 16;

  // A key's bytes, not all of them read: a key of up to 16 bytes is its
  // first and last 8 (overlapping), a longer one its first and last 8 and
  // its length. Keys that hash alike only send their object to the exact
  // check, so a rare collision costs time, never a wrong answer; reading
  // every byte (FNV-1a) was two fifths of the parse's key handling.
  static uint64_t key_hash(const char* s, size_t n) {
    uint64_t a = 0;
    uint64_t b = 0;
    if (n <= 8) {
      std::memcpy(&a, s, n);
    } else {
      std::memcpy(&a, s, 8);
      std::memcpy(&b, s + n - 8, 8);
    }
    return (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ (uint64_t{n} << 58))
           * 0xC2B2AE3D27D4EB4FULL;
  }

  static std::vector<uint64_t>& hashes() {
    thread_local std::vector<uint64_t> xs;
    return xs;
  }
  static std::vector<size_t>& opens() {
    thread_local std::vector<size_t> xs;
    return xs;
  }

  std::vector<uint64_t>& hashes_;
  std::vector<size_t>& opens_;
  size_t base_;
  size_t open_base_;
  bool repeated_ = false;
};

/// The deepest limit parsed by rapidjson's recursive parser (a frame's is
/// 37 by default; a level is a few hundred bytes of stack).
constexpr size_t recursive_depth_max = 64;

// parse_json over any rapidjson input stream holding `text` (MemoryStream,
// or an in-situ copy of it).
template <unsigned Flags, class Stream, class Document>
json_parse_result parse_stream(std::string_view text, Stream& in,
                               size_t max_depth, Document& doc,
                               bool refuse_duplicates) {
  json_parse_result result;
  // UTF-8 checked over the whole text at once, before the parse: rapidjson's
  // own check (kParseValidateEncodingFlag) runs byte by byte through its
  // transcoder and was the most expensive part of reading a frame. The
  // text's bytes outside strings are JSON's ASCII or a syntax error anyway.
  if (auto valid = utf8_prefix(text); valid != text.size()) {
    doc.SetNull();
    result.refusal = json_refusal::syntax;
    result.offset = valid;
    return result;
  }
  // rapidjson's streams read a NUL as the end of the text, so one after a
  // value ended it early ("{}\0anything" parsed). JSON text never holds a
  // NUL (inside a string it is a control character, outside a syntax
  // error): refused where it is.
  if (auto* nul = std::memchr(text.data(), 0, text.size())) {
    doc.SetNull();
    result.refusal = json_refusal::syntax;
    result.offset
      = static_cast<size_t>(static_cast<const char*>(nul) - text.data());
    return result;
  }
  basic_json_depth_guard<Document> guard{doc, max_depth};
  // The reader's stack (its states, and strings copied while not in situ)
  // is kept by the thread between parses: a reader per parse grew it from
  // empty. A long text takes a reader of its own (the stack holds its
  // longest string while not in situ: the thread would keep that).
  detail::thread_loan<rapidjson::Reader> loan{text.size() <= 64 * 1024};
  auto& reader = *loan;
  // Recursive (rapidjson's faster parser) where the guard keeps the
  // recursion shallow: it refuses the level past max_depth before the
  // parser descends into it. Deeper limits parse iteratively: no recursion
  // whatever the nesting.
  key_watch<basic_json_depth_guard<Document>> watch{guard};
  auto parse = [&](Document&) {
    if (max_depth <= recursive_depth_max)
      return !reader.Parse<Flags>(in, watch).IsError();
    return !reader.Parse<Flags | rapidjson::kParseIterativeFlag>(in, watch)
              .IsError();
  };
  doc.Populate(parse);
  if (guard.too_deep()) {
    doc.SetNull();
    result.refusal = json_refusal::too_deep;
    result.max_depth = max_depth;
    return result;
  }
  if (reader.HasParseError()) {
    doc.SetNull();
    result.refusal = json_refusal::syntax;
    result.offset = reader.GetErrorOffset();
    return result;
  }
  if (detail::has_lone_low_surrogate(text)) {
    doc.SetNull();
    result.refusal = json_refusal::lone_surrogate;
    return result;
  }
  result.repeated_keys = watch.repeated();
  if (refuse_duplicates
      && detail::duplicate_finder<detail::json_node>{}.find(
        detail::json_node{&doc, result.repeated_keys}, result.field)) {
    doc.SetNull();
    result.refusal = json_refusal::duplicate_key;
  }
  return result;
}

} // namespace

json_parse_result parse_json(std::string_view text, size_t max_depth,
                             rapidjson::Document& doc, bool refuse_duplicates) {
  rapidjson::MemoryStream ms{text.data(), text.size()};
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in{
    ms};
  return parse_stream<0>(text, in, max_depth, doc, refuse_duplicates);
}

json_parse_result parse_json_insitu(std::string_view text, std::string& buffer,
                                    size_t max_depth, frame_document& doc,
                                    bool refuse_duplicates) {
  // A NUL to end it (parse_stream refuses one within the text), then padding
  // for the SIMD scans, which read aligned blocks of 16 bytes that may reach
  // past the NUL.
  buffer.assign(text);
  buffer.append(16, '\0');
  rapidjson::InsituStringStream in{buffer.data()};
  return parse_stream<rapidjson::kParseInsituFlag>(text, in, max_depth, doc,
                                                   refuse_duplicates);
}

} // namespace tether::protocol

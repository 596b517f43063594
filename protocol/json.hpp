#pragma once

// The one way Tether reads JSON text (frames, server API bodies, token
// parts, control payloads): rapidjson's parser, recursive only as deep as
// the nesting limit lets it go (at most 64 levels; iterative beyond, so no
// stack to exhaust), UTF-8 validated, nesting bounded while parsing, lone
// surrogate escapes refused, and no object that names a key twice (RFC 8259
// leaves duplicates to the reader; two readers that pick different copies
// are how an identity or a target is smuggled past a check).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace tether::protocol {

/// Why parse_json refused a text.
enum class json_refusal : uint8_t {
  none,
  syntax,         // not exactly one JSON value, or not UTF-8
  too_deep,       // objects and arrays nested deeper than allowed
  lone_surrogate, // a \u escape of a lone surrogate (not Unicode)
  duplicate_key,  // an object names a key more than once
};

struct json_parse_result {
  json_refusal refusal = json_refusal::none;
  /// syntax: the byte offset of the error.
  size_t offset = 0;
  /// too_deep: the limit. duplicate_key: unused.
  size_t max_depth = 0;
  /// duplicate_key: the key's path, e.g. `source` or `payload.items[2].k`.
  std::string field;
  /// Whether an object of a parsed text may name a key twice (false: none
  /// does, so a reader that refuses them need not look).
  bool repeated_keys = true;

  bool ok() const noexcept { return refusal == json_refusal::none; }

  /// What was refused, for humans (the field is not repeated in it).
  std::string message() const;
};

/// A frame's document (parse_json_insitu): its values and the stack of
/// values in the making during its parse both come from memory pools over
/// the caller's scratch (rapidjson::Document mallocs its stack on every
/// parse and frees it after, two allocations per frame).
using frame_document
  = rapidjson::GenericDocument<rapidjson::UTF8<>,
                               rapidjson::MemoryPoolAllocator<>,
                               rapidjson::MemoryPoolAllocator<>>;

/// A rapidjson SAX handler that passes every event on to `next`: the base
/// of a handler that watches some events on the way (it declares those
/// again, calling next_ itself; the reader calls the handler's own type, so
/// they are the ones it finds).
template <class Next>
class json_handler_relay {
public:
  using Ch = char;

  explicit json_handler_relay(Next& next) : next_(next) {}

  bool Null() { return next_.Null(); }
  bool Bool(bool b) { return next_.Bool(b); }
  bool Int(int i) { return next_.Int(i); }
  bool Uint(unsigned i) { return next_.Uint(i); }
  bool Int64(int64_t i) { return next_.Int64(i); }
  bool Uint64(uint64_t i) { return next_.Uint64(i); }
  bool Double(double d) { return next_.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.RawNumber(s, n, copy);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.String(s, n, copy);
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.Key(s, n, copy);
  }
  bool StartObject() { return next_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return next_.EndObject(n); }
  bool StartArray() { return next_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return next_.EndArray(n); }

protected:
  Next& next_;
};

/// A document's SAX handler behind a depth count, for rapidjson's readers:
/// a value nested deeper than `max_depth` (the top level is 1) stops the
/// parse there, before the recursive reader descends into it. Header-only, so
/// that tools without Tether's libraries (tools/baseline) bound their parse the
/// same way.
template <class Document>
class basic_json_depth_guard : public json_handler_relay<Document> {
public:
  basic_json_depth_guard(Document& doc, size_t max_depth)
    : json_handler_relay<Document>(doc), max_(max_depth) {
    // nop
  }

  bool too_deep() const noexcept { return too_deep_; }

  bool StartObject() { return enter() && this->next_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return this->next_.EndObject(n);
  }
  bool StartArray() { return enter() && this->next_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return this->next_.EndArray(n);
  }

private:
  bool enter() {
    if (++depth_ > max_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  size_t max_;
  size_t depth_ = 0;
  bool too_deep_ = false;
};

using json_depth_guard = basic_json_depth_guard<rapidjson::Document>;

/// Parses `text` (one JSON value, UTF-8) into `doc`. Objects and arrays
/// nested deeper than `max_depth` (the top level is 1) stop the parse at
/// the first level too deep; with `refuse_duplicates`, an object at any
/// level that names a key twice is refused with the key's path. Never
/// throws; the parse and the duplicate check recurse at most `max_depth`
/// levels (the parse not at all past 64; callers give small limits: a
/// frame's, a token's).
json_parse_result parse_json(std::string_view text, size_t max_depth,
                             rapidjson::Document& doc,
                             bool refuse_duplicates = true);

/// parse_json on a copy of `text` in `buffer`, which the parse decodes
/// strings in (rapidjson's in-situ parse: no string is copied again): the
/// document's strings point into `buffer`, which must outlive their use.
/// The cheaper parse, for a frame read once and dropped.
json_parse_result parse_json_insitu(std::string_view text, std::string& buffer,
                                    size_t max_depth, frame_document& doc,
                                    bool refuse_duplicates = true);

} // namespace tether::protocol

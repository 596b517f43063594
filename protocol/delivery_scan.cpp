#include "protocol/delivery_scan.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "protocol/control.hpp"

namespace tether::protocol {

namespace {

using rapidjson::SizeType;

// Where a value sits in the frame.
enum class ctx : uint8_t {
  top,      // the frame: a message, or a batch
  messages, // a batch's `messages` array
  message,  // an element of it
  source,
  optimization,
  payload,
  other, // anything else: only nested, never read
};

// The keys the scan reads; bits of `level::seen` (a key twice: refused).
enum key : uint32_t {
  k_none = 0,
  k_id = 1u << 0,
  k_seq = 1u << 1,
  k_type = 1u << 2,
  k_timestamp = 1u << 3,
  k_protocol_version = 1u << 4,
  k_source = 1u << 5,
  k_destination = 1u << 6,
  k_optimization = 1u << 7,
  k_payload = 1u << 8,
  k_messages = 1u << 9,
  k_user_id = 1u << 10,
  k_priority = 1u << 11,
  k_requires_ack = 1u << 12,
  k_probe = 1u << 13, // the payload's first key, "t"
  k_other = 1u << 14, // not read (its value may still be a container)
};

// What a message must have (SPEC §3.1) for the scan to take it.
constexpr uint32_t required = k_id | k_type | k_timestamp | k_protocol_version
                              | k_source | k_destination | k_optimization;

// What is known of the message being read.
struct message_meta {
  uint32_t seen = 0;
  bool has_priority = false;
  bool system_user = false;
  bool control_type = false;
};

struct level {
  ctx where = ctx::other;
  key pending = k_none; // the key whose value comes next
  uint32_t seen = 0;    // keys read in this object
  bool first_key = true;
  received_view* view = nullptr;
  message_meta* meta = nullptr;
};

void reset(received_view& v) {
  v.id.clear();
  v.has_seq = false;
  v.seq = 0;
  v.requires_ack = false;
  v.prio = priority::normal;
  v.has_probe = false;
  v.probe = 0;
}

bool is_message(const message_meta& m, const received_view& v) {
  return (m.seen & required) == required && m.has_priority && !v.id.empty()
         && !(m.system_user && m.control_type);
}

class handler {
public:
  using Ch = char;

  handler(std::vector<received_view>& out, received_view& top,
          std::vector<level>& levels, size_t max_depth)
    : out_(out), top_(top), levels_(levels), max_depth_(max_depth) {
    levels_.clear();
  }

  bool batch() const noexcept { return batch_; }
  size_t items() const noexcept { return items_; }
  const message_meta& top_meta() const noexcept { return top_meta_; }

  bool Null() { return scalar(); }
  bool Bool(bool b) {
    auto* l = current();
    if (l && l->where == ctx::optimization && l->pending == k_requires_ack) {
      l->view->requires_ack = b;
      l->pending = k_none;
      return true;
    }
    return scalar();
  }
  bool Int(int) { return number(); }
  bool Int64(int64_t) { return number(); }
  bool Double(double) { return number(); }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Uint64(uint64_t u) {
    auto* l = current();
    if (l && l->pending == k_seq) {
      l->view->has_seq = true;
      l->view->seq = u;
      l->pending = k_none;
      return true;
    }
    if (l && l->pending == k_probe) {
      l->view->has_probe = true;
      l->view->probe = u;
      l->pending = k_none;
      return true;
    }
    return number();
  }
  bool RawNumber(const Ch*, SizeType, bool) { return number(); }

  bool String(const Ch* s, SizeType n, bool) {
    auto* l = current();
    if (!l)
      return false; // a frame that is a string
    std::string_view text{s, n};
    switch (l->pending) {
      case k_id:
        l->view->id.assign(s, n);
        break;
      case k_type:
        l->meta->control_type = text.substr(0, control_type_prefix.size())
                                == control_type_prefix;
        break;
      case k_user_id:
        l->meta->system_user = text == server_user_id;
        break;
      case k_priority:
        if (!from_string(text, l->view->prio))
          return false;
        l->meta->has_priority = true;
        break;
      case k_protocol_version:
      case k_other:
      case k_none:
      case k_payload: // a string payload: no probe
        break;
      default:
        return false; // a string where the scan wants a number or object
    }
    l->pending = k_none;
    return l->where != ctx::messages;
  }

  bool Key(const Ch* s, SizeType n, bool) {
    auto* l = current();
    std::string_view k{s, n};
    key found = k_other;
    switch (l->where) {
      case ctx::top:
      case ctx::message:
        if (k == "id")
          found = k_id;
        else if (k == "seq")
          found = k_seq;
        else if (k == "type")
          found = k_type;
        else if (k == "timestamp")
          found = k_timestamp;
        else if (k == "protocolVersion")
          found = k_protocol_version;
        else if (k == "source")
          found = k_source;
        else if (k == "destination")
          found = k_destination;
        else if (k == "optimization")
          found = k_optimization;
        else if (k == "payload")
          found = k_payload;
        else if (k == "messages")
          found = k_messages;
        else if (k == "messageId" || k == "status")
          return false; // an ack, or a message that claims to be one
        break;
      case ctx::source:
        if (k == "userId")
          found = k_user_id;
        break;
      case ctx::optimization:
        if (k == "priority")
          found = k_priority;
        else if (k == "requiresAck")
          found = k_requires_ack;
        break;
      case ctx::payload:
        if (l->first_key && k == "t")
          found = k_probe;
        break;
      default:
        break;
    }
    l->first_key = false;
    if (found != k_other) {
      if (l->seen & found)
        return false; // given twice: protocol::decode refuses it
      l->seen |= found;
    }
    if (found == k_messages) {
      if (l->where != ctx::top)
        return false; // a message inside a batch that carries `messages`
      batch_ = true;
    }
    l->pending = found;
    return true;
  }

  bool StartObject() {
    level next;
    if (levels_.empty()) {
      next.where = ctx::top;
      next.view = &top_;
      next.meta = &top_meta_;
      return push(next);
    }
    auto& l = levels_.back();
    next.view = l.view;
    next.meta = l.meta;
    if (l.where == ctx::messages) {
      if (out_.size() <= items_)
        out_.emplace_back();
      next.where = ctx::message;
      next.view = &out_[items_];
      reset(*next.view);
      item_meta_ = {};
      next.meta = &item_meta_;
      return push(next);
    }
    switch (l.pending) {
      case k_source:
        next.where = ctx::source;
        break;
      case k_optimization:
        next.where = ctx::optimization;
        break;
      case k_payload:
        next.where = ctx::payload;
        break;
      case k_destination:
      case k_other:
      case k_none: // in `other`: nothing is pending there
        next.where = ctx::other;
        break;
      default:
        return false; // an object where the scan wants a string or number
    }
    l.pending = k_none;
    return push(next);
  }

  bool EndObject(SizeType) {
    auto done = levels_.back();
    levels_.pop_back();
    if (done.where == ctx::message || done.where == ctx::top)
      done.meta->seen = done.seen;
    if (done.where == ctx::message) {
      if (!is_message(*done.meta, *done.view))
        return false;
      ++items_;
    }
    return true;
  }

  bool StartArray() {
    if (levels_.empty())
      return false; // a frame is an object
    auto& l = levels_.back();
    level next;
    next.view = l.view;
    next.meta = l.meta;
    if (l.pending == k_messages) {
      next.where = ctx::messages;
    } else if (l.pending == k_payload || l.pending == k_other
               || l.pending == k_none) {
      next.where = ctx::other;
    } else {
      return false; // an array where the scan wants a string or object
    }
    l.pending = k_none;
    return push(next);
  }

  bool EndArray(SizeType) {
    levels_.pop_back();
    return true;
  }

private:
  level* current() { return levels_.empty() ? nullptr : &levels_.back(); }

  bool push(const level& l) {
    if (levels_.size() >= max_depth_)
      return false;
    levels_.push_back(l);
    return true;
  }

  // A value the scan does not read: fine where nothing specific is wanted.
  bool scalar() {
    auto* l = current();
    if (!l || l->where == ctx::messages)
      return false;
    switch (l->pending) {
      case k_none:
      case k_other:
      case k_payload:
        break;
      default:
        return false;
    }
    l->pending = k_none;
    return true;
  }

  bool number() {
    auto* l = current();
    if (l && l->pending == k_timestamp) {
      l->pending = k_none;
      return true;
    }
    return scalar();
  }

  std::vector<received_view>& out_;
  received_view& top_;
  std::vector<level>& levels_;
  size_t max_depth_;
  message_meta top_meta_;
  message_meta item_meta_;
  size_t items_ = 0;
  bool batch_ = false;
};

} // namespace

struct delivery_scan::impl {
  rapidjson::Reader reader;
  received_view top;
  // The open objects and arrays of the frame being read.
  std::vector<level> levels;
};

delivery_scan::delivery_scan() : impl_(std::make_unique<impl>()) {
  // nop
}

delivery_scan::~delivery_scan() = default;

bool delivery_scan::scan(std::string_view frame, size_t max_depth) {
  auto& i = *impl_;
  reset(i.top);
  count_ = 0;
  handler h{messages_, i.top, i.levels, max_depth};
  rapidjson::MemoryStream ms{frame.data(), frame.size()};
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in{
    ms};
  constexpr unsigned flags = rapidjson::kParseIterativeFlag
                             | rapidjson::kParseValidateEncodingFlag;
  if (i.reader.Parse<flags>(in, h).IsError())
    return false;
  if (h.batch()) {
    count_ = h.items();
    return count_ > 0;
  }
  if (!is_message(h.top_meta(), i.top))
    return false;
  if (messages_.empty())
    messages_.emplace_back();
  std::swap(messages_.front(), i.top);
  count_ = 1;
  return true;
}

} // namespace tether::protocol

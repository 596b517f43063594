#pragma once

// Finding an object that names a key twice, at any level of a parsed value,
// written once over the "node" view of detail/parse.hpp (JSON and msgpack).
// Include in protocol/*.cpp only.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/validate.hpp"

namespace tether::protocol::detail {

/// A key as it appears in a field path: a key that is not UTF-8 (msgpack)
/// is not echoed, since the answer naming it must be valid UTF-8.
inline std::string printable_key(std::string_view key) {
  if (!valid_utf8(key))
    return "(a key that is not UTF-8)";
  return std::string{key};
}

/// `head` then the path `tail` below it: `a` + `b` is `a.b`, `a` + `[2].b`
/// is `a[2].b`.
inline std::string join_path(std::string head, const std::string& tail) {
  if (!tail.empty() && tail.front() != '[')
    head += '.';
  head += tail;
  return head;
}

/// Finds a key named twice in one object of a parsed value. The recursion
/// follows the value's nesting, which the parsers bound (parse_json's
/// max_depth, msgpack's unpack_limit).
template <class Node>
class duplicate_finder {
public:
  /// Whether `node`, or a value in it, is an object naming a key twice;
  /// `path` is then that key's path relative to `node`. The member `skip`
  /// of `node` (if any) is not looked into (a batch's messages are each
  /// checked as a message); its name still counts.
  bool find(const Node& node, std::string& path, std::string_view skip = {}) {
    // The parser saw no object naming a key twice.
    if (!node.may_repeat_keys())
      return false;
    auto found = scan(node, path, skip);
    // An object of thousands of keys does not keep its buffer.
    if (keys_.empty() && keys_.capacity() > 4096)
      keys_.shrink_to_fit();
    return found;
  }

private:
  // Small objects are compared pairwise; larger ones sorted.
  static constexpr size_t pairwise_max = 16;

  bool scan(const Node& node, std::string& path, std::string_view skip) {
    if (node.is_object()) {
      auto start = keys_.size();
      node.members(
        [this](std::string_view k, const Node&) { keys_.push_back(k); });
      std::string_view twice;
      auto found = repeated(start, twice);
      keys_.resize(start);
      if (found) {
        path = printable_key(twice);
        return true;
      }
      auto hit = false;
      node.members([&](std::string_view k, const Node& v) {
        if (hit || (!skip.empty() && k == skip))
          return;
        std::string below;
        if (scan(v, below, {})) {
          path = join_path(printable_key(k), below);
          hit = true;
        }
      });
      return hit;
    }
    if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) {
        std::string below;
        if (scan(node.at(i), below, {})) {
          path = join_path("[" + std::to_string(i) + "]", below);
          return true;
        }
      }
    }
    return false;
  }

  // Whether keys_[start..] holds a key twice (the segment may be reordered).
  bool repeated(size_t start, std::string_view& twice) {
    auto first = keys_.begin() + static_cast<std::ptrdiff_t>(start);
    auto n = keys_.size() - start;
    if (n < 2)
      return false;
    if (n <= pairwise_max) {
      for (auto i = first; i != keys_.end(); ++i)
        for (auto j = std::next(i); j != keys_.end(); ++j)
          if (*i == *j) {
            twice = *i;
            return true;
          }
      return false;
    }
    std::sort(first, keys_.end());
    auto i = std::adjacent_find(first, keys_.end());
    if (i == keys_.end())
      return false;
    twice = *i;
    return true;
  }

  // The keys of the objects being scanned, outermost first; each scan pops
  // what it pushed. One buffer per thread, kept between frames: a vector
  // per finder grew from empty on every frame.
  static std::vector<std::string_view>& key_buffer() {
    thread_local std::vector<std::string_view> keys;
    return keys;
  }

  std::vector<std::string_view>& keys_ = key_buffer();
};

} // namespace tether::protocol::detail

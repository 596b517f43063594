#pragma once

// A room's members grouped by the event loop their queues run on: one list
// of handles per loop, shared with whoever fans a publish out on that loop
// (copied only when the membership changes while a publish still reads the
// list), so that a publish hands each loop its members without copying
// them. The codecs in use are counted as members come and go. Pure: the
// handle is a parameter (queue handles in the room, ints in the tests).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "actors/room/presence_set.hpp"
#include "protocol/model.hpp"

namespace tether::actors {

template <class Handle>
class member_lists {
public:
  using list = std::vector<Handle>;
  using list_ptr = std::shared_ptr<const list>;

  struct member {
    Handle handle;
    protocol::codec codec = protocol::codec::json;
    /// -1: unknown.
    int32_t loop = -1;
  };

  /// Adds `k`, or gives it this handle, codec and loop.
  void put(const member_key& k, Handle h, protocol::codec c, int32_t loop) {
    erase(k);
    auto it = index_.emplace(k, slot{member{std::move(h), c, loop}, 0}).first;
    auto& g = group_of(loop);
    auto& hs = writable(g);
    hs.push_back(it->second.m.handle);
    g.slots.push_back(&*it);
    it->second.index = hs.size() - 1;
    ++codecs_[codec_index(c)];
  }

  /// Removes `k` (nothing if it is no member).
  void erase(const member_key& k) {
    auto it = index_.find(k);
    if (it == index_.end())
      return;
    auto& g = group_of(it->second.m.loop);
    auto& hs = writable(g);
    auto i = it->second.index;
    auto last = hs.size() - 1;
    if (i != last) {
      hs[i] = std::move(hs[last]);
      g.slots[i] = g.slots[last];
      g.slots[i]->second.index = i;
    }
    hs.pop_back();
    g.slots.pop_back();
    --codecs_[codec_index(it->second.m.codec)];
    index_.erase(it);
  }

  /// The member `k`, or nullptr.
  const member* find(const member_key& k) const {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &it->second.m;
  }

  size_t size() const noexcept { return index_.size(); }

  /// Members whose messages are encoded with `c`.
  size_t count(protocol::codec c) const noexcept {
    return codecs_[codec_index(c)];
  }

  /// Groups, one per loop (some may be empty).
  size_t groups() const noexcept { return groups_.size(); }

  /// The loop of group `g` (-1: members whose loop is unknown).
  static int32_t loop_of(size_t g) noexcept {
    return static_cast<int32_t>(g) - 1;
  }

  /// The handles of group `g`, to read now.
  const list& view(size_t g) const { return *groups_[g].handles; }

  /// The handles of group `g`, to read later (elsewhere): a change of the
  /// membership meanwhile leaves this list as it is.
  list_ptr share(size_t g) const { return groups_[g].handles; }

  /// Calls `f(key, member)` for every member, in key order.
  template <class F>
  void for_each(F&& f) const {
    for (auto& [k, s] : index_)
      f(k, s.m);
  }

private:
  struct slot {
    member m;
    /// Where its handle is in its group's list.
    size_t index;
  };

  using entry = typename std::map<member_key, slot>::value_type;

  struct group {
    std::shared_ptr<list> handles = std::make_shared<list>();
    /// The index entry of each handle, in the same order.
    std::vector<entry*> slots;
  };

  static size_t codec_index(protocol::codec c) noexcept {
    return c == protocol::codec::json ? 0 : 1;
  }

  group& group_of(int32_t loop) {
    auto g = static_cast<size_t>(std::max<int32_t>(loop, -1) + 1);
    if (g >= groups_.size())
      groups_.resize(g + 1);
    return groups_[g];
  }

  // The list of `g` to change: a copy if a publish still reads it. Only
  // this side hands out references, so a count of one stays one; the fence
  // orders the reader's last use (before its release of the count) before
  // the writes that follow.
  list& writable(group& g) {
    if (g.handles.use_count() > 1)
      g.handles = std::make_shared<list>(*g.handles);
    std::atomic_thread_fence(std::memory_order_acquire);
    return *g.handles;
  }

  std::map<member_key, slot> index_;
  std::vector<group> groups_;
  std::array<size_t, 2> codecs_{};
};

} // namespace tether::actors

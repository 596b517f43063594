#define CAF_SUITE actors.dedup_window
#include <caf/test/unit_test.hpp>

#include <deque>
#include <optional>
#include <string>

#include "actors/directory/dedup_window.hpp"

using namespace tether::actors;
using namespace std::chrono_literals;

CAF_TEST(an id is a duplicate within the window with its first count) {
  dedup_window w{10s, 100};
  CAF_CHECK(!w.seen("m1", 0));
  w.remember("m1", 3, 0);
  CAF_CHECK_EQUAL(w.seen("m1", 9999).value_or(0), 3u);
  // A second acceptance does not replace the first count.
  w.remember("m1", 5, 10);
  CAF_CHECK_EQUAL(w.seen("m1", 20).value_or(0), 3u);
  // Past the window it is new again, and remembered afresh.
  CAF_CHECK(!w.seen("m1", 10000));
  w.remember("m1", 7, 10000);
  CAF_CHECK_EQUAL(w.seen("m1", 10001).value_or(0), 7u);
  CAF_CHECK_EQUAL(w.size(), 1u);
  // The superseded entry of the first acceptance does not evict the new one.
  w.remember("m2", 1, 10002);
  CAF_CHECK_EQUAL(w.seen("m1", 10003).value_or(0), 7u);
}

CAF_TEST(the capacity bounds the ids and the oldest go first) {
  dedup_window w{10min, 3};
  for (int i = 0; i < 5; ++i)
    w.remember("m" + std::to_string(i), 1, i);
  CAF_CHECK_EQUAL(w.size(), 3u);
  CAF_CHECK(!w.seen("m0", 10));
  CAF_CHECK(!w.seen("m1", 10));
  CAF_CHECK(w.seen("m2", 10));
  CAF_CHECK(w.seen("m4", 10));
}

CAF_TEST(expired ids are dropped as new ones come) {
  dedup_window w{100ms, 1000};
  for (int i = 0; i < 50; ++i)
    w.remember("a" + std::to_string(i), 1, 0);
  w.remember("late", 1, 100);
  CAF_CHECK_EQUAL(w.size(), 1u);
}

CAF_TEST(a forgotten id is new again and the others stay) {
  dedup_window w{10min, 8};
  for (int i = 0; i < 6; ++i)
    w.remember("f" + std::to_string(i), static_cast<uint32_t>(i), i);
  w.forget("f2");
  w.forget("absent");
  CAF_CHECK(!w.seen("f2", 10));
  CAF_CHECK_EQUAL(w.size(), 5u);
  for (int i : {0, 1, 3, 4, 5})
    CAF_CHECK_EQUAL(w.seen("f" + std::to_string(i), 10).value_or(99),
                    static_cast<uint32_t>(i));
  w.remember("f2", 42, 11);
  CAF_CHECK_EQUAL(w.seen("f2", 12).value_or(0), 42u);
}

// The window against a plain model (a list searched from end to end) over
// a long random run: remembered, forgotten, expired and evicted ids, the
// ring wrapping and growing, index cells shifted back on every removal.
CAF_TEST(the window agrees with a linear model over a random run) {
  struct model_slot {
    std::string id;
    int64_t at = 0;
    uint32_t recipients = 0;
    bool live = false;
  };
  const int64_t window = 500;
  const size_t capacity = 37;
  dedup_window w{std::chrono::milliseconds{window}, capacity};
  std::deque<model_slot> model;
  auto model_find = [&](const std::string& id) -> model_slot* {
    for (auto& s : model)
      if (s.live && s.id == id)
        return &s;
    return nullptr;
  };
  uint64_t rng = 0x9e3779b97f4a7c15;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  int64_t now = 0;
  size_t mismatches = 0;
  for (int step = 0; step < 20000; ++step) {
    now += static_cast<int64_t>(next() % 7);
    // Few distinct ids, so that resends, forgets and re-acceptances happen.
    auto id = "id-" + std::to_string(next() % 120);
    auto op = next() % 10;
    if (op < 6) {
      auto recipients = static_cast<uint32_t>(next() % 5);
      while (!model.empty()) {
        auto& f = model.front();
        if (model.size() < capacity && f.live && now - f.at < window)
          break;
        model.pop_front();
      }
      if (auto* s = model_find(id)) {
        if (now - s->at < window) {
          w.remember(id, recipients, now);
          continue;
        }
        s->live = false;
      }
      model.push_back({id, now, recipients, true});
      w.remember(id, recipients, now);
    } else if (op < 7) {
      if (auto* s = model_find(id))
        s->live = false;
      w.forget(id);
    } else {
      std::optional<uint32_t> expect;
      if (auto* s = model_find(id); s && now - s->at < window)
        expect = s->recipients;
      if (w.seen(id, now) != expect)
        ++mismatches;
    }
    size_t live = 0;
    for (auto& s : model)
      live += s.live ? 1 : 0;
    if (w.size() != live)
      ++mismatches;
  }
  CAF_CHECK_EQUAL(mismatches, 0u);
}

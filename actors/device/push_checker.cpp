#include "actors/device/push_checker.hpp"

#include <algorithm>
#include <limits>

namespace tether::actors {

namespace {

constexpr int64_t never = std::numeric_limits<int64_t>::min() / 2;

std::string ms(int64_t ns) {
  return std::to_string(ns / 1'000'000) + " ms";
}

void note(push_check_result& r, std::string what) {
  if (r.examples.size() < 10)
    r.examples.push_back(std::move(what));
}

// One episode and the messages waiting in it: those that reached the
// device while it was in the background, and those it had not acked when
// it went.
struct window {
  int64_t from = 0;
  int64_t to = 0;
  std::vector<push_log::receipt> waiting; // by arrival
};

std::vector<window> windows_of(const push_log& log, int64_t end_ns) {
  std::vector<window> out;
  for (auto& e : log.episodes) {
    window w{
      e.background_ns, e.foreground_ns > 0 ? e.foreground_ns : end_ns, {}};
    for (auto& r : log.receipts)
      if ((r.at_ns >= w.from && r.at_ns < w.to)
          || (r.at_ns < w.from && r.seq > e.acked_seq))
        w.waiting.push_back(r);
    std::sort(w.waiting.begin(), w.waiting.end(),
              [](auto& a, auto& b) { return a.at_ns < b.at_ns; });
    out.push_back(std::move(w));
  }
  return out;
}

// The last push before `t`, or `never`.
int64_t last_before(const std::vector<int64_t>& pushes, int64_t t) {
  auto i = std::lower_bound(pushes.begin(), pushes.end(), t);
  return i == pushes.begin() ? never : *(i - 1);
}

} // namespace

push_check_result check_pushes(const std::string& key, const push_log& log,
                               std::vector<int64_t> pushes, int64_t end_ns,
                               const push_check_params& p) {
  push_check_result r;
  std::sort(pushes.begin(), pushes.end());
  r.sent = pushes.size();
  auto tol = p.tolerance_ns;
  auto windows = windows_of(log, end_ns);
  // Due, as the policy would decide from the device's times: the earliest
  // uncovered message's time plus the delay (not before the interval since
  // the last push), while the episode lasts.
  for (auto& w : windows) {
    auto last = last_before(pushes, w.from);
    size_t covered = 0;
    while (covered < w.waiting.size()) {
      auto& m = w.waiting[covered];
      auto at = std::max(std::max(m.at_ns, w.from) + p.delay_ns,
                         last == never ? never : last + p.min_interval_ns);
      if (at >= w.to)
        break;
      ++r.due;
      last = at;
      while (covered < w.waiting.size() && w.waiting[covered].at_ns < at)
        ++covered;
    }
  }
  // Missed: a message certainly due (its push time, late as the tolerance
  // allows, still before the episode ended) that no push covered; one
  // missing push covers what it would have.
  for (auto& w : windows) {
    int64_t virtual_push = never;
    for (auto& m : w.waiting) {
      if (m.at_ns < virtual_push)
        continue;
      auto due = std::max(m.at_ns, w.from + tol) + p.delay_ns;
      if (auto q = last_before(pushes, due); q != never)
        due = std::max(due, q + p.min_interval_ns);
      if (due + tol >= w.to)
        continue; // not certain: the episode ended about then
      auto from = m.at_ns < w.from ? w.from - tol : m.at_ns - tol;
      auto hit = std::lower_bound(pushes.begin(), pushes.end(), from);
      if (hit != pushes.end() && *hit <= due + tol)
        continue;
      ++r.missed;
      virtual_push = due;
      note(r, key + ": no push for a message that reached it at +"
                + ms(m.at_ns - w.from) + " of its background episode (due by +"
                + ms(due - w.from) + ", the episode lasted " + ms(w.to - w.from)
                + ")");
    }
  }
  // Unnecessary: each push needs an episode it falls in, past the delay,
  // with a message waiting by then, and the interval since the last one.
  for (size_t i = 0; i < pushes.size(); ++i) {
    auto t = pushes[i];
    if (i > 0 && t - pushes[i - 1] < p.min_interval_ns - tol) {
      ++r.unnecessary;
      note(r,
           key + ": a push " + ms(t - pushes[i - 1]) + " after the one before");
      continue;
    }
    auto justified = false;
    for (auto& w : windows) {
      if (t < w.from + p.delay_ns - tol || t > w.to + tol)
        continue;
      for (auto& m : w.waiting)
        if (std::max(m.at_ns - tol, w.from) + p.delay_ns - tol <= t) {
          justified = true;
          break;
        }
      if (justified)
        break;
    }
    if (!justified) {
      ++r.unnecessary;
      note(r, key
                + ": a push with no message waiting for push.delay in a "
                  "background episode");
    }
  }
  return r;
}

void merge(push_check_result& total, const push_check_result& x) {
  total.due += x.due;
  total.sent += x.sent;
  total.missed += x.missed;
  total.unnecessary += x.unnecessary;
  for (auto& e : x.examples)
    if (total.examples.size() < 10)
      total.examples.push_back(e);
}

} // namespace tether::actors

#include "runtime/push_http.hpp"

#include <curl/curl.h>

#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace tether::runtime {

namespace {

// One request in flight: the easy handle and what it needs to live.
struct request {
  http_post post;
  std::function<void(http_answer)> done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  http_answer answer;
  size_t max_body = 0;
  char error[CURL_ERROR_SIZE] = {};

  ~request() {
    if (easy)
      curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<request*>(user);
  auto bytes = size * n;
  auto room = r->max_body - std::min(r->max_body, r->answer.body.size());
  r->answer.body.append(data, std::min(bytes, room));
  return bytes; // the rest is dropped, not an error
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<request*>(user);
  auto bytes = size * n;
  constexpr std::string_view name = "retry-after:";
  if (bytes > name.size()) {
    auto match = true;
    for (size_t i = 0; i < name.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(data[i])) == name[i];
    if (match) {
      std::string value{data + name.size(), bytes - name.size()};
      auto first = value.find_first_not_of(" \t");
      auto last = value.find_last_not_of(" \t\r\n");
      r->answer.retry_after = first == std::string::npos
                                ? ""
                                : value.substr(first, last - first + 1);
    }
  }
  return bytes;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("cannot initialize libcurl");
  });
}

} // namespace

struct push_http::impl {
  options opts;
  CURLM* multi = nullptr;
  std::mutex mx;
  std::deque<std::unique_ptr<request>> incoming;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> pending{0};
  std::thread worker;

  explicit impl(options o) : opts(std::move(o)) {
    global_init();
    multi = curl_multi_init();
    if (!multi)
      throw std::runtime_error("cannot create a libcurl multi handle");
    // Requests to one origin share its HTTP/2 connection.
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 32L);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    worker = std::thread{[this] { run(); }};
  }

  ~impl() {
    stopping = true;
    curl_multi_wakeup(multi);
    worker.join();
    curl_multi_cleanup(multi);
  }

  // Configures the easy handle of `r`; false (with r->answer.error) if
  // libcurl refused an option.
  bool prepare(request& r) {
    r.easy = curl_easy_init();
    if (!r.easy) {
      r.answer.error = "cannot create a libcurl handle";
      return false;
    }
    auto* e = r.easy;
    for (auto& h : r.post.headers)
      r.headers = curl_slist_append(r.headers, h.c_str());
    // libcurl would announce "Expect: 100-continue" for larger bodies.
    r.headers = curl_slist_append(r.headers, "Expect:");
    r.max_body = opts.max_body;
    auto ok = true;
    auto set = [&](CURLoption o, auto v) {
      ok = ok && curl_easy_setopt(e, o, v) == CURLE_OK;
    };
    set(CURLOPT_URL, r.post.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // Wait for a connection being set up to multiplex on it rather than
    // open another.
    set(CURLOPT_PIPEWAIT, 1L);
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, r.post.body.data());
    set(CURLOPT_POSTFIELDSIZE_LARGE,
        static_cast<curl_off_t>(r.post.body.size()));
    set(CURLOPT_HTTPHEADER, r.headers);
    set(CURLOPT_USERAGENT, "tether/" TETHER_VERSION);
    set(CURLOPT_WRITEFUNCTION, on_body);
    set(CURLOPT_WRITEDATA, &r);
    set(CURLOPT_HEADERFUNCTION, on_header);
    set(CURLOPT_HEADERDATA, &r);
    set(CURLOPT_ERRORBUFFER, r.error);
    set(CURLOPT_PRIVATE, &r);
    if (!opts.ca_file.empty())
      set(CURLOPT_CAINFO, opts.ca_file.c_str());
    if (!ok)
      r.answer.error = "libcurl refused an option";
    return ok;
  }

  void finish(std::unique_ptr<request> r) {
    --pending;
    auto done = std::move(r->done);
    auto answer = std::move(r->answer);
    r.reset();
    done(std::move(answer));
  }

  void run() {
    std::vector<std::unique_ptr<request>> active;
    while (!stopping) {
      std::deque<std::unique_ptr<request>> batch;
      {
        std::lock_guard<std::mutex> guard{mx};
        batch.swap(incoming);
      }
      for (auto& r : batch) {
        if (!prepare(*r) || curl_multi_add_handle(multi, r->easy) != CURLM_OK) {
          if (r->answer.error.empty())
            r->answer.error = "libcurl refused the request";
          finish(std::move(r));
          continue;
        }
        active.push_back(std::move(r));
      }
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (auto* m = curl_multi_info_read(multi, &left)) {
        if (m->msg != CURLMSG_DONE)
          continue;
        request* raw = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &raw);
        auto result = m->data.result;
        curl_multi_remove_handle(multi, m->easy_handle);
        for (auto i = active.begin(); i != active.end(); ++i) {
          if (i->get() != raw)
            continue;
          auto r = std::move(*i);
          active.erase(i);
          if (result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
                              &r->answer.status);
            long v = 0;
            curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &v);
            r->answer.version = v == CURL_HTTP_VERSION_2_0 ? 2 : 1;
          } else {
            r->answer.status = 0;
            r->answer.error = r->error[0] != '\0'
                                ? std::string{r->error}
                                : std::string{curl_easy_strerror(result)};
          }
          finish(std::move(r));
          break;
        }
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    // Stopping: whatever is pending is answered, not dropped.
    for (auto& r : active) {
      curl_multi_remove_handle(multi, r->easy);
      r->answer = http_answer{};
      r->answer.error = "stopped";
      finish(std::move(r));
    }
    std::deque<std::unique_ptr<request>> rest;
    {
      std::lock_guard<std::mutex> guard{mx};
      rest.swap(incoming);
    }
    for (auto& r : rest) {
      r->answer.error = "stopped";
      finish(std::move(r));
    }
  }
};

push_http::push_http(options o) : impl_(std::make_unique<impl>(std::move(o))) {
  // nop
}

push_http::~push_http() = default;

void push_http::post(http_post p, std::function<void(http_answer)> done) {
  auto r = std::make_unique<request>();
  r->post = std::move(p);
  r->done = std::move(done);
  ++impl_->pending;
  {
    std::lock_guard<std::mutex> guard{impl_->mx};
    impl_->incoming.push_back(std::move(r));
  }
  curl_multi_wakeup(impl_->multi);
}

size_t push_http::in_flight() const {
  return impl_->pending.load();
}

} // namespace tether::runtime

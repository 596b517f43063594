#include "tools/cli/push_receiver.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>

#include <rapidjson/document.h>

#include "protocol/push.hpp"

namespace tether::cli {

namespace {

constexpr size_t max_request = 256 * 1024;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// A header's value (names compared without case), or empty.
std::string header(const std::string& head, const std::string& name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    auto colon = head.find(':', at);
    auto end = head.find("\r\n", at);
    if (colon == std::string::npos || colon > end)
      continue;
    if (colon - at == name.size()
        && std::equal(name.begin(), name.end(),
                      head.begin() + static_cast<std::ptrdiff_t>(at),
                      [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a))
                               == std::tolower(static_cast<unsigned char>(b));
                      })) {
      auto v = head.substr(colon + 1, end - colon - 1);
      auto first = v.find_first_not_of(' ');
      return first == std::string::npos ? std::string{} : v.substr(first);
    }
  }
  return {};
}

void answer(int fd, const char* status) {
  std::string r = std::string{"HTTP/1.1 "} + status
                  + "\r\nContent-Length: 0\r\n\r\n";
  (void)::send(fd, r.data(), r.size(), MSG_NOSIGNAL);
}

} // namespace

push_receiver::push_receiver(std::string secret) : secret_(std::move(secret)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0 || ::pipe2(wake_, O_CLOEXEC) != 0)
    return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listener_, 64) != 0
      || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len)
           != 0)
    return;
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread{[this] { run(); }};
}

push_receiver::~push_receiver() {
  stop();
  for (auto fd : {listener_, wake_[0], wake_[1]})
    if (fd >= 0)
      ::close(fd);
}

void push_receiver::stop() {
  if (!thread_.joinable())
    return;
  char x = 1;
  (void)::write(wake_[1], &x, 1);
  thread_.join();
}

std::map<std::string, std::vector<int64_t>> push_receiver::pushes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pushes_;
}

bool push_receiver::serve(int fd, std::string& buf) {
  for (;;) {
    auto head_end = buf.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return buf.size() <= max_request;
    auto head = buf.substr(0, head_end);
    auto length_text = header(head, "Content-Length");
    char* end = nullptr;
    auto length = std::strtoull(length_text.c_str(), &end, 10);
    if (length_text.empty() || *end != '\0' || length > max_request) {
      refused_.fetch_add(1);
      answer(fd, "400 Bad Request");
      return false;
    }
    if (buf.size() < head_end + 4 + length)
      return true; // the body is on its way
    auto body = buf.substr(head_end + 4, length);
    buf.erase(0, head_end + 4 + length);
    // X-Tether-Signature: t=<s>,v1=<hex>, recomputed with the key.
    auto sig = header(head, "X-Tether-Signature");
    auto comma = sig.find(',');
    auto t = sig.rfind("t=", 0) == 0 && comma != std::string::npos
               ? std::strtoll(sig.substr(2, comma - 2).c_str(), nullptr, 10)
               : 0;
    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    if (head.rfind("POST ", 0) != 0 || t == 0 || std::llabs(now_s - t) > 300
        || sig != protocol::webhook_signature(secret_, t, body)
        || !doc.IsObject() || !doc.HasMember("userId")
        || !doc["userId"].IsString() || !doc.HasMember("deviceId")
        || !doc["deviceId"].IsString()) {
      refused_.fetch_add(1);
      answer(fd, "401 Unauthorized");
      continue;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      pushes_[std::string{doc["userId"].GetString()} + "/"
              + doc["deviceId"].GetString()]
        .push_back(now_ns());
    }
    answer(fd, "200 OK");
  }
}

void push_receiver::run() {
  struct conn {
    int fd;
    std::string buf;
  };
  std::vector<conn> conns;
  for (;;) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    for (auto& c : conns)
      fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0)
      continue;
    if (fds[0].revents != 0)
      break;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (fds[i + 2].revents == 0)
        continue;
      char chunk[16384];
      auto n = ::recv(conns[i].fd, chunk, sizeof(chunk), 0);
      auto keep = n > 0;
      if (keep) {
        conns[i].buf.append(chunk, static_cast<size_t>(n));
        keep = serve(conns[i].fd, conns[i].buf);
      }
      if (!keep) {
        ::close(conns[i].fd);
        conns[i].fd = -1;
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const conn& c) { return c.fd < 0; }),
                conns.end());
    if (fds[1].revents != 0) {
      auto fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0)
        conns.push_back({fd, {}});
    }
  }
  for (auto& c : conns)
    ::close(c.fd);
}

} // namespace tether::cli

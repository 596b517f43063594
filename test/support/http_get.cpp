#include "test/support/http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace tether::test {

raw_socket::raw_socket(uint16_t port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

raw_socket::~raw_socket() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool raw_socket::send(const std::string& bytes) {
  return fd_ >= 0
         && ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
              == static_cast<ssize_t>(bytes.size());
}

void raw_socket::shutdown_write() {
  if (fd_ >= 0)
    ::shutdown(fd_, SHUT_WR);
}

std::string raw_socket::read(const std::string& until,
                             std::chrono::milliseconds limit) {
  std::string raw;
  if (fd_ < 0)
    return raw;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (until.empty() || raw.find(until) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    timeval tv{static_cast<time_t>(left.count() / 1000000),
               static_cast<suseconds_t>(left.count() % 1000000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  return raw;
}

http_response parse_response(const std::string& raw) {
  http_response r;
  auto line_end = raw.find("\r\n");
  auto head_end = raw.find("\r\n\r\n");
  if (line_end == std::string::npos || head_end == std::string::npos)
    return r;
  // "HTTP/1.1 200 OK"
  r.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  r.headers = raw.substr(line_end + 2, head_end - line_end - 2);
  r.body = raw.substr(head_end + 4);
  return r;
}

http_response http_request(uint16_t port, const std::string& method,
                           const std::string& path,
                           const std::string& headers) {
  raw_socket s{port};
  auto close = headers.find("Connection:") == std::string::npos
                 ? "Connection: close\r\n"
                 : "";
  if (!s.send(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers
              + close + "\r\n"))
    return {};
  return parse_response(s.read());
}

http_response http_get(uint16_t port, const std::string& path,
                       const std::string& extra_headers) {
  return http_request(port, "GET", path, extra_headers);
}

uint64_t metric_sample(uint16_t port, const std::string& sample) {
  auto text = http_get(port, "/metrics").body;
  auto i = text.find("\n" + sample + " ");
  if (i == std::string::npos)
    return UINT64_MAX;
  return std::stoull(text.substr(i + sample.size() + 2));
}

} // namespace tether::test

#include "test/support/http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace tether::test {

http_response http_get(uint16_t port, const std::string& path,
                       const std::string& extra_headers) {
  http_response r;
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return r;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return r;
  }
  auto req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             + extra_headers + "Connection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return r;
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
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

} // namespace tether::test

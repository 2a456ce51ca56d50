// A raw TCP client for HTTP tests: sends arbitrary bytes (well formed or not) and
// reads whatever comes back until the server closes. Every socket has 10 s
// send/receive timeouts, so a hung server fails a test instead of hanging it.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace recsys::testing {

// A connected socket to host:port (numeric host, e.g. "127.0.0.1" or "::1"),
// -1 on failure. The caller closes it.
inline int ConnectTcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found) != 0) return -1;
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

// Writes as much of `data` as the peer takes (stops at the first error).
inline void SendBytes(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF, an error or the receive timeout.
inline std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Sends `request` on a new connection to 127.0.0.1:`port` (then shuts down the
// sending side if `half_close`) and returns everything the server answers ("" if
// it closed without an answer or the connection failed).
inline std::string Exchange(int port, absl::string_view request, bool half_close = false,
                            const std::string& host = "127.0.0.1") {
  const int fd = ConnectTcp(host, port);
  if (fd < 0) return "";
  SendBytes(fd, request);
  if (half_close) shutdown(fd, SHUT_WR);
  std::string response = ReadAll(fd);
  close(fd);
  return response;
}

// The status code of a response ("HTTP/1.1 404 Not Found..." → 404), 0 if none.
inline int StatusOf(absl::string_view response) {
  if (response.size() < 12 || response.substr(0, 7) != "HTTP/1.") return 0;
  int status = 0;
  return absl::SimpleAtoi(response.substr(9, 3), &status) ? status : 0;
}

// The body of a response ("" if it has none).
inline std::string BodyOf(absl::string_view response) {
  const size_t end = response.find("\r\n\r\n");
  return end == absl::string_view::npos ? "" : std::string(response.substr(end + 4));
}

// A well-formed request head with a client's usual headers.
inline std::string RequestText(absl::string_view method, absl::string_view path) {
  return absl::StrCat(method, " ", path,
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n");
}

}  // namespace recsys::testing

// A loopback HTTP/1.1 server for tests (header-only: only *_test.cc files are
// compiled into the test binary). It listens on 127.0.0.1, port 0; each
// connection gets its own thread, which reads one request (the head, then a
// Content-Length body) and hands it to the handler. The handler answers with
// the exact bytes to send (then the connection is closed), or asks to hang:
// keep the connection open without a word until the server is destroyed.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace recsys::testing {

class FakeHttpServer {
 public:
  struct Request {
    std::string head;  // request line and headers
    std::string body;
  };
  struct Reply {
    std::string bytes;  // sent as they are
    bool hang = false;  // send nothing; hold the connection until destruction
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~FakeHttpServer() {
    stop_.Notify();
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    std::vector<std::thread> connections;
    {
      absl::MutexLock lock(&mu_);
      connections.swap(connections_);
    }
    // Each ends once its client has closed (a hung one: now, after stop_).
    for (std::thread& t : connections) t.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/answer") const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  int requests() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(seen_.size());
  }
  // The last request received (empty before the first).
  Request last() const {
    absl::MutexLock lock(&mu_);
    return seen_.empty() ? Request() : seen_.back();
  }

  // A complete reply with a Content-Length body.
  static std::string Response(int status, const std::string& body,
                              const std::string& content_type = "application/json") {
    return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Type: ", content_type,
                        "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
  }

 private:
  void Accept() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;  // shut down
      absl::MutexLock lock(&mu_);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    Request request;
    std::string data;
    char buf[4096];
    size_t head_end = std::string::npos;
    int64_t length = 0;
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          request.head = data.substr(0, head_end);
          for (absl::string_view line : absl::StrSplit(request.head, "\r\n")) {
            const size_t colon = line.find(':');
            if (colon != absl::string_view::npos &&
                absl::AsciiStrToLower(line.substr(0, colon)) == "content-length") {
              (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &length);
            }
          }
          head_end += 4;
        }
      }
      if (head_end != std::string::npos && static_cast<int64_t>(data.size() - head_end) >= length) {
        break;
      }
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      data.append(buf, static_cast<size_t>(n));
    }
    request.body = data.substr(head_end);
    {
      absl::MutexLock lock(&mu_);
      seen_.push_back(request);
    }
    const Reply reply = handler_(request);
    if (reply.hang) {
      stop_.WaitForNotification();
    } else {
      absl::string_view out = reply.bytes;
      while (!out.empty()) {
        const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        out.remove_prefix(static_cast<size_t>(n));
      }
    }
    ::close(fd);
  }

  const Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  absl::Notification stop_;
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> connections_ ABSL_GUARDED_BY(mu_);
  std::vector<Request> seen_ ABSL_GUARDED_BY(mu_);
};

// A loopback port nothing listens on (bound, read, released).
inline int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace recsys::testing

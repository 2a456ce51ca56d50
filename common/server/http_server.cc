#include "common/server/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/server/http_request.h"

namespace recsys {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";
// Pending connections the kernel holds before accept().
constexpr int kListenBacklog = 128;
// After the response: how long and how much of the peer's unread input is
// drained before close(), so that the close does not reset the connection
// (which can discard the response the peer has not read yet).
constexpr absl::Duration kLingerTime = absl::Seconds(1);
constexpr size_t kLingerBytes = 256 << 10;
// recv() chunk, bytes.
constexpr size_t kChunkBytes = 4096;

// Splits "host:port" / "[v6]:port"; port must be 0..65535.
absl::Status SplitHostPort(const std::string& address, std::string* host, int* port) {
  absl::string_view port_text;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", address, "'"));
    }
    *host = address.substr(1, close - 1);
    port_text = absl::string_view(address).substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", address, "' (want host:port or [v6]:port)"));
    }
    *host = address.substr(0, colon);
    port_text = absl::string_view(address).substr(colon + 1);
  }
  if (!absl::SimpleAtoi(port_text, port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in address '", address, "'"));
  }
  if (host->empty()) *host = "0.0.0.0";
  return absl::OkStatus();
}

// A listening socket on `host`:`port` (the first address it resolves to that
// binds); -1 and `error` set otherwise.
int Listen(const std::string& host, int port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = absl::StrCat(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    *error = absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      *error = std::strerror(errno);
      continue;
    }
    // Rebinding right after a restart (connections in TIME_WAIT); two live
    // listeners on one port still fail (no SO_REUSEPORT).
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kListenBacklog) != 0) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return 0;
}

// Best effort, never blocks: for answers to connections no thread will serve.
void SendNow(int fd, absl::string_view data) {
  (void)!send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

struct HttpServer::Queue {
  absl::Mutex mu;
  // Accepted sockets and their read deadlines, oldest first.
  std::deque<std::pair<int, absl::Time>> pending ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || !pending.empty(); }
};

std::string JoinHostPort(absl::string_view host, int port) {
  if (host.find(':') != absl::string_view::npos && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

HttpServer::HttpServer(HttpServerOptions options, std::vector<Resource> resources)
    : options_(std::move(options)),
      resources_(std::move(resources)),
      queue_(std::make_unique<Queue>()) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              std::vector<Resource> resources) {
  if (options.threads < 1 || options.threads > 64 || options.max_queued_connections < 1 ||
      options.max_request_head_bytes < 256 || options.read_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "HttpServerOptions: threads in 1..64, max_queued_connections >= 1, "
        "max_request_head_bytes >= 256 and positive timeouts");
  }
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(options.address, &host, &port); !s.ok()) return s;

  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(resources)));
  std::string error;
  server->listen_fd_ = Listen(host, port, &error);
  if (server->listen_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", server->options_.address, ": ", error));
  }
  server->port_ = BoundPort(server->listen_fd_);
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->stop_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  HttpServer* self = server.get();
  self->threads_.emplace_back([self] { self->AcceptLoop(); });
  for (int i = 0; i < self->options_.threads; ++i) {
    self->threads_.emplace_back([self] { self->WorkerLoop(); });
  }
  return server;
}

HttpServer::~HttpServer() {
  {
    absl::MutexLock lock(&queue_->mu);
    queue_->stopping = true;
  }
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
  }
  for (std::thread& t : threads_) t.join();
  absl::MutexLock lock(&queue_->mu);
  for (const auto& [fd, deadline] : queue_->pending) close(fd);
  queue_->pending.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void HttpServer::AcceptLoop() {
  pthread_setname_np(pthread_self(), "http-accept");
  const std::string busy =
      http::FormatResponse(503, kTextPlain, "Service Unavailable\n", /*head_only=*/false);
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LOG(ERROR) << "HTTP server on port " << port_ << ": poll: " << std::strerror(errno);
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors or memory: the listener stays readable, so back off
      // instead of spinning (the stop event still ends the wait).
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd stop = {stop_fd_, POLLIN, 0};
        poll(&stop, 1, 100);
      }
      continue;
    }
    bool queued = false;
    {
      absl::MutexLock lock(&queue_->mu);
      if (queue_->pending.size() < static_cast<size_t>(options_.max_queued_connections)) {
        queue_->pending.emplace_back(fd, absl::Now() + options_.read_timeout);
        queued = true;
      }
    }
    if (!queued) {
      SendNow(fd, busy);
      close(fd);
    }
  }
}

void HttpServer::WorkerLoop() {
  pthread_setname_np(pthread_self(), "http-worker");
  while (true) {
    int fd = -1;
    absl::Time deadline;
    {
      absl::MutexLock lock(&queue_->mu);
      queue_->mu.Await(absl::Condition(queue_.get(), &Queue::HasWork));
      if (queue_->stopping) return;
      std::tie(fd, deadline) = queue_->pending.front();
      queue_->pending.pop_front();
    }
    ServeConnection(fd, deadline);
  }
}

HttpServer::Wait HttpServer::WaitFor(int fd, short events, absl::Time deadline) const {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return Wait::kTimeout;
    // Rounded up, so a wait never ends just before the deadline and spins.
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
    pollfd fds[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
    const int rc = poll(fds, 2, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (rc < 0 && errno != EINTR) return Wait::kStopped;
    if (rc <= 0) continue;
    if (fds[1].revents != 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kReady;
  }
}

bool HttpServer::WriteAll(int fd, absl::string_view data, absl::Time deadline) const {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (WaitFor(fd, POLLOUT, deadline) != Wait::kReady) return false;
    } else {
      return false;
    }
  }
  return true;
}

void HttpServer::LingerAndClose(int fd) const {
  shutdown(fd, SHUT_WR);
  const absl::Time deadline = absl::Now() + kLingerTime;
  size_t drained = 0;
  char chunk[kChunkBytes];
  while (drained < kLingerBytes && WaitFor(fd, POLLIN, deadline) == Wait::kReady) {
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    if (n > 0) drained += static_cast<size_t>(n);
  }
  close(fd);
}

void HttpServer::ServeConnection(int fd, absl::Time read_deadline) {
  const size_t limit = static_cast<size_t>(options_.max_request_head_bytes);
  std::string data;
  std::string response;
  char chunk[kChunkBytes];
  size_t head_end = absl::string_view::npos;
  while ((head_end = http::FindHeadEnd(data)) == absl::string_view::npos) {
    if (data.size() >= limit) {
      // No line end at all: the request line alone is too long.
      const int status = data.find('\n') == std::string::npos ? 414 : 431;
      response = http::FormatResponse(status, kTextPlain,
                                      absl::StrCat(http::ReasonPhrase(status), "\n"), false);
      break;
    }
    const Wait wait = WaitFor(fd, POLLIN, read_deadline);
    if (wait == Wait::kStopped || (wait == Wait::kTimeout && data.empty())) {
      close(fd);
      return;
    }
    if (wait == Wait::kTimeout) {
      response = http::FormatResponse(408, kTextPlain, "Request Timeout\n", false);
      break;
    }
    const ssize_t n = recv(fd, chunk, std::min(sizeof(chunk), limit - data.size()), 0);
    if (n > 0) {
      data.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      // The peer stopped sending before the head ended; it may still read.
      if (data.empty()) {
        close(fd);
        return;
      }
      response = http::FormatResponse(400, kTextPlain, "incomplete request head\n", false);
      break;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close(fd);
      return;
    }
  }
  if (response.empty()) response = Respond(absl::string_view(data).substr(0, head_end));
  if (!WriteAll(fd, response, absl::Now() + options_.write_timeout)) {
    close(fd);
    return;
  }
  LingerAndClose(fd);
}

std::string HttpServer::Respond(absl::string_view head) const {
  const http::RequestHead request = http::ParseRequestHead(head);
  if (request.error_status != 0) {
    return http::FormatResponse(request.error_status, kTextPlain, request.error + "\n", false);
  }
  const bool head_only = request.method == "HEAD";
  const Resource* resource = nullptr;
  for (const Resource& r : resources_) {
    if (r.path == request.path) resource = &r;
  }
  if (resource == nullptr) return http::FormatResponse(404, kTextPlain, "Not Found\n", head_only);
  if (request.method != "GET" && !head_only) {
    return http::FormatResponse(405, kTextPlain, "Method Not Allowed\n", false,
                                "Allow: GET, HEAD\r\n");
  }
  std::string body;
  try {
    body = resource->render();
  } catch (const std::exception& e) {
    LOG(ERROR) << "rendering " << resource->path << ": " << e.what();
    return http::FormatResponse(500, kTextPlain, "Internal Server Error\n", head_only);
  }
  return http::FormatResponse(200, resource->content_type, body, head_only);
}

}  // namespace recsys

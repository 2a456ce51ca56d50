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
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
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
// How long an idle kept-alive connection waits, once a queued connection has
// no free thread, before it gives its thread up.
constexpr absl::Duration kYieldGrace = absl::Milliseconds(20);
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
  // Worker threads waiting for a connection (free to take one at once).
  int free_workers ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || !pending.empty(); }
};

std::string JoinHostPort(absl::string_view host, int port) {
  if (host.find(':') != absl::string_view::npos && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      queue_(std::make_unique<Queue>()) {}

const std::string* HttpRequest::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              std::vector<Resource> resources) {
  // Resources are read-only: no bodies, one request per connection.
  options.max_body_bytes = 0;
  options.keep_alive = false;
  auto handler = [resources = std::move(resources)](const HttpRequest& request) {
    HttpResponse response;
    const Resource* resource = nullptr;
    for (const Resource& r : resources) {
      if (r.path == request.path) resource = &r;
    }
    if (resource == nullptr) {
      response.status = 404;
      response.body = "Not Found\n";
    } else if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.body = "Method Not Allowed\n";
      response.extra_headers = "Allow: GET, HEAD\r\n";
    } else {
      response.content_type = resource->content_type;
      response.body = resource->render();
    }
    return response;
  };
  return StartHandler(std::move(options), HttpHandler(std::move(handler)));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::StartHandler(HttpServerOptions options,
                                                                     HttpHandler handler) {
  if (options.threads < 1 || options.threads > 64 || options.max_queued_connections < 1 ||
      options.max_request_head_bytes < 256 || options.read_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration() || options.max_body_bytes < 0 ||
      options.max_body_bytes > (int64_t{1} << 30) || options.max_requests_per_connection < 1 ||
      options.idle_timeout <= absl::ZeroDuration() || handler == nullptr) {
    return absl::InvalidArgumentError(
        "HttpServerOptions: threads in 1..64, max_queued_connections >= 1, "
        "max_request_head_bytes >= 256, max_body_bytes in 0..2^30, "
        "max_requests_per_connection >= 1, positive timeouts and a handler");
  }
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(options.address, &host, &port); !s.ok()) return s;

  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(handler)));
  std::string error;
  server->listen_fd_ = Listen(host, port, &error);
  if (server->listen_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", server->options_.address, ": ", error));
  }
  server->port_ = BoundPort(server->listen_fd_);
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  server->queued_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->stop_fd_ < 0 || server->queued_fd_ < 0) {
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
  if (queued_fd_ >= 0) close(queued_fd_);
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
        // Idle keep-alive connections yield only when no thread is free to
        // take the new one.
        if (queue_->pending.size() > static_cast<size_t>(queue_->free_workers)) {
          const uint64_t one = 1;
          (void)!write(queued_fd_, &one, sizeof(one));
        }
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
      ++queue_->free_workers;
      queue_->mu.Await(absl::Condition(queue_.get(), &Queue::HasWork));
      --queue_->free_workers;
      if (queue_->stopping) return;
      std::tie(fd, deadline) = queue_->pending.front();
      queue_->pending.pop_front();
      if (queue_->pending.empty()) {
        uint64_t count = 0;
        (void)!read(queued_fd_, &count, sizeof(count));
      }
    }
    ServeConnection(fd, deadline);
  }
}

HttpServer::Wait HttpServer::WaitFor(int fd, short events, absl::Time deadline,
                                     bool wake_on_queue) const {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return Wait::kTimeout;
    // Rounded up, so a wait never ends just before the deadline and spins.
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
    pollfd fds[3] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}, {queued_fd_, POLLIN, 0}};
    const int rc =
        poll(fds, wake_on_queue ? 3 : 2, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (rc < 0 && errno != EINTR) return Wait::kStopped;
    if (rc <= 0) continue;
    if (fds[1].revents != 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kReady;
    if (wake_on_queue && fds[2].revents != 0) return Wait::kQueued;
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

namespace {

// How a request's body is framed, from its head.
struct BodyFraming {
  int error_status = 0;  // 0, or the status to answer (and close)
  std::string error;
  int64_t length = 0;
};

BodyFraming FrameBody(const http::RequestHead& head, int64_t max_body_bytes) {
  BodyFraming framing;
  if (head.Header("transfer-encoding") != nullptr) {
    framing.error_status = 501;
    framing.error = "Transfer-Encoding is not supported: send the body with Content-Length";
    return framing;
  }
  const std::string* length = nullptr;
  for (const auto& [name, value] : head.headers) {
    if (name != "content-length") continue;
    if (length != nullptr && *length != value) {
      framing.error_status = 400;
      framing.error = "conflicting Content-Length headers";
      return framing;
    }
    length = &value;
  }
  if (length == nullptr) return framing;
  uint64_t n = 0;
  if (length->empty() || length->size() > 18 ||
      !std::all_of(length->begin(), length->end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(*length, &n)) {
    framing.error_status = 400;
    framing.error = "malformed Content-Length";
    return framing;
  }
  if (n > static_cast<uint64_t>(max_body_bytes)) {
    framing.error_status = 413;
    framing.error = absl::StrCat("request body of ", n, " bytes is over the limit of ",
                                 max_body_bytes);
    return framing;
  }
  framing.length = static_cast<int64_t>(n);
  return framing;
}

// Whether the request lets the connection stay open afterwards.
bool WantsKeepAlive(const http::RequestHead& head) {
  if (head.minor_version < 1) return false;
  for (const auto& [name, value] : head.headers) {
    if (name != "connection") continue;
    for (absl::string_view token : absl::StrSplit(value, ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), "close")) return false;
    }
  }
  return true;
}

}  // namespace

void HttpServer::ServeConnection(int fd, absl::Time read_deadline) {
  const size_t head_limit = static_cast<size_t>(options_.max_request_head_bytes);
  const bool read_bodies = options_.max_body_bytes > 0;
  std::string data;  // received and not yet consumed
  char chunk[kChunkBytes];
  // Reads what is there into `data`, at most `room` bytes, waiting until
  // `deadline` (with `idle`, also waking when a connection queues).
  enum class Read { kGot, kEof, kTimeout, kGone, kQueued };
  auto read_some = [&](absl::Time deadline, size_t room, bool idle) {
    const Wait wait = WaitFor(fd, POLLIN, deadline, idle);
    if (wait == Wait::kStopped) return Read::kGone;
    if (wait == Wait::kTimeout) return Read::kTimeout;
    if (wait == Wait::kQueued) return Read::kQueued;
    const ssize_t n = recv(fd, chunk, std::min(sizeof(chunk), room), 0);
    if (n > 0) {
      data.append(chunk, static_cast<size_t>(n));
      return Read::kGot;
    }
    if (n == 0) return Read::kEof;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Read::kGot : Read::kGone;
  };
  auto answer_and_close = [&](int status, absl::string_view text) {
    const std::string response = http::FormatResponse(
        status, kTextPlain, absl::StrCat(text, "\n"), /*head_only=*/false);
    if (WriteAll(fd, response, absl::Now() + options_.write_timeout)) {
      LingerAndClose(fd);
    } else {
      close(fd);
    }
  };

  for (int served = 0;; ++served) {
    // The request head. A follow-up request on a kept-alive connection may
    // take idle_timeout to start; then it has read_timeout to arrive.
    size_t head_end = absl::string_view::npos;
    if (served > 0 && data.empty()) {
      const absl::Time idle_until = absl::Now() + options_.idle_timeout;
      Read r = read_some(idle_until, head_limit, /*idle=*/true);
      while (r == Read::kQueued) {
        // A connection waits with no thread free. A thread finishing its
        // connection may take it in a moment: yield only if it still waits
        // after a short grace (serving this connection's request if one comes).
        r = read_some(std::min(idle_until, absl::Now() + kYieldGrace), head_limit, false);
        if (r != Read::kTimeout) break;
        bool still_waiting;
        {
          absl::MutexLock lock(&queue_->mu);
          still_waiting = queue_->pending.size() > static_cast<size_t>(queue_->free_workers);
        }
        if (still_waiting || absl::Now() >= idle_until) break;
        r = read_some(idle_until, head_limit, /*idle=*/true);
      }
      if (r != Read::kGot) {
        close(fd);  // idle: closing loses nothing
        return;
      }
      read_deadline = absl::Now() + options_.read_timeout;
    }
    while ((head_end = http::FindHeadEnd(data)) == absl::string_view::npos) {
      if (data.size() >= head_limit) {
        // No line end at all: the request line alone is too long.
        const int status = data.find('\n') == std::string::npos ? 414 : 431;
        answer_and_close(status, http::ReasonPhrase(status));
        return;
      }
      const Read r = read_some(read_deadline, head_limit - data.size(), /*idle=*/false);
      if (r == Read::kGone || (r != Read::kGot && data.empty())) {
        close(fd);
        return;
      }
      if (r == Read::kTimeout) {
        answer_and_close(408, "Request Timeout");
        return;
      }
      if (r == Read::kEof) {
        // The peer stopped sending before the head ended; it may still read.
        answer_and_close(400, "incomplete request head");
        return;
      }
    }
    const http::RequestHead head = http::ParseRequestHead(absl::string_view(data).substr(0, head_end));
    if (head.error_status != 0) {
      answer_and_close(head.error_status, head.error);
      return;
    }

    HttpRequest request;
    bool keep_alive = false;
    if (read_bodies) {
      const BodyFraming framing = FrameBody(head, options_.max_body_bytes);
      if (framing.error_status != 0) {
        answer_and_close(framing.error_status, framing.error);
        return;
      }
      const size_t need = head_end + static_cast<size_t>(framing.length);
      if (data.size() < need) {
        if (const std::string* expect = head.Header("expect"); expect != nullptr) {
          if (!absl::EqualsIgnoreCase(*expect, "100-continue")) {
            answer_and_close(417, "only Expect: 100-continue is understood");
            return;
          }
          if (!WriteAll(fd, "HTTP/1.1 100 Continue\r\n\r\n",
                        absl::Now() + options_.write_timeout)) {
            close(fd);
            return;
          }
        }
      }
      while (data.size() < need) {
        const Read r = read_some(read_deadline, need - data.size(), /*idle=*/false);
        if (r == Read::kGone) {
          close(fd);
          return;
        }
        if (r == Read::kTimeout) {
          answer_and_close(408, "Request Timeout");
          return;
        }
        if (r == Read::kEof) {
          answer_and_close(400, "incomplete request body");
          return;
        }
      }
      request.body = data.substr(head_end, static_cast<size_t>(framing.length));
      data.erase(0, need);
      keep_alive = options_.keep_alive && WantsKeepAlive(head) &&
                   served + 1 < options_.max_requests_per_connection;
    }
    request.method = head.method;
    request.target = head.target;
    request.path = head.path;
    request.query = head.query;
    request.headers = head.headers;

    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      LOG(ERROR) << "HTTP " << request.method << " " << request.path << ": " << e.what();
      response = HttpResponse{.status = 500, .body = "Internal Server Error\n", .extra_headers = ""};
    }
    if (keep_alive) {
      // Connections waiting for a thread go first.
      absl::MutexLock lock(&queue_->mu);
      keep_alive = queue_->pending.empty() && !queue_->stopping;
    }
    const std::string out =
        http::FormatResponse(response.status, response.content_type, response.body,
                             /*head_only=*/request.method == "HEAD", response.extra_headers,
                             keep_alive);
    if (!WriteAll(fd, out, absl::Now() + options_.write_timeout)) {
      close(fd);
      return;
    }
    if (!keep_alive) {
      LingerAndClose(fd);
      return;
    }
  }
}

}  // namespace recsys

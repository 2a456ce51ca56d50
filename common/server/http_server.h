// A small, bounded HTTP/1.1 server for a fixed set of read-only resources: the
// /metrics endpoint of every recsys process.
//
//   HttpServer::Resource metrics{"/metrics", "text/plain; version=0.0.4; charset=utf-8",
//                                [&] { return registry_text(); }};
//   ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server,
//                    HttpServer::Start(HttpServerOptions{.address = "0.0.0.0:9092"},
//                                      {metrics}));
//
// Answers: 200 to GET and HEAD of a resource's path (a query string is ignored);
// 405 (with Allow: GET, HEAD) to other methods on it; 404 to every other path;
// 400 to a malformed request line or header line; 414 to a request line longer
// than max_request_head_bytes, 431 to a longer request head; 505 to HTTP versions
// other than 1.0 / 1.1; 408 when the head does not arrive within read_timeout;
// 503 when every thread is busy and the queue is full. Each connection carries
// one request: responses say Connection: close, and a request body is never read.
//
// Bounds: `threads` connection threads plus one accepting thread;
// max_queued_connections accepted sockets waiting; per connection at most
// max_request_head_bytes + 4 KiB buffered, read_timeout + write_timeout + 1 s of a
// thread's time. Why not prometheus::Exposer (civetweb): Debian's civetweb runs
// its threads on fixed 100 KiB stacks, and glibc takes the static TLS of every
// loaded library (60 KiB for OpenBLAS alone) out of each thread's stack; the
// stack left is too small for civetweb's error path (404, 400), which then
// overflows it and kills the process.
//
// Threading: Start and the destructor from one thread; resources' render
// functions are called concurrently from the connection threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace recsys {

struct HttpServerOptions {
  // host:port to listen on: "0.0.0.0:9092" (every IPv4 interface), "127.0.0.1:0",
  // "[::]:9092" (IPv6 and, where the system allows, IPv4), "localhost:9092".
  // Port 0 picks a free port (HttpServer::port()).
  std::string address = "0.0.0.0:0";
  // Threads serving connections, one connection at a time each.
  int threads = 2;
  // Accepted connections waiting for a thread; beyond this they are answered 503.
  int max_queued_connections = 64;
  // Largest request head (request line, header lines, empty line), bytes.
  int max_request_head_bytes = 16 << 10;
  // The whole request head must arrive within this of the connection's accept
  // (time spent queued counts).
  absl::Duration read_timeout = absl::Seconds(10);
  // The response must be written within this, else the connection is dropped.
  absl::Duration write_timeout = absl::Seconds(10);
};

// "host:port", with an IPv6 host in brackets ("[::1]:9092").
std::string JoinHostPort(absl::string_view host, int port);

class HttpServer {
 public:
  struct Resource {
    std::string path;          // exact, e.g. "/metrics"
    std::string content_type;  // of the 200 response
    // The 200 response's body (for HEAD too, which sends only its length).
    // Must be safe to call concurrently.
    std::function<std::string()> render;
  };

  // Binds, listens and starts the threads. InvalidArgument for a malformed
  // address or options, Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           std::vector<Resource> resources);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Stops at once: connections in progress are closed without an answer.
  ~HttpServer();

  // The bound port.
  int port() const { return port_; }

 private:
  struct Queue;

  HttpServer(HttpServerOptions options, std::vector<Resource> resources);

  void AcceptLoop();
  void WorkerLoop();
  // Reads one request from `fd` (non-blocking) and answers it; closes `fd`.
  void ServeConnection(int fd, absl::Time read_deadline);
  // The response to a complete request head.
  std::string Respond(absl::string_view head) const;
  enum class Wait { kReady, kTimeout, kStopped };
  // Waits until `fd` has `events` (POLLIN / POLLOUT; errors and hang-ups count
  // as ready), `deadline` passes or the server stops.
  Wait WaitFor(int fd, short events, absl::Time deadline) const;
  // Writes all of `data` by `deadline`; false if the peer went away, the deadline
  // passed or the server is stopping.
  bool WriteAll(int fd, absl::string_view data, absl::Time deadline) const;
  // Shuts down our half of the connection, reads and drops what the peer still
  // sends (at most 1 s / 256 KiB, so the close does not reset the connection
  // before the peer has read the response), then closes `fd`.
  void LingerAndClose(int fd) const;

  const HttpServerOptions options_;
  const std::vector<Resource> resources_;
  int listen_fd_ = -1;
  // An eventfd made readable (and left so) by the destructor: every poll()
  // includes it, so a stop interrupts any wait.
  int stop_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<Queue> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace recsys

// A small, bounded HTTP/1.1 server: a fixed set of read-only resources (the
// /metrics endpoint of every recsys process), or one handler for every request
// (the gateway's JSON API, which also needs request bodies and keep-alive).
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
// 503 when every thread is busy and the queue is full. With the default
// options each connection carries one request: responses say Connection: close,
// and a request body is never read.
//
// With a handler, max_body_bytes > 0 lets requests carry a body of at most that
// many bytes, framed by Content-Length (413 beyond; 501 for Transfer-Encoding,
// chunked bodies are not accepted; 400 for a bad or conflicting Content-Length;
// "Expect: 100-continue" is answered before the body is read). keep_alive lets
// an HTTP/1.1 connection carry up to max_requests_per_connection requests; the
// server closes it after idle_timeout without a new request, and at once when
// idle while other connections wait and no thread is free, so idle
// keep-alive connections never starve new ones.
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

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
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
  // Largest request body read (handler servers only); 0 = bodies are never read
  // and every response closes the connection.
  int64_t max_body_bytes = 0;
  // Persistent HTTP/1.1 connections (handler servers with max_body_bytes > 0).
  bool keep_alive = false;
  int max_requests_per_connection = 1000;
  // A kept-alive connection with no new request for this long is closed. The
  // next request must then arrive in full within read_timeout of its first byte.
  absl::Duration idle_timeout = absl::Seconds(5);
};

// One request as a handler sees it.
struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // e.g. "/v1/search?q=x"
  std::string path;    // target without the query, not decoded
  std::string query;   // after '?', not decoded
  // Header fields in order, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header named `lower_name`, or null.
  const std::string* Header(absl::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Complete header lines, each ending in "\r\n".
  std::string extra_headers;
};

// Called concurrently from the connection threads; a thrown exception is a 500.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

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
  // Every well-formed request goes to `handler` (HEAD responses lose their
  // body, keeping its length).
  static absl::StatusOr<std::unique_ptr<HttpServer>> StartHandler(HttpServerOptions options,
                                                                  HttpHandler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Stops at once: connections in progress are closed without an answer.
  ~HttpServer();

  // The bound port.
  int port() const { return port_; }

 private:
  struct Queue;

  HttpServer(HttpServerOptions options, HttpHandler handler);

  void AcceptLoop();
  void WorkerLoop();
  // Reads requests from `fd` (non-blocking) and answers them; closes `fd`.
  void ServeConnection(int fd, absl::Time read_deadline);
  enum class Wait { kReady, kTimeout, kStopped, kQueued };
  // Waits until `fd` has `events` (POLLIN / POLLOUT; errors and hang-ups count
  // as ready), `deadline` passes or the server stops; with `wake_on_queue`, also
  // until a connection waits in the queue (kQueued).
  Wait WaitFor(int fd, short events, absl::Time deadline, bool wake_on_queue = false) const;
  // Writes all of `data` by `deadline`; false if the peer went away, the deadline
  // passed or the server is stopping.
  bool WriteAll(int fd, absl::string_view data, absl::Time deadline) const;
  // Shuts down our half of the connection, reads and drops what the peer still
  // sends (at most 1 s / 256 KiB, so the close does not reset the connection
  // before the peer has read the response), then closes `fd`.
  void LingerAndClose(int fd) const;

  const HttpServerOptions options_;
  const HttpHandler handler_;
  int listen_fd_ = -1;
  // An eventfd made readable (and left so) by the destructor: every poll()
  // includes it, so a stop interrupts any wait.
  int stop_fd_ = -1;
  // An eventfd made readable (under the queue's lock) when a connection is
  // queued with no thread free to take it, cleared when the queue empties:
  // idle keep-alive waits include it.
  int queued_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<Queue> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace recsys

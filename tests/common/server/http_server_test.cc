#include "common/server/http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/server/http_request.h"
#include "tests/common/server/raw_http_client.h"

namespace recsys {
namespace {

using testing::Exchange;
using testing::RequestText;
using testing::StatusOf;

// A server with one resource, /r, whose body is "hello\n".
std::unique_ptr<HttpServer> StartHello(HttpServerOptions options = {}) {
  if (options.address == HttpServerOptions().address) options.address = "127.0.0.1:0";
  HttpServer::Resource hello{"/r", "text/plain", [] { return std::string("hello\n"); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {hello});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// The head ends at the first empty line, with CRLF or bare LF line ends.
TEST(HttpRequestTest, FindHeadEndAcceptsCrlfAndLf) {
  EXPECT_EQ(http::FindHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), 27u);
  EXPECT_EQ(http::FindHeadEnd("GET / HTTP/1.1\nHost: x\n\n"), 24u);
  EXPECT_EQ(http::FindHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n"), absl::string_view::npos);
  EXPECT_EQ(http::FindHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r"), absl::string_view::npos);
  EXPECT_EQ(http::FindHeadEnd(""), absl::string_view::npos);
}

// A well-formed head yields method, target and path; the query is not part of the path.
TEST(HttpRequestTest, ParsesWellFormedHead) {
  http::RequestHead head =
      http::ParseRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: a:1\r\nAccept:\t*/*\r\n\r\n");
  EXPECT_EQ(head.error_status, 0) << head.error;
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/metrics?x=1");
  EXPECT_EQ(head.path, "/metrics");
  EXPECT_EQ(http::ParseRequestHead("HEAD / HTTP/1.0\n\n").error_status, 0);
}

// Malformed request lines and header lines are 400; unknown HTTP versions 505.
TEST(HttpRequestTest, RejectsMalformedHeads) {
  for (const char* bad :
       {"", "\r\n", "GET\r\n", "GET /\r\n", "GET / HTTP/1.1 x\r\n", "GET  / HTTP/1.1\r\n",
        "GET / HTTP/1.1 \r\n", "G(T / HTTP/1.1\r\n", "GET x HTTP/1.1\r\n", "GET * HTTP/1.1\r\n",
        "GET /\x01 HTTP/1.1\r\n", "GET / HTTP/11\r\n", "GET / http/1.1\r\n", "GET / HTTP/1.x\r\n",
        "GET / HTTP/1.1\r\nNo-Colon\r\n", "GET / HTTP/1.1\r\n: empty name\r\n",
        "GET / HTTP/1.1\r\nBad Name: v\r\n", "GET / HTTP/1.1\r\n folded\r\n",
        "GET / HTTP/1.1\r\nX: a\x01z\r\n"}) {
    http::RequestHead head = http::ParseRequestHead(absl::StrCat(bad, "\r\n"));
    EXPECT_EQ(head.error_status, 400) << absl::CHexEscape(bad);
    EXPECT_FALSE(head.error.empty());
  }
  EXPECT_EQ(http::ParseRequestHead("GET / HTTP/2.0\r\n\r\n").error_status, 505);
  EXPECT_EQ(
      http::ParseRequestHead(absl::StrCat("GET / HTTP/1.1\r\n", std::string(1, '\0'), "\r\n\r\n"))
          .error_status,
      400);
}

// Responses carry Content-Length and Connection: close; HEAD keeps the length, drops the body.
TEST(HttpRequestTest, FormatsResponses) {
  EXPECT_EQ(http::FormatResponse(404, "text/plain", "nope\n", false),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nnope\n");
  EXPECT_EQ(http::FormatResponse(405, "text/plain", "x", true, "Allow: GET\r\n"),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
            "Connection: close\r\nAllow: GET\r\n\r\n");
  EXPECT_EQ(http::ReasonPhrase(431), "Request Header Fields Too Large");
}

// An IPv6 host is bracketed; others are joined as they are.
TEST(HttpServerTest, JoinHostPort) {
  EXPECT_EQ(JoinHostPort("0.0.0.0", 9092), "0.0.0.0:9092");
  EXPECT_EQ(JoinHostPort("localhost", 1), "localhost:1");
  EXPECT_EQ(JoinHostPort("::", 9092), "[::]:9092");
  EXPECT_EQ(JoinHostPort("[::1]", 9092), "[::1]:9092");
}

// Malformed addresses and options are InvalidArgument; unresolvable hosts Unavailable.
TEST(HttpServerTest, RejectsBadAddressesAndOptions) {
  for (const char* address :
       {"9092", "0.0.0.0", "0.0.0.0:x", "0.0.0.0:70000", "::1:9092", "[::1]9092", "1.2.3.4:-1"}) {
    HttpServerOptions options;
    options.address = address;
    EXPECT_EQ(HttpServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument)
        << address;
  }
  HttpServerOptions no_threads;
  no_threads.address = "127.0.0.1:0";
  no_threads.threads = 0;
  EXPECT_EQ(HttpServer::Start(no_threads, {}).status().code(), absl::StatusCode::kInvalidArgument);
  HttpServerOptions foreign;
  foreign.address = "192.0.2.1:0";  // TEST-NET-1: no interface of this host has it
  EXPECT_EQ(HttpServer::Start(foreign, {}).status().code(), absl::StatusCode::kUnavailable);
}

// GET and HEAD of the resource are 200; other paths 404, other methods 405.
TEST(HttpServerTest, ServesTheResourceAnd404Elsewhere) {
  std::unique_ptr<HttpServer> server = StartHello();
  ASSERT_NE(server, nullptr);
  const std::string get = Exchange(server->port(), RequestText("GET", "/r"));
  EXPECT_EQ(StatusOf(get), 200) << get;
  EXPECT_TRUE(absl::StrContains(get, "Content-Type: text/plain\r\n")) << get;
  EXPECT_EQ(testing::BodyOf(get), "hello\n");
  const std::string head = Exchange(server->port(), RequestText("HEAD", "/r"));
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_TRUE(absl::StrContains(head, "Content-Length: 6\r\n")) << head;
  EXPECT_EQ(testing::BodyOf(head), "");
  EXPECT_EQ(StatusOf(Exchange(server->port(), RequestText("GET", "/"))), 404);
  EXPECT_EQ(StatusOf(Exchange(server->port(), RequestText("PUT", "/r"))), 405);
}

// A render function that throws is a 500, and the server keeps serving.
TEST(HttpServerTest, ThrowingRenderIs500) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  HttpServer::Resource boom{"/boom", "text/plain",
                            []() -> std::string { throw std::runtime_error("boom"); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {boom});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(StatusOf(Exchange((*server)->port(), RequestText("GET", "/boom"))), 500);
  EXPECT_EQ(StatusOf(Exchange((*server)->port(), RequestText("GET", "/"))), 404);
}

// A head that stops arriving is answered 408 after read_timeout; a silent
// connection is closed without an answer.
TEST(HttpServerTest, SlowHeadTimesOut) {
  HttpServerOptions options;
  options.read_timeout = absl::Milliseconds(200);
  std::unique_ptr<HttpServer> server = StartHello(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /r HTTP/1.1\r\n")), 408);
  EXPECT_EQ(Exchange(server->port(), ""), "");
  EXPECT_EQ(StatusOf(Exchange(server->port(), RequestText("GET", "/r"))), 200);
}

// With the one thread busy and the queue full, a further connection is answered 503.
TEST(HttpServerTest, FullQueueIs503) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.threads = 1;
  options.max_queued_connections = 1;
  options.read_timeout = absl::Hours(1);
  absl::Notification entered;
  absl::Notification release;
  HttpServer::Resource slow{"/slow", "text/plain", [&] {
                              entered.Notify();
                              release.WaitForNotification();
                              return std::string("done\n");
                            }};
  HttpServer::Resource hello{"/r", "text/plain", [] { return std::string("hello\n"); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {slow, hello});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  // The thread is inside /slow's render, then a silent connection takes the one
  // queue slot; the next connection finds no room.
  const int busy = testing::ConnectTcp("127.0.0.1", port);
  ASSERT_GE(busy, 0);
  testing::SendBytes(busy, RequestText("GET", "/slow"));
  entered.WaitForNotification();
  const int queued = testing::ConnectTcp("127.0.0.1", port);
  ASSERT_GE(queued, 0);
  EXPECT_EQ(StatusOf(Exchange(port, RequestText("GET", "/r"))), 503);
  release.Notify();
  EXPECT_EQ(StatusOf(testing::ReadAll(busy)), 200);
  close(busy);
  close(queued);
  // Served again once the thread has seen both go (until then: 503 at once).
  int status = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (status != 200 && absl::Now() < give_up) {
    status = StatusOf(Exchange(port, RequestText("GET", "/r")));
  }
  EXPECT_EQ(status, 200);
}

// Destroying the server interrupts connections in progress instead of waiting for
// their (here one-hour) timeouts.
TEST(HttpServerTest, DestructionInterruptsOpenConnections) {
  HttpServerOptions options;
  options.read_timeout = absl::Hours(1);
  std::unique_ptr<HttpServer> server = StartHello(options);
  ASSERT_NE(server, nullptr);
  const int idle = testing::ConnectTcp("127.0.0.1", server->port());
  ASSERT_GE(idle, 0);
  testing::SendBytes(idle, "GET /r HTTP/1.1\r\n");
  server.reset();
  EXPECT_EQ(testing::ReadAll(idle), "");  // closed, not answered
  close(idle);
}

// The server listens on IPv6 loopback when asked to (skipped without IPv6).
TEST(HttpServerTest, ListensOnIpv6Loopback) {
  HttpServerOptions options;
  options.address = "[::1]:0";
  HttpServer::Resource hello{"/r", "text/plain", [] { return std::string("hello\n"); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {hello});
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback: " << server.status();
  EXPECT_EQ(StatusOf(Exchange((*server)->port(), RequestText("GET", "/r"), false, "::1")), 200);
}

}  // namespace
}  // namespace recsys

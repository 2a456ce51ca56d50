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
#include "absl/strings/str_split.h"
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

// Headers are kept lower-cased and trimmed; the query and version are split off.
TEST(HttpRequestTest, KeepsHeadersQueryAndVersion) {
  http::RequestHead head = http::ParseRequestHead(
      "POST /v1/x?a=1&b=2 HTTP/1.0\r\nContent-Length:  12 \r\nX-Two: a\r\nx-two: b\r\n\r\n");
  ASSERT_EQ(head.error_status, 0) << head.error;
  EXPECT_EQ(head.query, "a=1&b=2");
  EXPECT_EQ(head.minor_version, 0);
  ASSERT_NE(head.Header("content-length"), nullptr);
  EXPECT_EQ(*head.Header("content-length"), "12");
  EXPECT_EQ(head.HeaderCount("x-two"), 2);
  EXPECT_EQ(head.Header("absent"), nullptr);
}

// Queries decode %XX and '+'; bad escapes are errors, not guesses.
TEST(HttpRequestTest, DecodesQueries) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> q =
      http::ParseQuery("q=space+adventure&k=10&&flag&u=%C3%A9%2B");
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"q", "space adventure"}));
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ((*q)[3].second, "\xC3\xA9+");
  EXPECT_FALSE(http::ParseQuery("q=%").ok());
  EXPECT_FALSE(http::ParseQuery("q=%4").ok());
  EXPECT_FALSE(http::ParseQuery("q=%zz").ok());
  EXPECT_EQ(*http::PercentDecode("a+b%2f", /*plus_is_space=*/false), "a+b/");
}

// A handler server that echoes method, path, query and body.
std::unique_ptr<HttpServer> StartEcho(HttpServerOptions options) {
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::StartHandler(options, [](const HttpRequest& r) {
        const std::string* auth = r.Header("authorization");
        return HttpResponse{.status = r.path == "/missing" ? 404 : 200,
                            .body = absl::StrCat(r.method, " ", r.path, " ", r.query, " [",
                                                 r.body, "] ", auth ? *auth : "-")};
      });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

HttpServerOptions BodyOptions() {
  HttpServerOptions options;
  options.max_body_bytes = 64;
  options.keep_alive = true;
  options.read_timeout = absl::Seconds(5);
  return options;
}

// Bodies framed by Content-Length reach the handler; several requests share a
// kept-alive connection, including pipelined ones; Connection: close ends it.
TEST(HttpServerTest, HandlerGetsBodiesOverKeptAliveConnections) {
  std::unique_ptr<HttpServer> server = StartEcho(BodyOptions());
  ASSERT_NE(server, nullptr);
  const std::string a =
      "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nContent-Length: 5\r\n\r\nhello";
  const std::string b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string c = "PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
  const std::string all = Exchange(server->port(), a + b + c);
  EXPECT_NE(all.find("POST /a x=1 [hello] Bearer t"), std::string::npos) << all;
  EXPECT_NE(all.find("GET /b  [] -"), std::string::npos) << all;
  EXPECT_NE(all.find("PUT /c  [hi] -"), std::string::npos) << all;
  size_t responses = 0;
  for (size_t at = all.find("HTTP/1.1 200"); at != std::string::npos;
       at = all.find("HTTP/1.1 200", at + 1)) {
    ++responses;
  }
  EXPECT_EQ(responses, 3u);
  EXPECT_NE(all.find("Connection: keep-alive"), std::string::npos);
  EXPECT_NE(all.rfind("Connection: close"), std::string::npos);
}

// Oversized, chunked, conflicting or malformed bodies are refused with the
// right status and the connection closed; HTTP/1.0 is never kept alive.
TEST(HttpServerTest, HandlerRefusesBadBodies) {
  std::unique_ptr<HttpServer> server = StartEcho(BodyOptions());
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nContent-Length: 65\r\n\r\n")), 413);
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")), 501);
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nExpect: magic\r\nContent-Length: 3\r\n\r\n")), 417);
  // A body cut short by the client's half-close.
  EXPECT_EQ(StatusOf(Exchange(port, "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", true)), 400);
  const std::string old = Exchange(port, "GET /a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(old), 200);
  EXPECT_NE(old.find("Connection: close"), std::string::npos);
  EXPECT_EQ(StatusOf(Exchange(port, "GET /missing HTTP/1.1\r\nConnection: close\r\n\r\n")), 404);
}

// Expect: 100-continue gets its interim answer before the body is sent.
TEST(HttpServerTest, HandlerAnswers100Continue) {
  std::unique_ptr<HttpServer> server = StartEcho(BodyOptions());
  ASSERT_NE(server, nullptr);
  const int fd = testing::ConnectTcp("127.0.0.1", server->port());
  ASSERT_GE(fd, 0);
  testing::SendBytes(fd,
                     "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
                     "Connection: close\r\n\r\n");
  char buf[64];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(absl::StartsWith(absl::string_view(buf, n), "HTTP/1.1 100 Continue"));
  testing::SendBytes(fd, "body");
  EXPECT_NE(testing::ReadAll(fd).find("[body]"), std::string::npos);
  close(fd);
}

// An idle kept-alive connection is closed after idle_timeout, and at once when
// another connection waits for the only thread.
TEST(HttpServerTest, IdleKeepAliveYieldsToWaitingConnections) {
  HttpServerOptions options = BodyOptions();
  options.threads = 1;
  options.idle_timeout = absl::Hours(1);
  std::unique_ptr<HttpServer> server = StartEcho(options);
  ASSERT_NE(server, nullptr);
  const int idle = testing::ConnectTcp("127.0.0.1", server->port());
  ASSERT_GE(idle, 0);
  testing::SendBytes(idle, "GET /first HTTP/1.1\r\n\r\n");
  char buf[512];
  ASSERT_GT(recv(idle, buf, sizeof(buf), 0), 0);  // answered; the thread now idles on it
  // A second client gets the thread although the first never closes.
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /second HTTP/1.1\r\nConnection: close\r\n\r\n")),
            200);
  EXPECT_EQ(testing::ReadAll(idle), "");  // closed by the server
  close(idle);

  options.threads = 2;
  options.idle_timeout = absl::Milliseconds(100);
  server = StartEcho(options);
  ASSERT_NE(server, nullptr);
  const int quiet = testing::ConnectTcp("127.0.0.1", server->port());
  testing::SendBytes(quiet, "GET /first HTTP/1.1\r\n\r\n");
  const std::string got = testing::ReadAll(quiet);  // answer, then closed when idle
  EXPECT_EQ(StatusOf(got), 200);
  close(quiet);
}

// With a thread free, a new connection does not cost an idle kept-alive one
// its connection: the next request on it is answered.
TEST(HttpServerTest, IdleKeepAliveStaysWhileAThreadIsFree) {
  HttpServerOptions options = BodyOptions();
  options.threads = 2;
  options.idle_timeout = absl::Hours(1);
  std::unique_ptr<HttpServer> server = StartEcho(options);
  ASSERT_NE(server, nullptr);
  const int kept = testing::ConnectTcp("127.0.0.1", server->port());
  ASSERT_GE(kept, 0);
  testing::SendBytes(kept, "GET /first HTTP/1.1\r\n\r\n");
  char buf[512];
  ASSERT_GT(recv(kept, buf, sizeof(buf), 0), 0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /other HTTP/1.1\r\nConnection: close\r\n\r\n")),
              200);
  }
  testing::SendBytes(kept, "GET /again HTTP/1.1\r\nConnection: close\r\n\r\n");
  const std::string again = testing::ReadAll(kept);
  EXPECT_NE(again.find("GET /again"), std::string::npos) << again;
  close(kept);
}

// A throwing handler is a 500, and the server goes on.
TEST(HttpServerTest, ThrowingHandlerIs500) {
  HttpServerOptions options = BodyOptions();
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::StartHandler(options, [](const HttpRequest& r) -> HttpResponse {
        if (r.path == "/boom") throw std::runtime_error("boom");
        return HttpResponse{.body = "ok"};
      });
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(StatusOf(Exchange((*server)->port(), "GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n")), 500);
  EXPECT_EQ(StatusOf(Exchange((*server)->port(), "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")), 200);
  EXPECT_FALSE(HttpServer::StartHandler(options, nullptr).ok());
}

}  // namespace
}  // namespace recsys

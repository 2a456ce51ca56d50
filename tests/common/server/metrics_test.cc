#include "common/server/metrics.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/common/server/raw_http_client.h"

namespace recsys {
namespace {

// A GET over a new loopback connection; the whole response ("" on error).
std::string HttpGet(int port, const std::string& path) {
  return testing::Exchange(port, testing::RequestText("GET", path));
}

constexpr char kLabels[] =
    "grpc_method=\"Retrieve\",grpc_service=\"recsys.v1.Retrieval\",grpc_type=\"unary\"";

// Recorded calls are scraped over HTTP from a port-0 exposer with grpc-ecosystem names and labels.
TEST(ServerMetricsTest, ScrapeShowsRecordedCallsWithGrpcEcosystemLabels) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ServerMetrics& m = **metrics;
  ASSERT_GT(m.port(), 0);

  {
    RpcRecorder rec(m, "recsys.v1.Retrieval", "Retrieve");
    rec.Finish(grpc::Status::OK);
  }
  {
    RpcRecorder rec(&m, "recsys.v1.Retrieval", "Retrieve");
    rec.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "k must be positive"));
    rec.Finish(grpc::Status::OK);  // ignored: one outcome per call
  }
  {
    RpcRecorder rec(m, "recsys.v1.Retrieval", "Retrieve");
    rec.Finish(grpc::StatusCode::OK);
  }
  { RpcRecorder abandoned(m, "recsys.v1.Retrieval", "Retrieve"); }  // never finished

  std::string response = HttpGet(m.port(), "/metrics");
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200") ||
              absl::StartsWith(response, "HTTP/1.0 200"))
      << response;
  const std::string labels = kLabels;
  EXPECT_TRUE(absl::StrContains(response, "# TYPE grpc_server_started_total counter")) << response;
  EXPECT_TRUE(absl::StrContains(response, "grpc_server_started_total{" + labels + "} 4"))
      << response;
  EXPECT_TRUE(absl::StrContains(
      response, "grpc_server_handled_total{grpc_code=\"OK\"," + labels + "} 2"))
      << response;
  EXPECT_TRUE(absl::StrContains(
      response, "grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\"," + labels + "} 1"))
      << response;
  EXPECT_TRUE(absl::StrContains(
      response, "grpc_server_handled_total{grpc_code=\"UNKNOWN\"," + labels + "} 1"))
      << response;
  // Codes never seen are present at 0 so ratios work from the start.
  EXPECT_TRUE(absl::StrContains(
      response, "grpc_server_handled_total{grpc_code=\"UNAVAILABLE\"," + labels + "} 0"))
      << response;
  EXPECT_TRUE(absl::StrContains(response, "# TYPE grpc_server_handling_seconds histogram"))
      << response;
  EXPECT_TRUE(absl::StrContains(response, "grpc_server_handling_seconds_count{" + labels + "} 4"))
      << response;
  EXPECT_TRUE(absl::StrContains(response, "grpc_server_handling_seconds_bucket{" + labels +
                                              ",le=\"0.0005\"}"))
      << response;
  EXPECT_TRUE(
      absl::StrContains(response, "grpc_server_handling_seconds_bucket{" + labels + ",le=\"5\"}"))
      << response;
  EXPECT_TRUE(absl::StrContains(response,
                                "grpc_server_handling_seconds_bucket{" + labels + ",le=\"+Inf\"} 4"))
      << response;
}

// Services can register their own families on the shared registry and they are scraped too.
TEST(ServerMetricsTest, ServiceFamiliesShareTheRegistry) {
  std::unique_ptr<ServerMetrics> m = ServerMetrics::CreateWithoutExposer();
  EXPECT_EQ(m->port(), 0);
  prometheus::BuildCounter()
      .Name("recsys_fallbacks_total")
      .Help("Requests answered by a fallback path.")
      .Register(m->registry())
      .Add({{"path", "trending"}})
      .Increment(3);
  EXPECT_TRUE(
      absl::StrContains(m->SerializeText(), "recsys_fallbacks_total{path=\"trending\"} 3"));
}

// A new serving bundle replaces the info series instead of adding one per version.
TEST(ServerMetricsTest, BundleInfoKeepsOnlyTheServingVersion) {
  std::unique_ptr<ServerMetrics> m = ServerMetrics::CreateWithoutExposer();
  m->SetBundle("movielens", "v1", absl::FromUnixSeconds(1000));
  m->SetBundle("movielens", "v2", absl::InfinitePast());  // unknown time keeps the last one
  m->RecordBundleLoad(true, absl::Milliseconds(1500));
  m->RecordBundleLoad(false, absl::Seconds(9));
  std::string text = m->SerializeText();
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_info{name=\"movielens\",version=\"v2\"} 1"))
      << text;
  EXPECT_FALSE(absl::StrContains(text, "version=\"v1\"")) << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_created_timestamp_seconds 1000")) << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_load_seconds 1.5")) << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_loads_total{result=\"error\"} 1")) << text;
}

// A port already taken is a clear start-up error, not an exception.
TEST(ServerMetricsTest, BusyPortIsUnavailable) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> first = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<ServerMetrics>> second =
      ServerMetrics::Create(absl::StrCat("127.0.0.1:", (*first)->port()));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

// A null metrics pointer makes the recorder a no-op (service unit tests without metrics).
TEST(ServerMetricsTest, NullMetricsRecorderIsNoOp) {
  RpcRecorder rec(nullptr, "recsys.v1.Ranking", "Rank");
  rec.Finish(grpc::Status::OK);
  EXPECT_GE(rec.Elapsed(), absl::ZeroDuration());
}

// The endpoint is alive and serving our families: GET /metrics answers 200 with them.
void ExpectMetricsServed(int port) {
  const std::string response = HttpGet(port, "/metrics");
  EXPECT_EQ(testing::StatusOf(response), 200) << response;
  EXPECT_TRUE(absl::StrContains(response, "# TYPE recsys_bundle_loads_total counter")) << response;
  EXPECT_TRUE(absl::StrContains(response, "exposer_scrapes_total")) << response;
}

// Paths other than /metrics, other methods and broken requests get their status
// (or a closed connection) instead of killing the process.
TEST(ServerMetricsEndpointTest, EveryOtherRequestGetsAStatusAndMetricsStillAnswer) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int port = (*metrics)->port();
  using testing::Exchange;
  using testing::RequestText;
  using testing::StatusOf;

  EXPECT_EQ(StatusOf(HttpGet(port, "/")), 404);
  EXPECT_EQ(StatusOf(HttpGet(port, "/favicon.ico")), 404);
  EXPECT_EQ(StatusOf(HttpGet(port, "/metrics/")), 404);
  // A query string does not change the resource.
  EXPECT_EQ(StatusOf(HttpGet(port, "/metrics?debug=1")), 200);

  const std::string head_metrics = Exchange(port, RequestText("HEAD", "/metrics"));
  EXPECT_EQ(StatusOf(head_metrics), 200) << head_metrics;
  EXPECT_TRUE(absl::StrContains(head_metrics, "Content-Length: ")) << head_metrics;
  EXPECT_EQ(testing::BodyOf(head_metrics), "") << head_metrics;
  const std::string head_root = Exchange(port, RequestText("HEAD", "/"));
  EXPECT_EQ(StatusOf(head_root), 404) << head_root;
  EXPECT_EQ(testing::BodyOf(head_root), "") << head_root;

  const std::string post = Exchange(
      port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(StatusOf(post), 405) << post;
  EXPECT_TRUE(absl::StrContains(post, "Allow: GET, HEAD\r\n")) << post;
  EXPECT_EQ(StatusOf(Exchange(port, RequestText("DELETE", "/metrics"))), 405);

  EXPECT_EQ(StatusOf(Exchange(port, "GET /metrics\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "GET  /metrics HTTP/1.1\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "GET metrics HTTP/1.1\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "GET /metrics HTTP/9.9\r\n\r\n")), 505);
  EXPECT_EQ(StatusOf(Exchange(port, "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n")), 400);

  // Garbage bytes, with a line end somewhere so that a head "ends".
  std::string garbage;
  for (int i = 0; i < 3000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  const int garbage_status = StatusOf(Exchange(port, garbage + "\r\n\r\n"));
  EXPECT_TRUE(garbage_status == 400 || garbage_status == 0) << garbage_status;
  EXPECT_EQ(StatusOf(Exchange(port, std::string(1000, '\0') + "\r\n\r\n")), 400);

  // 100 KB of headers.
  std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; big.size() < 100'000; ++i) {
    absl::StrAppend(&big, "X-Filler-", i, ": ", std::string(100, 'v'), "\r\n");
  }
  EXPECT_EQ(StatusOf(Exchange(port, big + "\r\n")), 431);
  // A 100 KB request line.
  EXPECT_EQ(StatusOf(Exchange(port, "GET /" + std::string(100'000, 'a'))), 414);

  // No terminating empty line: half-closed → 400; fully closed → nothing to answer.
  const std::string unterminated = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(StatusOf(Exchange(port, unterminated, /*half_close=*/true)), 400);
  const int fd = testing::ConnectTcp("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  testing::SendBytes(fd, unterminated);
  close(fd);
  // Connect and close without a byte.
  EXPECT_EQ(Exchange(port, "", /*half_close=*/true), "");

  ExpectMetricsServed(port);
}

// One random request (fixed seed) and the statuses it may get; 0 = the server may
// close the connection without an answer.
struct FuzzCase {
  std::string request;
  bool half_close = false;
  std::vector<int> allowed;
};

FuzzCase RandomRequest(std::mt19937& rng) {
  static const std::vector<std::string> kMethods = {"GET",   "HEAD",    "POST", "PUT",
                                                    "DELETE", "OPTIONS", "get",  "TRACE",
                                                    "PATCH", "CONNECT", "X-Custom"};
  static const std::vector<std::string> kPaths = {
      "/metrics", "/", "/favicon.ico", "/metrics/", "/metrics?a=b", "/../etc/passwd",
      "/%00", "//metrics", "/index.html", "/metrics#frag"};
  auto uniform = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  auto random_text = [&](size_t n, absl::string_view alphabet) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(alphabet[uniform(alphabet.size())]);
    return out;
  };
  constexpr absl::string_view kPathChars = "abcdefghijklmnopqrstuvwxyz0123456789/._-~%?=&";
  constexpr absl::string_view kValueChars = "abcdefghijklmnopqrstuvwxyz ABCDEF0123456789;=,/\t";

  FuzzCase c;
  const size_t kind = uniform(10);
  if (kind < 7) {  // well formed, maybe with an oversized header block
    const std::string& method = kMethods[uniform(kMethods.size())];
    std::string path = uniform(3) == 0 ? "/" + random_text(uniform(60), kPathChars)
                                       : kPaths[uniform(kPaths.size())];
    std::string head = absl::StrCat(method, " ", path, " HTTP/1.", uniform(2), "\r\n");
    const size_t headers = uniform(12);
    for (size_t i = 0; i < headers; ++i) {
      absl::StrAppend(&head, "X-Fuzz-", i, ": ", random_text(uniform(300), kValueChars), "\r\n");
    }
    const bool oversized = uniform(8) == 0;
    if (oversized) {
      absl::StrAppend(&head, "X-Big: ", std::string(17'000 + uniform(40'000), 'b'), "\r\n");
    }
    c.request = head + "\r\n";
    const std::string bare_path = path.substr(0, path.find('?'));
    if (oversized) {
      c.allowed = {431};
    } else if (path.find('#') != std::string::npos || bare_path != "/metrics") {
      c.allowed = {404};
    } else if (method == "GET" || method == "HEAD") {
      c.allowed = {200};
    } else {
      c.allowed = {405};
    }
  } else if (kind < 9) {  // random bytes, sometimes ending like a head
    std::string bytes(uniform(3000), '\0');
    for (char& b : bytes) b = static_cast<char>(rng() & 0xff);
    c.half_close = true;
    if (uniform(2) == 0) bytes += "\r\n\r\n";
    c.request = bytes;
    c.allowed = {0, 400, 414, 431, 505};
  } else {  // a well-formed head cut short, then the sending side closed
    const std::string head =
        absl::StrCat("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ", std::string(uniform(500), 'p'),
                     "\r\n\r\n");
    c.request = head.substr(0, 1 + uniform(head.size() - 2));
    c.half_close = true;
    c.allowed = {400};
  }
  return c;
}

// 10,000 fuzzed requests (random methods, paths, header sizes, framing; fixed seed)
// each get an expected status, and /metrics still answers afterwards.
TEST(ServerMetricsEndpointTest, FuzzedRequestsLeaveTheEndpointServing) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int port = (*metrics)->port();
  std::mt19937 rng(20240607);
  int failures = 0;
  for (int i = 0; i < 10'000; ++i) {
    const FuzzCase c = RandomRequest(rng);
    const std::string response = testing::Exchange(port, c.request, c.half_close);
    const int status = testing::StatusOf(response);
    if (std::find(c.allowed.begin(), c.allowed.end(), status) == c.allowed.end()) {
      if (++failures <= 5) {
        ADD_FAILURE() << "request " << i << " got " << status << ": "
                      << absl::CHexEscape(c.request.substr(0, 200)) << "\nresponse: "
                      << response.substr(0, 200);
      }
    }
  }
  EXPECT_EQ(failures, 0);
  ExpectMetricsServed(port);
}

}  // namespace
}  // namespace recsys

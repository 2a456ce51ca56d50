#include "common/server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

// A minimal HTTP/1.0 GET over loopback; returns the whole response ("" on error).
std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};  // a broken server must fail the test, not hang it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
    }
  }
  ::close(fd);
  return response;
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

}  // namespace
}  // namespace recsys

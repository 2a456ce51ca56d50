// Process-level tests of the recsys-retrieval binary (built into RECSYS_BIN_DIR by
// the recsys-retrieval target; skipped when it has not been built).
#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "recsys/v1/retrieval.grpc.pb.h"
#include "retrieval_service/service.h"
#include "tests/retrieval_service/toy_fixture.h"
#include "tests/testing/child_process.h"

namespace recsys::retrieval {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(RECSYS_BIN_DIR) + "/recsys-retrieval";

// recsys-retrieval with `args` (tests/testing/child_process.h).
class Child : public recsys::testing::ChildProcess {
 public:
  explicit Child(const std::vector<std::string>& args) : ChildProcess(kBinary, args) {}
};

class RetrievalMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << kBinary << " not built";
  }
};

// A bad flag exits non-zero at once with a message naming the flag.
TEST_F(RetrievalMainTest, BadFlagExitsNonZeroWithMessage) {
  Child child({"--workers=0"});
  EXPECT_EQ(child.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(child.output(), "--workers must be in 1..1024")) << child.output();
  Child missing({"--registry=/nonexistent/registry"});
  EXPECT_EQ(missing.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(missing.output(), "is not a directory")) << missing.output();
}

// A gRPC port already in use fails start-up with a non-zero exit and a clear message.
TEST_F(RetrievalMainTest, PortInUseExitsNonZero) {
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(sock, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  const std::string dir = recsys::testing::FreshTempDir("retrieval_main_port");
  Child child({"--registry=" + dir, absl::StrCat("--port=", port), "--metrics_port=0"});
  EXPECT_EQ(child.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(child.output(), "cannot start the retrieval server"))
      << child.output();
  close(sock);
  fs::remove_all(dir);
}

// The binary serves the promoted bundle (health SERVING), answers Retrieve, and exits 0 on SIGTERM.
TEST_F(RetrievalMainTest, ServesThenDrainsOnSigtermAndExitsZero) {
  absl::StatusOr<testing::ToyRegistry> toy = testing::MakeToyRegistry("retrieval_main");
  ASSERT_TRUE(toy.ok()) << toy.status();
  Child child({"--registry=" + toy->registry_root, "--name=toy", "--port=0", "--metrics_port=0",
               "--workers=2", "--drain=5s"});
  ASSERT_TRUE(child.ReadUntil("health SERVING")) << child.output();
  // The bundle can load (and log SERVING) before main logs the port: wait for
  // that line too, up to the text after the number.
  const std::string marker = "gRPC on port ";
  ASSERT_TRUE(child.ReadUntil(", /metrics on port")) << child.output();
  const size_t at = child.output().find(marker);
  ASSERT_NE(at, std::string::npos) << child.output();
  int port = 0;
  const size_t start = at + marker.size();
  ASSERT_TRUE(absl::SimpleAtoi(
      child.output().substr(start, child.output().find(',', start) - start), &port));

  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(kRetrievalServiceName);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::RetrieveRequest request;
    request.mutable_user()->add_history()->set_item_id("m0");
    v1::RetrieveResponse response;
    grpc::Status s = v1::Retrieval::NewStub(channel)->Retrieve(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(response.candidates_size(), 0);
    EXPECT_EQ(response.model_version(), toy->version);
  }
  // Our channel goes first: gRPC's shutdown waits (up to --drain) for connected
  // clients to go away, not only for calls in flight.
  channel.reset();
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0) << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "recsys-retrieval stopped")) << child.output();
  fs::remove_all(toy->root);
}

}  // namespace
}  // namespace recsys::retrieval

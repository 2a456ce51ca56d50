// Process-level tests of the recsys-gateway binary's start-up (built into
// RECSYS_BIN_DIR; skipped when it has not been built): the common flag checks,
// listening NOT_SERVING before any bundle exists, SERVING once one is promoted,
// and giving up after --startup_timeout.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/io/file.h"
#include "common/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gateway/wal.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/child_process.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(RECSYS_BIN_DIR) + "/recsys-gateway";

// recsys-gateway with `args` (tests/testing/child_process.h).
class Child : public recsys::testing::ChildProcess {
 public:
  explicit Child(const std::vector<std::string>& args) : ChildProcess(kBinary, args) {}
  // The gRPC port from main's "gRPC on port N," line (0 if it never came).
  int GrpcPort() { return NumberAfter("gRPC on port "); }
};

// grpc.health.v1 Check of the gateway's service name: the status, or the
// RPC's failure code as a negative number (-14 = UNAVAILABLE: nothing listens).
int Health(int port) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("recsys.v1.Recommender");
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status s =
      grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response);
  return s.ok() ? static_cast<int>(response.status()) : -static_cast<int>(s.error_code());
}

class GatewayMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << kBinary << " not built";
  }
};

// The flag checks every service shares: exit 2 with the message; a missing registry exits 1.
TEST_F(GatewayMainTest, BadFlagsExitNonZeroWithMessage) {
  Child bad_name({"--name=a/b"});
  EXPECT_EQ(bad_name.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_name.output(),
                                "--name: model name 'a/b' has characters outside [A-Za-z0-9._-]"))
      << bad_name.output();
  Child dot_dot({"--name=.."});
  EXPECT_EQ(dot_dot.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(dot_dot.output(), "model name '..' is not allowed"))
      << dot_dot.output();
  Child bad_port({"--port=70000"});
  EXPECT_EQ(bad_port.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_port.output(), "--port and --metrics_port must be in 0..65535"))
      << bad_port.output();
  Child bad_k({"--max_k=0"});
  EXPECT_EQ(bad_k.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_k.output(), "--max_k must be >= 1")) << bad_k.output();
  Child bad_url({"--ask_generator_url=https://gen:8080/answer"});
  EXPECT_EQ(bad_url.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_url.output(),
                                "--ask_generator_url: bad URL 'https://gen:8080/answer': https is "
                                "not supported (plain http:// only)"))
      << bad_url.output();
  Child bad_url_port({"--ask_generator_url=http://gen:99999/"});
  EXPECT_EQ(bad_url_port.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_url_port.output(), "port '99999' is not in 1..65535"))
      << bad_url_port.output();
  Child bad_timeout({"--ask_generator_timeout=0s"});
  EXPECT_EQ(bad_timeout.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_timeout.output(), "--ask_generator_timeout must be positive"))
      << bad_timeout.output();
  Child missing({"--registry=/nonexistent/registry"});
  EXPECT_EQ(missing.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(missing.output(), "is not a directory")) << missing.output();
}

// Started before any bundle exists, the gateway listens and answers health
// NOT_SERVING (not connection refused); once a bundle is promoted it turns
// SERVING; SIGTERM then exits 0.
TEST_F(GatewayMainTest, NotServingUntilABundleIsPromotedThenServing) {
  const std::string root = recsys::testing::FreshTempDir("gateway_main_startup");
  fs::create_directories(root + "/registry");
  Child child({"--registry=" + root + "/registry", "--name=toy", "--port=0", "--metrics_port=0",
               "--state_dir=" + root + "/state", "--fsync=false", "--poll_interval=100ms",
               "--drain=1s", "--retrieval=dns:///127.0.0.1:1", "--ranking=dns:///127.0.0.1:1"});
  const int port = child.GrpcPort();
  ASSERT_GT(port, 0) << child.output();
  EXPECT_EQ(Health(port), grpc::health::v1::HealthCheckResponse::NOT_SERVING) << child.output();

  absl::StatusOr<offline::TrainResult> trained;
  {
    const LogSeverity old = MinLogSeverity();
    SetMinLogSeverity(LogSeverity::kWarning);  // the trainer's leaderboard
    trained = recsys::testing::TrainToyBundle(root);
    SetMinLogSeverity(old);
  }
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(Registry(root + "/registry", "toy").Promote(trained->version, true).ok());
  ASSERT_TRUE(child.ReadUntil("health SERVING")) << child.output();
  EXPECT_EQ(Health(port), grpc::health::v1::HealthCheckResponse::SERVING) << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "user store seeded from bundle")) << child.output();

  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0) << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "recsys-gateway stopped")) << child.output();
  fs::remove_all(root);
}

// A corrupt user-store log (a complete record whose checksum fails, followed
// by an intact one): the default policy exits 1 naming the file, the offset
// and the flag, and modifies nothing; --wal_recovery=skip copies the segment
// aside, keeps the readable records and starts, saying so.
TEST_F(GatewayMainTest, CorruptLogRefusedByDefaultSkippedOnRequest) {
  const std::string root = recsys::testing::FreshTempDir("gateway_main_corrupt_log");
  fs::create_directories(root + "/registry");
  fs::create_directories(root + "/state");
  const std::string seg = root + "/state/" + WalSegmentName(1);
  const WalEntry e{"u", "i", 1600000000, 1.0f, "click"};
  std::string bytes = EncodeWalRecord(1, e);
  const size_t second = bytes.size();
  bytes += EncodeWalRecord(2, e) + EncodeWalRecord(3, e);
  bytes[second + 12] ^= 1;  // inside record 2's payload
  ASSERT_TRUE(WriteFileDurably(seg, bytes).ok());
  const std::vector<std::string> common = {
      "--registry=" + root + "/registry", "--name=toy", "--port=0", "--metrics_port=0",
      "--state_dir=" + root + "/state", "--fsync=false", "--poll_interval=100ms",
      "--startup_timeout=1s"};

  Child refused(common);
  EXPECT_EQ(refused.Wait(), 1) << refused.output();
  for (const std::string& want :
       {seg, absl::StrCat("offset ", second), std::string("--wal_recovery=skip"),
        std::string("CORRUPTION")}) {
    EXPECT_TRUE(absl::StrContains(refused.output(), want)) << want << "\n" << refused.output();
  }
  EXPECT_EQ(*ReadFile(seg), bytes);  // untouched

  std::vector<std::string> skip = common;
  skip.push_back("--wal_recovery=skip");
  Child skipped(skip);
  EXPECT_GT(skipped.GrpcPort(), 0) << skipped.output();
  EXPECT_EQ(skipped.Wait(), 1);  // no bundle within --startup_timeout
  EXPECT_TRUE(absl::StrContains(skipped.output(), "corrupt places skipped: 1"))
      << skipped.output();
  EXPECT_TRUE(absl::StrContains(skipped.output(), "2 logged events replayed"))
      << skipped.output();
  bool copied = false;
  for (const auto& f : fs::directory_iterator(root + "/state")) {
    if (absl::StrContains(f.path().filename().string(), ".damaged-")) {
      copied = *ReadFile(f.path().string()) == bytes;
    }
  }
  EXPECT_TRUE(copied);

  Child bad_policy({"--wal_recovery=maybe"});
  EXPECT_EQ(bad_policy.Wait(), 2);
  EXPECT_TRUE(absl::StrContains(bad_policy.output(), "--wal_recovery must be")) << bad_policy.output();
  fs::remove_all(root);
}

// No bundle within --startup_timeout: the gateway gives up with exit code 1.
TEST_F(GatewayMainTest, GivesUpAfterStartupTimeout) {
  const std::string root = recsys::testing::FreshTempDir("gateway_main_timeout");
  fs::create_directories(root + "/registry");
  Child child({"--registry=" + root + "/registry", "--name=toy", "--port=0", "--metrics_port=0",
               "--state_dir=" + root + "/state", "--fsync=false", "--poll_interval=100ms",
               "--startup_timeout=1s"});
  EXPECT_EQ(child.Wait(), 1) << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "no loadable production bundle within"))
      << child.output();
  fs::remove_all(root);
}

// SIGHUP never stops the gateway: each one re-reads the production alias at
// once (the poll interval here is an hour, so only the signal can find the
// bundle) and logs the result; it keeps serving, and SIGTERM then exits 0.
TEST_F(GatewayMainTest, SighupReloadsAtOnceAndKeepsServing) {
  const std::string root = recsys::testing::FreshTempDir("gateway_main_sighup");
  fs::create_directories(root + "/registry");
  Child child({"--registry=" + root + "/registry", "--name=toy", "--port=0", "--metrics_port=0",
               "--state_dir=" + root + "/state", "--fsync=false", "--poll_interval=1h",
               "--drain=1s", "--retrieval=dns:///127.0.0.1:1", "--ranking=dns:///127.0.0.1:1"});
  const int port = child.GrpcPort();
  ASSERT_GT(port, 0) << child.output();

  // Nothing promoted yet: the reload is refused with the reason, the process lives.
  child.Signal(SIGHUP);
  ASSERT_TRUE(child.ReadUntil("SIGHUP: re-read the registry's production alias: refused"))
      << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "no log files to reopen")) << child.output();
  EXPECT_EQ(Health(port), grpc::health::v1::HealthCheckResponse::NOT_SERVING) << child.output();

  absl::StatusOr<offline::TrainResult> trained;
  {
    const LogSeverity old = MinLogSeverity();
    SetMinLogSeverity(LogSeverity::kWarning);  // the trainer's leaderboard
    trained = recsys::testing::TrainToyBundle(root);
    SetMinLogSeverity(old);
  }
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(Registry(root + "/registry", "toy").Promote(trained->version, true).ok());

  child.Signal(SIGHUP);
  ASSERT_TRUE(child.ReadUntil("production alias: reloaded " + trained->version))
      << child.output();
  ASSERT_TRUE(child.ReadUntil("health SERVING")) << child.output();
  EXPECT_EQ(Health(port), grpc::health::v1::HealthCheckResponse::SERVING) << child.output();

  child.Signal(SIGHUP);
  ASSERT_TRUE(child.ReadUntil("production alias: unchanged, serving " + trained->version))
      << child.output();
  EXPECT_EQ(Health(port), grpc::health::v1::HealthCheckResponse::SERVING) << child.output();

  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0) << child.output();
  EXPECT_TRUE(absl::StrContains(child.output(), "recsys-gateway stopped")) << child.output();
  fs::remove_all(root);
}

}  // namespace
}  // namespace recsys::gateway

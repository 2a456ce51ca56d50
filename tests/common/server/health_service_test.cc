// Our health service: NOT_SERVING from the first instant, Check and Watch
// follow SetServingStatus, Shutdown pins everything NOT_SERVING.
#include "common/server/health_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/server/server_main_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace recsys {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.health_service = "recsys.v1.Test";
    auto started = BuildAndStartServer(options, {});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(started->server);
    stub_ = Health::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", started->port),
                                                grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&ctx, request, response);
  }

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST(HealthServiceUnitTest, EverythingStartsNotServing) {
  HealthService health;
  // What a probe would see before the owner says anything: "" is not serving
  // (gRPC's default service answers SERVING here).
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(health.StatusOf("x"), HealthCheckResponse::SERVICE_UNKNOWN);
  health.SetServingStatus("x", true);
  health.SetServingStatus(true);
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::SERVING);
  health.Shutdown();
  EXPECT_EQ(health.StatusOf("x"), HealthCheckResponse::NOT_SERVING);
  health.SetServingStatus("", true);  // ignored after Shutdown
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, CheckFollowsTheOwner) {
  ASSERT_NE(dynamic_cast<HealthService*>(server_->GetHealthCheckService()), nullptr);
  HealthCheckResponse r;
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(Check("recsys.v1.Test", &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check("no.such.Service", &r).error_code(), grpc::StatusCode::NOT_FOUND);

  SetServing(server_.get(), "recsys.v1.Test", true);
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Check("recsys.v1.Test", &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVING);

  server_->GetHealthCheckService()->Shutdown();
  SetServing(server_.get(), "recsys.v1.Test", true);
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, WatchStreamsChanges) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckRequest request;
  request.set_service("recsys.v1.Test");
  auto reader = stub_->Watch(&ctx, request);
  HealthCheckResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  SetServing(server_.get(), "recsys.v1.Test", true);
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::SERVING);
  SetServing(server_.get(), "recsys.v1.Test", false);
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), HealthCheckResponse::NOT_SERVING);
  ctx.TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace recsys

// GetModelInfo: the gateway service (reached in process) over fake Retrieval
// and Ranking backends, each on its own gRPC server with the standard health
// service, so a backend can be made SERVING, NOT_SERVING or stopped. The
// backends listen on loopback port 0: an in-process channel to a server that
// was shut down crashes gRPC 1.51, a TCP one fails cleanly like production.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/metrics.h"
#include "gateway/gateway_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace recsys::gateway {
namespace {

class FakeRetrieval final : public v1::Retrieval::CallbackService {
 public:
  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* ctx, const v1::RetrieveRequest*,
                                     v1::RetrieveResponse* response) override {
    for (const char* id : {"m1", "m2"}) response->add_candidates()->set_item_id(id);
    response->set_model_version("r-v7");
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class FakeRanking final : public v1::Ranking::CallbackService {
 public:
  grpc::ServerUnaryReactor* Rank(grpc::CallbackServerContext* ctx, const v1::RankRequest*,
                                 v1::RankResponse* response) override {
    v1::ScoredItem* item = response->add_items();
    item->set_item_id("m2");
    item->set_score(0.5f);
    response->set_model_version("k-v7");
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// Four items m0..m3; a manifest with the fields GetModelInfo returns.
std::shared_ptr<const ModelBundle> TestBundle() {
  auto bundle = std::make_shared<ModelBundle>();
  v1::BundleManifest& m = bundle->manifest;
  m.set_format_version(1);
  m.set_name("toy");
  m.set_version("v7");
  m.set_kind("production");
  m.set_created_at("2026-12-01T00:00:00Z");
  m.set_num_items(4);
  (*m.mutable_parameters())["dim"] = "32";
  m.add_files()->set_path("catalogue.bin");
  Catalogue& c = bundle->catalogue;
  c.category_names = {"A"};
  std::vector<Interaction> events;
  for (int i = 0; i < 4; ++i) {
    c.ids.GetOrAdd(absl::StrCat("m", i));
    c.titles.push_back(absl::StrCat("Title ", i));
    c.categories.push_back({0});
    c.release_time_s.push_back(0);
    c.popularity.push_back(1.0f);
    events.push_back(Interaction{0, i, 1700000000, 1.0f});
  }
  bundle->trending = TrendingModel(events, 4, /*half_life_s=*/86400.0);
  return bundle;
}

class EmptyStore : public UserStore {
 public:
  std::vector<UserEvent> History(absl::string_view, size_t) const override { return {}; }
  absl::StatusOr<uint64_t> Append(absl::string_view, UserEvent) override { return 0; }
  int64_t num_users() const override { return 3; }
  UserStoreStats stats() const override { return {}; }
  void SeedFrom(const ModelBundle&) override {}
};

// One server per backend (health on) and one for the gateway.
class ModelInfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    retrieval_server_ = Start(&retrieval_, v1::Retrieval::service_full_name(), &retrieval_port_);
    ranking_server_ = Start(&ranking_, v1::Ranking::service_full_name(), &ranking_port_);
    metrics_ = ServerMetrics::CreateWithoutExposer();
    std::shared_ptr<const ModelBundle> bundle = TestBundle();
    service_ = std::make_unique<GatewayService>(
        GatewayOptions(), [bundle] { return bundle; }, &store_, Channel(retrieval_port_),
        Channel(ranking_port_), metrics_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    gateway_server_ = builder.BuildAndStart();
    ASSERT_NE(gateway_server_, nullptr);
    stub_ = v1::Recommender::NewStub(gateway_server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(5));
    gateway_server_->Shutdown(deadline);
    stub_.reset();
    gateway_server_.reset();
    service_.reset();  // releases the channels before the backends go
    if (ranking_server_ != nullptr) ranking_server_->Shutdown(deadline);
    retrieval_server_->Shutdown(deadline);
  }

  static std::unique_ptr<grpc::Server> Start(grpc::Service* service, const char* name, int* port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
    builder.RegisterService(service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    EXPECT_NE(server, nullptr);
    server->GetHealthCheckService()->SetServingStatus(name, true);
    return server;
  }
  static std::shared_ptr<grpc::Channel> Channel(int port) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  }

  v1::GetModelInfoResponse Info() {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetModelInfoResponse response;
    const grpc::Status s = stub_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  v1::RecommendResponse Recommend() {
    v1::RecommendRequest request;
    request.set_user_id("alice");
    request.set_k(2);
    request.set_ignore_stored_history(true);
    request.add_extra_history()->set_item_id("m0");
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::RecommendResponse response;
    const grpc::Status s = stub_->Recommend(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  FakeRetrieval retrieval_;
  FakeRanking ranking_;
  EmptyStore store_;
  int retrieval_port_ = 0, ranking_port_ = 0;
  std::unique_ptr<grpc::Server> retrieval_server_, ranking_server_, gateway_server_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

// Both backends up and answering: AVAILABLE with the versions they reported
// and a recent contact; the manifest comes as structured fields (and as JSON).
TEST_F(ModelInfoTest, BothUpAreAvailableWithVersionsAndStructuredManifest) {
  ASSERT_EQ(Recommend().path(), v1::PATH_FULL);
  const absl::Time before = absl::Now() - absl::Seconds(60);
  const v1::GetModelInfoResponse info = Info();
  EXPECT_EQ(info.model_name(), "toy");
  EXPECT_EQ(info.model_version(), "v7");
  EXPECT_EQ(info.num_users(), 3);
  for (const v1::BackendStatus* b : {&info.retrieval(), &info.ranking()}) {
    EXPECT_EQ(b->state(), v1::BACKEND_STATE_AVAILABLE);
    EXPECT_TRUE(b->detail().empty()) << b->detail();
    EXPECT_GT(b->last_contact_unix_ms(), absl::ToUnixMillis(before));
    EXPECT_LE(b->last_contact_unix_ms(), absl::ToUnixMillis(absl::Now()));
  }
  EXPECT_EQ(info.retrieval().version(), "r-v7");
  EXPECT_EQ(info.ranking().version(), "k-v7");
  EXPECT_EQ(info.retrieval_version(), "r-v7");
  EXPECT_EQ(info.ranking_version(), "k-v7");
  ASSERT_TRUE(info.has_manifest());
  EXPECT_EQ(info.manifest().name(), "toy");
  EXPECT_EQ(info.manifest().version(), "v7");
  EXPECT_EQ(info.manifest().kind(), "production");
  EXPECT_EQ(info.manifest().created_at(), "2026-12-01T00:00:00Z");
  EXPECT_EQ(info.manifest().num_items(), 4);
  EXPECT_EQ(info.manifest().parameters().at("dim"), "32");
  EXPECT_EQ(info.manifest().files_size(), 0);  // the file list is left out
  EXPECT_NE(info.manifest_json().find("\"kind\":\"production\""), std::string::npos)
      << info.manifest_json();
}

// Ranking stopped after serving: UNAVAILABLE with the reason; its last
// version is kept as what it last served, and no longer claimed as served.
TEST_F(ModelInfoTest, StoppedRankingIsUnavailable) {
  ASSERT_EQ(Recommend().path(), v1::PATH_FULL);
  ranking_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  const v1::GetModelInfoResponse info = Info();
  EXPECT_EQ(info.ranking().state(), v1::BACKEND_STATE_UNAVAILABLE);
  EXPECT_FALSE(info.ranking().detail().empty());
  EXPECT_EQ(info.ranking().version(), "k-v7");
  EXPECT_EQ(info.ranking_version(), "");
  EXPECT_GT(info.ranking().last_contact_unix_ms(), 0);
  EXPECT_EQ(info.retrieval().state(), v1::BACKEND_STATE_AVAILABLE);
  EXPECT_EQ(info.retrieval_version(), "r-v7");
}

// A backend that answers health NOT_SERVING (loading its first bundle) is
// LOADING; one never called has no version and a contact from the check only.
TEST_F(ModelInfoTest, NotServingIsLoadingAndNeverCalledHasNoVersion) {
  ranking_server_->GetHealthCheckService()->SetServingStatus(v1::Ranking::service_full_name(),
                                                             false);
  const v1::GetModelInfoResponse info = Info();
  EXPECT_EQ(info.ranking().state(), v1::BACKEND_STATE_LOADING);
  EXPECT_EQ(info.ranking().version(), "");
  EXPECT_EQ(info.ranking_version(), "");
  EXPECT_GT(info.ranking().last_contact_unix_ms(), 0);  // the health check reached it
  EXPECT_EQ(info.retrieval().state(), v1::BACKEND_STATE_AVAILABLE);
  EXPECT_EQ(info.retrieval().version(), "");
}

// Names the CLI and logs print.
TEST(BackendStateNameTest, Names) {
  EXPECT_STREQ(BackendStateName(v1::BACKEND_STATE_AVAILABLE), "AVAILABLE");
  EXPECT_STREQ(BackendStateName(v1::BACKEND_STATE_LOADING), "LOADING");
  EXPECT_STREQ(BackendStateName(v1::BACKEND_STATE_UNAVAILABLE), "UNAVAILABLE");
}

}  // namespace
}  // namespace recsys::gateway

// Integration: a real RankingServer on port 0 with the toy bundle, over loopback.
#include "ranking_service/service.h"

#include <gtest/gtest.h>

#include "common/bundle/registry.h"
#include "common/features/features.h"
#include "tests/ranking_service/ranking_test_util.h"
#include "tests/testing/toy_registry.h"

namespace recsys::ranking {
namespace {

using testing::AddCandidate;
using testing::CheckHealth;
using testing::Health;
using testing::Ids;
using testing::Loopback;
using testing::RequestFor;

constexpr int64_t kT0 = 1500000000;  // toy data's first timestamp

RankingServerOptions ToyServerOptions(const std::string& root) {
  RankingServerOptions o;
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = root + "/registry";
  o.bundle.model_name = "toy";
  o.start_polling = false;  // the tests poll explicitly: no timing involved
  return o;
}

grpc::Status CallRank(v1::Ranking::Stub& stub, const v1::RankRequest& request,
                      v1::RankResponse* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub.Rank(&ctx, request, response);
}

// Health is NOT_SERVING (and Rank UNAVAILABLE) until a bundle is promoted and loaded, then SERVING.
TEST(RankingServerTest, HealthNotServingUntilBundleLoads) {
  const std::string root = recsys::testing::FreshTempDir("ranking_health");
  auto metrics = ServerMetrics::CreateWithoutExposer();
  auto server = RankingServer::Start(ToyServerOptions(root), metrics.get());
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = Loopback((*server)->port());
  EXPECT_EQ(CheckHealth(channel.get(), kRankingServiceName), Health::kNotServing);
  EXPECT_EQ(CheckHealth(channel.get(), ""), Health::kNotServing);
  EXPECT_FALSE((*server)->holder().PollOnce().ok());  // nothing promoted yet

  auto stub = v1::Ranking::NewStub(channel);
  v1::RankRequest request;
  request.set_k(2);
  AddCandidate(&request, "m1");
  v1::RankResponse response;
  EXPECT_EQ(CallRank(*stub, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto trained = recsys::testing::TrainToyBundle(root);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(Registry(root + "/registry", "toy").Promote(trained->version, /*force=*/true).ok());
  ASSERT_TRUE((*server)->holder().PollOnce().ok());
  EXPECT_EQ(CheckHealth(channel.get(), kRankingServiceName), Health::kServing);
  EXPECT_EQ(CheckHealth(channel.get(), ""), Health::kServing);
  grpc::Status status = CallRank(*stub, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_version(), trained->version);

  const std::string text = metrics->SerializeText();
  EXPECT_NE(text.find("recsys_bundle_info{name=\"toy\",version=\"" + trained->version + "\"} 1"),
            std::string::npos)
      << text;
  (*server)->Shutdown(absl::Seconds(5));
  EXPECT_NE(CheckHealth(channel.get(), kRankingServiceName), Health::kServing);
}

class RankingServerToyTest : public ::testing::Test {
 protected:
  // One trained, promoted toy bundle and one server for the suite.
  static void SetUpTestSuite() {
    const std::string root = recsys::testing::FreshTempDir("ranking_server_toy");
    auto trained = recsys::testing::TrainToyBundle(root);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(root + "/registry", "toy").Promote(trained->version, true).ok());
    metrics_ = ServerMetrics::CreateWithoutExposer().release();
    auto server = RankingServer::Start(ToyServerOptions(root), metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    ASSERT_TRUE(server_->holder().PollOnce().ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete metrics_;
    metrics_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Ranking::NewStub(Loopback(server_->port()));
  }

  inline static ServerMetrics* metrics_ = nullptr;
  inline static RankingServer* server_ = nullptr;
  std::unique_ptr<v1::Ranking::Stub> stub_;
};

// For several users, Rank over gRPC returns k items in exactly RankPool's in-process order.
TEST_F(RankingServerToyTest, RankOverGrpcEqualsRankPool) {
  std::shared_ptr<const ModelBundle> bundle = server_->holder().Current();
  ASSERT_NE(bundle, nullptr);
  const ModelBundle& b = *bundle;
  for (int user = 0; user < 9; ++user) {
    // A history of the user's cluster with one off-cluster event.
    std::vector<Interaction> history;
    for (int e = 0; e < 4 + user; ++e) {
      const int item = e == 2 ? (user + 1) % 3 : user % 3 + 3 * ((user + e) % 20);
      history.push_back(
          Interaction{0, *b.catalogue.ids.Find(absl::StrCat("m", item)), kT0 + 600 * e, 1.0f});
    }
    const int64_t as_of = kT0 + 86400;
    const UserState st = BuildUserState(b, history, as_of, {});
    const auto pool = retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st,
                                              b.params.quotas, b.params.max_pool, nullptr);
    ASSERT_GT(pool.size(), 10u);
    v1::RankRequest request = RequestFor(b, history, as_of, pool, 10);
    v1::RankResponse response;
    grpc::Status status = CallRank(*stub_, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::vector<ScoredIndex> expected = RankPool(b, st, pool, 10);
    ASSERT_EQ(response.items_size(), 10);
    EXPECT_EQ(Ids(response), Ids(b, expected)) << "user " << user;
    for (int i = 0; i < 10; ++i) {
      const ItemIndex item = expected[i].item;
      EXPECT_FLOAT_EQ(response.items(i).score(),
                      static_cast<float>(1.0 / (1.0 + std::exp(-double{expected[i].score}))));
      EXPECT_EQ(response.items(i).title(), b.catalogue.titles[item]);
      ASSERT_EQ(response.items(i).categories_size(), 1);
      EXPECT_EQ(response.items(i).categories(0),
                b.catalogue.category_names[b.catalogue.item_categories(item)[0]]);
    }
  }
  const std::string text = metrics_->SerializeText();
  EXPECT_NE(text.find("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Rank\","
                      "grpc_service=\"recsys.v1.Ranking\",grpc_type=\"unary\"}"),
            std::string::npos)
      << text;
}

// Bad requests come back as INVALID_ARGUMENT with the message, and are counted by code.
TEST_F(RankingServerToyTest, InvalidRequestIsInvalidArgumentOverGrpc) {
  v1::RankRequest request;
  request.set_k(0);
  AddCandidate(&request, "m1");
  v1::RankResponse response;
  grpc::Status status = CallRank(*stub_, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("k must be in 1..1000"), std::string::npos)
      << status.error_message();
  const std::string text = metrics_->SerializeText();
  EXPECT_NE(text.find("grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\",grpc_method="
                      "\"Rank\",grpc_service=\"recsys.v1.Ranking\",grpc_type=\"unary\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace recsys::ranking

// The gateway server in process: it listens at once, answers health
// NOT_SERVING and its calls UNAVAILABLE until the first bundle loads, seeds the
// user store from that bundle before turning SERVING, and then serves.
#include "gateway/gateway_server.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Quiets expected log lines (a missing alias, the trainer's leaderboard).
class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }

 private:
  LogSeverity old_;
};

// The health status of `service`, or the RPC's failure code as a negative number.
int Health(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status s = stub->Check(&ctx, request, &response);
  return s.ok() ? static_cast<int>(response.status()) : -static_cast<int>(s.error_code());
}

template <typename Call>
grpc::Status WithDeadline(Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return call(&ctx);
}

// Before the first bundle: listening, NOT_SERVING, every call UNAVAILABLE.
// After it: the store holds the training history under the logged events, and
// health is SERVING.
TEST(GatewayServerTest, NotServingUntilTheFirstBundleSeedsTheStore) {
  const std::string root = recsys::testing::FreshTempDir("gateway_server");
  std::filesystem::create_directories(root + "/registry");
  EmbeddedUserStoreOptions store_options;
  store_options.state_dir = root + "/state";
  store_options.wal.fsync = false;
  auto store = EmbeddedUserStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  // An event logged before this start (a Feedback acknowledged earlier).
  ASSERT_TRUE((*store)->Append("u0", UserEvent{"m5", 1700000000, 1.0f, "click"}).ok());

  auto metrics = ServerMetrics::CreateWithoutExposer();
  GatewayServerOptions o;
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = root + "/registry";
  o.bundle.model_name = "toy";
  o.start_polling = false;  // the test polls: no timing involved
  // Backends that are down: Recommend still answers, from trending.
  o.retrieval = grpc::CreateChannel("unix:" + root + "/no-retrieval.sock",
                                    grpc::InsecureChannelCredentials());
  o.ranking = grpc::CreateChannel("unix:" + root + "/no-ranking.sock",
                                  grpc::InsecureChannelCredentials());
  auto server = GatewayServer::Start(std::move(o), store->get(), metrics.get());
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Recommender::NewStub(channel);

  EXPECT_EQ(Health(channel, kGatewayServiceName), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(channel, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE((*server)->has_bundle());
  {
    ScopedLogSeverity quiet(LogSeverity::kError);
    EXPECT_FALSE((*server)->holder().PollOnce().ok());  // nothing promoted yet
  }
  v1::RecommendRequest recommend;
  recommend.set_user_id("u0");
  recommend.set_k(5);
  v1::RecommendResponse answer;
  grpc::Status s = WithDeadline([&](grpc::ClientContext* c) {
    return stub->Recommend(c, recommend, &answer);
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "no model bundle loaded yet");
  v1::GetHistoryRequest history_request;
  history_request.set_user_id("u0");
  history_request.set_max_events(1000);
  v1::GetHistoryResponse history;
  EXPECT_EQ(WithDeadline([&](grpc::ClientContext* c) {
              return stub->GetHistory(c, history_request, &history);
            }).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  v1::FeedbackRequest feedback;
  feedback.set_user_id("u0");
  feedback.set_item_id("m1");
  v1::FeedbackResponse ack;
  EXPECT_EQ(WithDeadline([&](grpc::ClientContext* c) {
              return stub->Feedback(c, feedback, &ack);
            }).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  absl::StatusOr<offline::TrainResult> trained;
  {
    ScopedLogSeverity quiet(LogSeverity::kWarning);
    trained = recsys::testing::TrainToyBundle(root);
  }
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(Registry(root + "/registry", "toy").Promote(trained->version, true).ok());
  ASSERT_TRUE((*server)->holder().PollOnce().ok());
  EXPECT_TRUE((*server)->has_bundle());
  EXPECT_EQ(Health(channel, kGatewayServiceName), HealthCheckResponse::SERVING);

  // u0's training history (as the bundle holds it), then the logged event.
  auto bundle = ModelBundle::Load(trained->bundle_dir, BundleParts::kGateway);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  std::vector<std::string> expected;
  ForEachTrainingHistory(**bundle, [&](absl::string_view user, std::vector<UserEvent> events) {
    if (user != "u0") return;
    for (const UserEvent& e : events) expected.push_back(e.item_id);
  });
  ASSERT_FALSE(expected.empty());
  expected.push_back("m5");
  history.Clear();
  ASSERT_TRUE(WithDeadline([&](grpc::ClientContext* c) {
                return stub->GetHistory(c, history_request, &history);
              }).ok());
  std::vector<std::string> got;
  for (const v1::StoredEvent& e : history.events()) got.push_back(e.item_id());
  EXPECT_EQ(got, expected);

  // Both backends down: still an answer, from the gateway's trending.
  s = WithDeadline([&](grpc::ClientContext* c) { return stub->Recommend(c, recommend, &answer); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(answer.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_EQ(answer.items_size(), 5);
  EXPECT_EQ(answer.model_version(), trained->version);
  s = WithDeadline([&](grpc::ClientContext* c) { return stub->Feedback(c, feedback, &ack); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ack.sequence(), 2u);

  (*server)->Shutdown(absl::Seconds(5));
  EXPECT_NE(Health(channel, kGatewayServiceName), HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace recsys::gateway

// Two gateways (in process, like gateway_server_test.cc) sharing one real
// redis-server through RedisUserStore: Feedback through one is in the other's
// GetHistory and Recommend at once; an idempotent retry through the other
// gateway stores nothing; with Redis killed, Recommend answers degraded with
// a note, Feedback and GetHistory are UNAVAILABLE; restarted, both work and
// nothing acknowledged is lost. Skipped when /usr/bin/redis-server is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "gateway/gateway_server.h"
#include "gateway/redis_user_store.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using recsys::testing::RedisServer;

class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }

 private:
  LogSeverity old_;
};

// One gateway: its Redis store, its server (backends down: Recommend answers
// from the gateway's trending, without the user's history items) and a stub.
struct Gateway {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RedisUserStore> store;
  std::unique_ptr<GatewayServer> server;
  std::unique_ptr<v1::Recommender::Stub> stub;
};

class RedisGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) {
      GTEST_SKIP() << RedisServer::kBinary << " is absent (apt-get install redis-server)";
    }
    root_ = recsys::testing::FreshTempDir("redis_gateway");
    std::filesystem::create_directories(root_ + "/registry");
    {
      ScopedLogSeverity quiet(LogSeverity::kWarning);
      auto trained = recsys::testing::TrainToyBundle(root_);
      ASSERT_TRUE(trained.ok()) << trained.status();
      ASSERT_TRUE(Registry(root_ + "/registry", "toy").Promote(trained->version, true).ok());
    }
    redis_ = std::make_unique<RedisServer>(root_ + "/redis");
    ASSERT_TRUE(redis_->Start());
    for (Gateway* g : {&a_, &b_}) StartGateway(g);
  }

  void StartGateway(Gateway* g) {
    g->metrics = ServerMetrics::CreateWithoutExposer();
    RedisUserStoreOptions o;
    auto endpoint = ParseRedisUrl(redis_->url());
    ASSERT_TRUE(endpoint.ok());
    o.pool.endpoint = *endpoint;
    o.pool.reconnect_backoff = absl::Milliseconds(10);
    auto store = RedisUserStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    g->store = *std::move(store);
    GatewayServerOptions so;
    so.server.address = "127.0.0.1:0";
    so.bundle.registry_root = root_ + "/registry";
    so.bundle.model_name = "toy";
    so.start_polling = false;
    so.retrieval = grpc::CreateChannel("unix:" + root_ + "/no-retrieval.sock",
                                       grpc::InsecureChannelCredentials());
    so.ranking = grpc::CreateChannel("unix:" + root_ + "/no-ranking.sock",
                                     grpc::InsecureChannelCredentials());
    auto server = GatewayServer::Start(std::move(so), g->store.get(), g->metrics.get());
    ASSERT_TRUE(server.ok()) << server.status();
    g->server = *std::move(server);
    ASSERT_TRUE(g->server->holder().PollOnce().ok());  // loads the bundle, seeds the store
    g->stub = v1::Recommender::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", g->server->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    for (Gateway* g : {&a_, &b_}) {
      if (g->server != nullptr) g->server->Shutdown(absl::Seconds(5));
    }
  }

  static grpc::Status Recommend(Gateway& g, const std::string& user, v1::RecommendResponse* r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(5);
    return g.stub->Recommend(&ctx, req, r);
  }

  static grpc::Status Feedback(Gateway& g, const std::string& user, const std::string& item,
                               const std::string& key, uint64_t* seq) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::FeedbackRequest req;
    req.set_user_id(user);
    req.set_item_id(item);
    req.set_event("like");
    req.set_idempotency_key(key);
    v1::FeedbackResponse resp;
    grpc::Status s = g.stub->Feedback(&ctx, req, &resp);
    *seq = resp.sequence();
    return s;
  }

  static grpc::Status History(Gateway& g, const std::string& user,
                              std::vector<std::string>* items) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetHistoryRequest req;
    req.set_user_id(user);
    req.set_max_events(1000);
    v1::GetHistoryResponse resp;
    grpc::Status s = g.stub->GetHistory(&ctx, req, &resp);
    items->clear();
    for (const v1::StoredEvent& e : resp.events()) {
      items->push_back(absl::StrCat(e.item_id(), "/", e.event()));
    }
    return s;
  }

  static std::vector<std::string> Ids(const v1::RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const v1::ScoredItem& i : r.items()) ids.push_back(i.item_id());
    return ids;
  }

  static bool HasNote(const v1::RecommendResponse& r, absl::string_view text) {
    return std::any_of(r.notes().begin(), r.notes().end(),
                       [&](const std::string& n) { return absl::StrContains(n, text); });
  }

  std::string root_;
  std::unique_ptr<RedisServer> redis_;
  Gateway a_, b_;
};

// Feedback through gateway A is in gateway B's history and answers at once;
// B's retry of A's call (same key) returns A's sequence and stores nothing.
TEST_F(RedisGatewayTest, FeedbackThroughOneGatewayReachesTheOther) {
  std::vector<std::string> seeded;
  ASSERT_TRUE(History(b_, "u0", &seeded).ok());
  ASSERT_FALSE(seeded.empty());
  EXPECT_TRUE(absl::EndsWith(seeded.back(), "/train"));

  v1::RecommendResponse before;
  ASSERT_TRUE(Recommend(b_, "u0", &before).ok());
  ASSERT_FALSE(before.items().empty());
  EXPECT_FALSE(HasNote(before, "user store"));
  const std::string liked = before.items(0).item_id();

  uint64_t seq = 0, retry_seq = 0;
  grpc::Status s = Feedback(a_, "u0", liked, "call-1", &seq);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Feedback(b_, "u0", liked, "call-1", &retry_seq);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry_seq, seq);

  std::vector<std::string> after;
  ASSERT_TRUE(History(b_, "u0", &after).ok());
  ASSERT_EQ(after.size(), seeded.size() + 1);
  EXPECT_EQ(after.back(), liked + "/like");
  v1::RecommendResponse answer;
  ASSERT_TRUE(Recommend(b_, "u0", &answer).ok());
  const std::vector<std::string> ids = Ids(answer);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), liked), 0)
      << "B's answer still offers the item liked through A";

  // A new user known only to Redis is no "unknown user" for B.
  ASSERT_TRUE(Feedback(a_, "newcomer", liked, "", &seq).ok());
  v1::RecommendResponse newcomer;
  ASSERT_TRUE(Recommend(b_, "newcomer", &newcomer).ok());
  EXPECT_FALSE(HasNote(newcomer, "unknown user"));
}

// Redis killed: Recommend answers, degraded, with the seeded history and a
// note; Feedback and GetHistory are UNAVAILABLE. Restarted: acknowledged
// feedback is all there and calls succeed again.
TEST_F(RedisGatewayTest, RedisDownDegradesRecommendAndRefusesFeedback) {
  v1::RecommendResponse before;
  ASSERT_TRUE(Recommend(b_, "u0", &before).ok());
  const std::string liked = before.items(0).item_id();
  uint64_t seq = 0;
  ASSERT_TRUE(Feedback(a_, "u0", liked, "k1", &seq).ok());

  redis_->Kill();
  {
    ScopedLogSeverity quiet(LogSeverity::kError);
    v1::RecommendResponse degraded;
    grpc::Status s = Recommend(b_, "u0", &degraded);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(degraded.degraded());
    EXPECT_TRUE(HasNote(degraded, "user store unavailable: ")) << degraded.DebugString();
    EXPECT_FALSE(HasNote(degraded, "unknown user"));
    EXPECT_FALSE(degraded.items().empty());
    uint64_t unused = 0;
    s = Feedback(a_, "u0", liked, "k2", &unused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    std::vector<std::string> items;
    s = History(b_, "u0", &items);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "user store unavailable: "))
        << s.error_message();
  }

  ASSERT_TRUE(redis_->Start());
  grpc::Status s;
  uint64_t seq2 = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    s = Feedback(a_, "u0", liked, "k2", &seq2);
    if (s.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(seq2, seq);
  std::vector<std::string> items;
  ASSERT_TRUE(History(b_, "u0", &items).ok());
  ASSERT_GE(items.size(), 2u);
  EXPECT_EQ(items[items.size() - 2], liked + "/like");
  EXPECT_EQ(items.back(), liked + "/like");
  v1::RecommendResponse again;
  ASSERT_TRUE(Recommend(b_, "u0", &again).ok());
  EXPECT_FALSE(HasNote(again, "user store"));
}

}  // namespace
}  // namespace recsys::gateway

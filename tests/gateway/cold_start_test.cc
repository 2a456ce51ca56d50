// Cold start with category hints end to end in process: a real retrieval
// server and a real gateway over the toy bundle (60 items, 20 each in SciFi,
// Romance and Crime; ranking unreachable). The gateway answers a user
// without history itself; retrieval answers a history it does not know; both
// put the hinted categories first by one rule
// (common/retrieval/category_hints.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "gateway/gateway_server.h"
#include "gateway/recommend_ladder.h"
#include "grpcpp/grpcpp.h"
#include "retrieval_service/service.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using Strings = std::vector<std::string>;

class ColdStartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(recsys::testing::FreshTempDir("gateway_cold_start"));
    const LogSeverity old = MinLogSeverity();
    SetMinLogSeverity(LogSeverity::kWarning);  // the trainer's leaderboard
    absl::StatusOr<offline::TrainResult> trained = recsys::testing::TrainToyBundle(*root_);
    SetMinLogSeverity(old);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(*root_ + "/registry", "toy").Promote(trained->version, true).ok());
    retrieval::RetrievalServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = *root_ + "/registry";
    o.bundle.model_name = "toy";
    o.start_polling = false;
    auto server = retrieval::RetrievalServer::Start(std::move(o), nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->holder().PollOnce().ok());
    retrieval_ = server->release();
  }
  static void TearDownTestSuite() {
    delete retrieval_;
    retrieval_ = nullptr;
    if (root_ != nullptr) std::filesystem::remove_all(*root_);
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(retrieval_, nullptr) << "suite set-up failed";
    metrics_ = ServerMetrics::CreateWithoutExposer();
    EmbeddedUserStoreOptions store_options;
    store_options.state_dir = *root_ + "/state";
    std::filesystem::remove_all(store_options.state_dir);
    store_options.wal.fsync = false;
    auto store = EmbeddedUserStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    GatewayServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = *root_ + "/registry";
    o.bundle.model_name = "toy";
    o.start_polling = false;
    o.retrieval = grpc::CreateChannel(absl::StrCat("127.0.0.1:", retrieval_->port()),
                                      grpc::InsecureChannelCredentials());
    o.ranking = grpc::CreateChannel("unix:" + *root_ + "/no-ranking.sock",
                                    grpc::InsecureChannelCredentials());
    auto server = GatewayServer::Start(std::move(o), store_.get(), metrics_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    gateway_ = *std::move(server);
    ASSERT_TRUE(gateway_->holder().PollOnce().ok());
    stub_ = v1::Recommender::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", gateway_->port()), grpc::InsecureChannelCredentials()));
    retrieval_stub_ = v1::Retrieval::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", retrieval_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    stub_.reset();
    retrieval_stub_.reset();
    gateway_.reset();
    store_.reset();
    metrics_.reset();
  }

  v1::RecommendResponse Recommend(const v1::RecommendRequest& request,
                                  grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RecommendResponse response;
    const grpc::Status s = stub_->Recommend(&ctx, request, &response);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return response;
  }

  static v1::RecommendRequest NewUser(const Strings& hints, int k) {
    v1::RecommendRequest r;
    r.set_user_id("someone-new");
    r.set_k(k);
    for (const std::string& h : hints) r.add_context_categories(h);
    return r;
  }

  // Retrieval's cold-start pool for the same hints (trending quota k).
  Strings RetrievalColdStart(const Strings& hints, int k) {
    v1::RetrieveRequest r;
    for (const std::string& h : hints) r.mutable_user()->add_categories(h);
    v1::SourceQuota* q = r.add_quotas();
    q->set_source(v1::SOURCE_TRENDING);
    q->set_k(k);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RetrieveResponse response;
    const grpc::Status s = retrieval_stub_->Retrieve(&ctx, r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    Strings ids;
    for (const v1::Candidate& c : response.candidates()) ids.push_back(c.item_id());
    return ids;
  }

  static Strings Ids(const v1::RecommendResponse& r) {
    Strings out;
    for (const v1::ScoredItem& i : r.items()) out.push_back(i.item_id());
    return out;
  }
  static Strings FirstCategories(const v1::RecommendResponse& r) {
    Strings out;
    for (const v1::ScoredItem& i : r.items()) out.push_back(i.categories(0));
    return out;
  }

  static std::string* root_;
  static retrieval::RetrievalServer* retrieval_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<EmbeddedUserStore> store_;
  std::unique_ptr<GatewayServer> gateway_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  std::unique_ptr<v1::Retrieval::Stub> retrieval_stub_;
};

std::string* ColdStartTest::root_ = nullptr;
retrieval::RetrievalServer* ColdStartTest::retrieval_ = nullptr;

// A user the store has never seen, with context categories: the gateway
// answers at once (PATH_COLD_START) with the hinted category's items first,
// then the rest of trending; the same items in the same order as retrieval's
// cold-start pool for those hints. An unknown category changes nothing.
TEST_F(ColdStartTest, NewUserGetsTheHintedCategoryFirstAsRetrievalWould) {
  v1::RecommendResponse r = Recommend(NewUser({"romance"}, 5));
  EXPECT_EQ(r.path(), v1::PATH_COLD_START);
  EXPECT_FALSE(r.degraded());
  EXPECT_EQ(FirstCategories(r), Strings(5, "Romance"));
  EXPECT_EQ(Ids(r), RetrievalColdStart({"romance"}, 5));
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0), kUnknownUserNote);

  // 20 Romance items, then trending's best of the rest.
  r = Recommend(NewUser({"Romance"}, 25));
  ASSERT_EQ(r.items_size(), 25);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(r.items(i).categories(0) == "Romance", i < 20) << i;
    EXPECT_GE(r.items(i).score(), 0.0f);  // trending scores, hinted or not
  }
  EXPECT_EQ(Ids(r), RetrievalColdStart({"Romance"}, 25));

  const Strings plain = Ids(Recommend(NewUser({}, 10)));
  EXPECT_EQ(plain, RetrievalColdStart({}, 10));
  EXPECT_EQ(Ids(Recommend(NewUser({"Western"}, 10))), plain);
  EXPECT_NE(Ids(Recommend(NewUser({"Crime"}, 10))), plain);
}

// A history of items the bundle does not know is not a cold start for the
// gateway, which asks retrieval; retrieval has no known history and answers
// from trending with the hints first; with ranking down the answer is in
// retrieval's order, so still the hinted category first.
TEST_F(ColdStartTest, UnknownHistoryGoesThroughRetrievalWithTheHints) {
  v1::RecommendRequest request = NewUser({"Crime"}, 5);
  v1::HistoryEvent* e = request.add_extra_history();
  e->set_item_id("an-item-newer-than-the-bundle");
  e->set_timestamp_s(1500000000);
  e->set_weight(1.0f);
  const v1::RecommendResponse r = Recommend(request);
  EXPECT_EQ(r.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_EQ(FirstCategories(r), Strings(5, "Crime"));
  EXPECT_EQ(Ids(r), RetrievalColdStart({"Crime"}, 5));
}

// More than 64 hints are refused before anything runs.
TEST_F(ColdStartTest, TooManyHintsAreRefused) {
  grpc::Status s;
  Recommend(NewUser(Strings(65, "Romance"), 5), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().find("context_categories") != std::string::npos)
      << s.error_message();
}

}  // namespace
}  // namespace recsys::gateway

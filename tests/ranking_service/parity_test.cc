// Train/serve parity on ml-latest-small: every test user's offline two-stage
// list (trainer's EvaluatePass pool → RankPool) equals the list served over
// gRPC for the same pool, so served metrics equal the leaderboard's.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/metrics.h"
#include "common/eval/split.h"
#include "common/features/features.h"
#include "common/server/rank_signals.h"
#include "offline/trainer.h"
#include "ranking_service/service.h"
#include "tests/ranking_service/ranking_test_util.h"
#include "tests/testing/toy_registry.h"

namespace recsys::ranking {
namespace {

using testing::Ids;
using testing::Loopback;
using testing::RequestFor;

constexpr int kK = 10;

class ParityTest : public ::testing::Test {
 protected:
  // Trains ml-latest-small once (no tuning, ~10 s), publishes, promotes, serves it.
  static void SetUpTestSuite() {
    root_ = new std::string(recsys::testing::FreshTempDir("ranking_parity"));
    const std::string& root = *root_;
    offline::TrainOptions o;
    o.data_dir = RECSYS_DATA_DIR "/ml-latest-small";
    o.registry = root + "/registry";
    o.name = "movielens";
    o.k = kK;
    o.tune_budget = absl::ZeroDuration();
    auto trained = offline::Train(o);
    ASSERT_TRUE(trained.ok()) << trained.status();
    result_ = new offline::TrainResult(*trained);
    ASSERT_TRUE(Registry(o.registry, o.name).Promote(trained->version, /*force=*/true).ok());

    auto data = LoadDataset(o.data_dir, o.load);
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new Dataset(*std::move(data));
    split_ = new LeaveLastOutSplit(*data_);

    metrics_ = ServerMetrics::CreateWithoutExposer().release();
    RankingServerOptions so;
    so.server.address = "127.0.0.1:0";
    so.bundle.registry_root = o.registry;
    so.bundle.model_name = o.name;
    so.start_polling = false;
    so.ranker.max_history = 5000;  // ml-latest-small users have up to 2698 events
    auto server = RankingServer::Start(std::move(so), metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    ASSERT_TRUE(server_->holder().PollOnce().ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete metrics_;
    delete split_;
    delete data_;
    delete result_;
    server_ = nullptr;
    if (root_ != nullptr) std::filesystem::remove_all(*root_);  // ~400 MB (EASE)
    delete root_;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // The trainer's pool for one case, exactly as offline/trainer.cc EvaluatePass
  // builds it: per source max(quota, k) candidates cut to the quota, merged.
  static std::vector<PooledCandidate> OfflinePool(const ModelBundle& bundle, const UserState& st) {
    retrieval::SourceCounts fetch;
    for (int s = 0; s < kNumSources; ++s) fetch[s] = std::max(bundle.params.quotas[s], kK);
    const retrieval::RetrieverSet& all = retrieval::DefaultRetrievers();
    const retrieval::SourcePlan plan =
        retrieval::PlanSources(all, bundle, fetch, !st.history.empty());
    return retrieval::PoolCandidates(retrieval::RetrieveSources(all, bundle, st, plan, nullptr),
                                     bundle.params.quotas, bundle.params.max_pool);
  }

  static const offline::LeaderboardRow* Row(const std::string& split, const std::string& model) {
    for (const offline::LeaderboardRow& r : result_->leaderboard) {
      if (r.split == split && r.model == model) return &r;
    }
    return nullptr;
  }

  inline static std::string* root_ = nullptr;
  inline static offline::TrainResult* result_ = nullptr;
  inline static Dataset* data_ = nullptr;
  inline static LeaveLastOutSplit* split_ = nullptr;
  inline static ServerMetrics* metrics_ = nullptr;
  inline static RankingServer* server_ = nullptr;
};

// For all 610 test users the served top-10 equals RankPool's, and so do recall@10 and NDCG@10.
TEST_F(ParityTest, ServedListsEqualOfflineTwoStageForEveryTestUser) {
  std::shared_ptr<const ModelBundle> bundle = server_->holder().Current();
  ASSERT_NE(bundle, nullptr);
  const ModelBundle& b = *bundle;
  auto stub = v1::Ranking::NewStub(Loopback(server_->port()));

  const auto& cases = split_->cases(SplitName::kTest);
  ASSERT_EQ(cases.size(), 610u);
  MetricAccumulator offline(kK, b.num_items()), served(kK, b.num_items());
  int mismatches = 0, signal_mismatches = 0;
  for (const EvalCase& c : cases) {
    const Interaction& target = split_->target(c);
    auto h = split_->history(c);
    const std::vector<Interaction> history(h.begin(), h.end());
    const UserState st = BuildUserState(b, history, target.timestamp_s, {});
    const std::vector<PooledCandidate> pool = OfflinePool(b, st);
    const std::vector<ScoredIndex> expected = RankPool(b, st, pool, kK);

    const v1::RankRequest request = RequestFor(b, history, target.timestamp_s, pool, kK);
    v1::RankResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status status = stub->Rank(&ctx, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.unknown_candidates(), 0);
    if (Ids(response) != Ids(b, expected) && ++mismatches <= 5) {
      ADD_FAILURE() << "user " << data_->users.Name(c.user)
                    << ": served list differs from RankPool";
    }

    // The same request carrying retrieval's signals (this user state, dense
    // EASE vector included) ranks bit-identically without rebuilding it.
    v1::RankRequest with_signals = request;
    std::vector<CandidateSignals> signals;
    ComputeSignals(b, st, pool, &signals);
    for (size_t i = 0; i < pool.size(); ++i) {
      with_signals.mutable_candidates(static_cast<int>(i))
          ->mutable_signals()
          ->Add(signals[i].begin(), signals[i].end());
    }
    FillRankSignals(with_signals.user(), b.manifest.version(), with_signals.mutable_signals());
    v1::RankResponse signalled;
    grpc::ClientContext ctx2;
    ctx2.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    status = stub->Rank(&ctx2, with_signals, &signalled);
    ASSERT_TRUE(status.ok()) << status.error_message();
    bool same = signalled.items_size() == response.items_size();
    for (int i = 0; same && i < response.items_size(); ++i) {
      same = signalled.items(i).item_id() == response.items(i).item_id() &&
             signalled.items(i).score() == response.items(i).score();
    }
    if (!same && ++signal_mismatches <= 5) {
      ADD_FAILURE() << "user " << data_->users.Name(c.user)
                    << ": ranking with retrieval's signals differs";
    }

    const ItemIndex relevant[1] = {target.item};
    std::vector<ItemIndex> offline_items, served_items;
    for (const ScoredIndex& s : expected) offline_items.push_back(s.item);
    for (const v1::ScoredItem& item : response.items()) {
      served_items.push_back(*b.catalogue.ids.Find(item.item_id()));
    }
    offline.Add(offline_items, relevant);
    served.Add(served_items, relevant);
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(signal_mismatches, 0);
  EXPECT_EQ(served.users(), 610);
  EXPECT_EQ(served.recall(), offline.recall());
  EXPECT_EQ(served.ndcg(), offline.ndcg());

  // The trainer's own leaderboard row (accumulated over threads: sums in another order).
  const offline::LeaderboardRow* row = Row("test", "two_stage");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->users, 610);
  EXPECT_NEAR(served.recall(), row->recall, 1e-12);
  EXPECT_NEAR(served.ndcg(), row->ndcg, 1e-12);
  std::cout << "served test recall@10 " << served.recall() << ", ndcg@10 " << served.ndcg()
            << " (leaderboard two_stage " << row->recall << ", " << row->ndcg << ")\n";
}

}  // namespace
}  // namespace recsys::ranking

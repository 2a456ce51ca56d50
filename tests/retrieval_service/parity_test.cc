// Served/offline parity on real data: a bundle trained on ml-latest-small, served
// over gRPC, must return for every leave-last-out case exactly the pool the
// offline evaluator computes in-process (same ids, same order, same per-source
// ranks and scores) — one code path.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "offline/trainer.h"
#include "recsys/v1/retrieval.grpc.pb.h"
#include "retrieval_service/service.h"
#include "tests/retrieval_service/service_test_util.h"
#include "tests/retrieval_service/toy_fixture.h"

namespace recsys::retrieval {
namespace {

namespace fs = std::filesystem;
using testing::OfflinePool;
using testing::ScopedLogSeverity;

class ServedParityTest : public ::testing::Test {
 protected:
  // Trains once for every test of the file (~10 s without tuning) and promotes.
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    root_ = new std::string(recsys::testing::FreshTempDir("retrieval_parity"));
    offline::TrainOptions o;
    o.data_dir = RECSYS_DATA_DIR "/ml-latest-small";
    o.registry = *root_ + "/registry";
    o.name = "movielens";
    o.tune_budget = absl::ZeroDuration();
    absl::StatusOr<offline::TrainResult> trained;
    {
      ScopedLogSeverity quiet(LogSeverity::kWarning);
      trained = offline::Train(o);
    }
    ASSERT_TRUE(trained.ok()) << trained.status();
    trained_ = new offline::TrainResult(*trained);
    ASSERT_TRUE(Registry(o.registry, o.name).Promote(trained_->version, /*force=*/true).ok());
    absl::StatusOr<Dataset> data = LoadDataset(o.data_dir, o.load);
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new Dataset(*std::move(data));
    split_ = new LeaveLastOutSplit(*data_);
    auto bundle = ModelBundle::Load(trained_->bundle_dir);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = new std::shared_ptr<const ModelBundle>(*bundle);
    std::cout << "[ parity   ] trained, published and loaded ml-latest-small in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s\n";
  }
  static void TearDownTestSuite() {
    delete bundle_;
    delete split_;
    delete data_;
    delete trained_;
    if (root_ != nullptr) fs::remove_all(*root_);
    delete root_;
    bundle_ = nullptr;
    split_ = nullptr;
    data_ = nullptr;
    trained_ = nullptr;
    root_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(bundle_, nullptr) << "suite set-up failed";
    metrics_ = ServerMetrics::CreateWithoutExposer();
    RetrievalServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = *root_ + "/registry";
    o.bundle.model_name = "movielens";
    o.bundle.poll_interval = absl::Hours(1);
    // ml-latest-small has users with up to 2698 ratings; the served evaluation
    // sends whole histories.
    o.service.limits.max_history = 5000;
    o.start_polling = false;
    auto server = RetrievalServer::Start(std::move(o), metrics_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->holder().PollOnce().ok());
    ASSERT_EQ(server_->holder().version(), trained_->version);
    stub_ = v1::Retrieval::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                       grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    stub_.reset();
    server_.reset();
    metrics_.reset();
  }

  struct ParityCounts {
    int cases = 0;
    int mismatched = 0;
    int hits = 0;  // cases whose target is in the served pool
  };

  // Serves every case of `which` over gRPC and compares with the offline pool.
  ParityCounts CheckSplit(SplitName which) {
    const ModelBundle& bundle = **bundle_;
    const IdMap& ids = bundle.catalogue.ids;
    ParityCounts counts;
    for (const EvalCase& c : split_->cases(which)) {
      const Interaction& target = split_->target(c);
      v1::RetrieveRequest request;
      request.mutable_user()->set_user_id(data_->users.Name(c.user));
      request.mutable_user()->set_as_of_s(target.timestamp_s);
      std::vector<Interaction> history;
      for (const Interaction& e : split_->history(c)) {
        const std::string& id = data_->items.Name(e.item);
        v1::HistoryEvent* h = request.mutable_user()->add_history();
        h->set_item_id(id);
        h->set_timestamp_s(e.timestamp_s);
        h->set_weight(e.weight);
        const std::optional<int32_t> item = ids.Find(id);
        EXPECT_TRUE(item.has_value()) << id;
        if (item) history.push_back(Interaction{0, *item, e.timestamp_s, e.weight});
      }
      const std::vector<PooledCandidate> offline =
          OfflinePool(bundle, std::move(history), target.timestamp_s);

      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      v1::RetrieveResponse response;
      grpc::Status s = stub_->Retrieve(&ctx, request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      ++counts.cases;
      const std::string target_id = data_->items.Name(target.item);
      for (const v1::Candidate& cand : response.candidates()) {
        if (cand.item_id() == target_id) ++counts.hits;
      }
      bool same = s.ok() && response.candidates_size() == static_cast<int>(offline.size()) &&
                  response.skipped_size() == 0 && response.unknown_history_items() == 0 &&
                  response.model_version() == trained_->version;
      for (size_t i = 0; same && i < offline.size(); ++i) {
        const v1::Candidate& got = response.candidates(static_cast<int>(i));
        same = got.item_id() == ids.Name(offline[i].item);
        int k = 0;
        for (int src = 0; same && src < kNumSources; ++src) {
          if (offline[i].rank[src] < 0) continue;
          same = k < got.sources_size() && got.sources(k).source() == src + 1 &&
                 got.sources(k).rank() == offline[i].rank[src] &&
                 got.sources(k).score() == offline[i].score[src];
          ++k;
        }
        same = same && k == got.sources_size();
      }
      if (!same) {
        ++counts.mismatched;
        ADD_FAILURE() << SplitNameString(which) << " user " << data_->users.Name(c.user)
                      << ": served pool (" << response.candidates_size()
                      << " candidates) differs from the offline pool (" << offline.size() << ")";
        if (counts.mismatched >= 5) break;
      }
    }
    return counts;
  }

  static double LeaderboardRecall(const std::string& split, const std::string& model) {
    for (const offline::LeaderboardRow& row : trained_->leaderboard) {
      if (row.split == split && row.model == model) return row.recall;
    }
    return -1;
  }

  static std::string* root_;
  static offline::TrainResult* trained_;
  static Dataset* data_;
  static LeaveLastOutSplit* split_;
  static std::shared_ptr<const ModelBundle>* bundle_;

  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<RetrievalServer> server_;
  std::unique_ptr<v1::Retrieval::Stub> stub_;
};

std::string* ServedParityTest::root_ = nullptr;
offline::TrainResult* ServedParityTest::trained_ = nullptr;
Dataset* ServedParityTest::data_ = nullptr;
LeaveLastOutSplit* ServedParityTest::split_ = nullptr;
std::shared_ptr<const ModelBundle>* ServedParityTest::bundle_ = nullptr;

// Every test user's pool served over gRPC (as_of = the held-out time) equals the offline
// pool, and the served recall@pool equals the trainer's leaderboard "pool" row.
TEST_F(ServedParityTest, TestSplitServedPoolEqualsOfflinePoolForEveryUser) {
  const auto start = std::chrono::steady_clock::now();
  const ParityCounts counts = CheckSplit(SplitName::kTest);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ parity   ] test split: " << counts.cases << " users served over gRPC in "
            << seconds << " s, " << counts.mismatched << " mismatches\n";
  EXPECT_EQ(counts.cases, 610);
  EXPECT_EQ(counts.mismatched, 0);
  const double served_recall = static_cast<double>(counts.hits) / counts.cases;
  EXPECT_NEAR(served_recall, LeaderboardRecall("test", "pool"), 1e-9);
}

// The validation cases (history = training events only) are equally identical.
TEST_F(ServedParityTest, ValidationSplitServedPoolEqualsOfflinePoolForEveryUser) {
  const ParityCounts counts = CheckSplit(SplitName::kValidation);
  EXPECT_EQ(counts.cases, 610);
  EXPECT_EQ(counts.mismatched, 0);
  const double served_recall = static_cast<double>(counts.hits) / counts.cases;
  EXPECT_NEAR(served_recall, LeaderboardRecall("validation", "pool"), 1e-9);
}

// A cold-start Retrieve (no history) with category hints: trending lists the
// hinted categories' items first, so every candidate for "Comedy" is a comedy
// (3,756 comedies, trending quota 50), "now" and at a past time; the served
// pool equals the library's (UserState::category_hints) item for item; names
// match ignoring case; an unknown name changes nothing and is counted; more
// than 64 hints are refused.
TEST_F(ServedParityTest, ColdStartCategoryHintsPutTheirItemsFirst) {
  const ModelBundle& bundle = **bundle_;
  const CategoryIndex& categories = bundle.catalogue.category_index;
  std::vector<int32_t> comedy;
  categories.Find("Comedy", &comedy);
  ASSERT_EQ(comedy.size(), 1u);
  auto retrieve = [&](const std::vector<std::string>& hints, int64_t as_of) {
    v1::RetrieveRequest request;
    request.mutable_user()->set_as_of_s(as_of);
    for (const std::string& h : hints) request.mutable_user()->add_categories(h);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::RetrieveResponse response;
    grpc::Status s = stub_->Retrieve(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  };
  auto is_comedy = [&](const std::string& id) {
    const std::optional<int32_t> item = bundle.catalogue.ids.Find(id);
    if (!item) return false;
    const auto cats = bundle.catalogue.item_categories(*item);
    return std::find(cats.begin(), cats.end(), comedy[0]) != cats.end();
  };
  const int64_t past = 1300000000;  // 2011-03-13, inside the log
  for (const int64_t as_of : {int64_t{0}, past}) {
    const v1::RetrieveResponse served = retrieve({"Comedy"}, as_of);
    ASSERT_EQ(served.candidates_size(),
              bundle.params.quotas[static_cast<int>(SourceId::kTrending)]);
    for (const v1::Candidate& c : served.candidates()) {
      EXPECT_TRUE(is_comedy(c.item_id())) << c.item_id() << " as of " << as_of;
      ASSERT_EQ(c.sources_size(), 1);
      EXPECT_EQ(c.sources(0).source(), v1::SOURCE_TRENDING);
      EXPECT_GE(c.sources(0).score(), 0.0f);
    }
    UserState state = BuildUserState(bundle, {}, as_of, {});
    state.category_hints = comedy;
    std::vector<std::pair<SourceId, absl::Status>> failed;
    const std::vector<PooledCandidate> offline = RetrievePool(
        DefaultRetrievers(), bundle, state, bundle.params.quotas, bundle.params.max_pool, &failed);
    EXPECT_TRUE(failed.empty());
    ASSERT_EQ(offline.size(), static_cast<size_t>(served.candidates_size()));
    for (size_t i = 0; i < offline.size(); ++i) {
      const v1::Candidate& got = served.candidates(static_cast<int>(i));
      EXPECT_EQ(got.item_id(), bundle.catalogue.ids.Name(offline[i].item)) << i;
      EXPECT_EQ(got.sources(0).score(), offline[i].score[static_cast<int>(SourceId::kTrending)]);
    }
    auto ids = [](const v1::RetrieveResponse& r) {
      std::vector<std::string> out;
      for (const v1::Candidate& c : r.candidates()) out.push_back(c.item_id());
      return out;
    };
    EXPECT_EQ(ids(retrieve({"comedy"}, as_of)), ids(served));
    EXPECT_EQ(ids(retrieve({"No Such Genre"}, as_of)), ids(retrieve({}, as_of)));
    EXPECT_NE(ids(retrieve({}, as_of)), ids(served));
  }
  EXPECT_EQ(
      testing::MetricValue(metrics_->SerializeText(), "recsys_retrieval_unknown_categories_total"),
      2);

  v1::RetrieveRequest many;
  for (int i = 0; i < 65; ++i) many.mutable_user()->add_categories("Comedy");
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::RetrieveResponse response;
  const grpc::Status s = stub_->Retrieve(&ctx, many, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "categories")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "64")) << s.error_message();
}

}  // namespace
}  // namespace recsys::retrieval

#include "common/retrieval/pool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/topk.h"
#include "tests/testing/toy_registry.h"

namespace recsys::retrieval {
namespace {

// A source that answers a fixed list, or fails, and records how it was asked.
class FixedRetriever final : public Retriever {
 public:
  FixedRetriever(SourceId id, std::vector<ScoredIndex> list, bool cold = false)
      : id_(id), list_(std::move(list)), cold_(cold) {}
  SourceId source() const override { return id_; }
  bool AnswersColdStart() const override { return cold_; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle&, const UserState&,
                                                    int k) const override {
    if (fail_) return absl::InternalError("index exploded");
    std::vector<ScoredIndex> out = list_;
    if (static_cast<int>(out.size()) > k) out.resize(k);
    return out;
  }
  bool fail_ = false;

 private:
  SourceId id_;
  std::vector<ScoredIndex> list_;
  bool cold_;
};

int Idx(SourceId s) { return static_cast<int>(s); }

class PoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = recsys::testing::FreshTempDir("retrieval_pool_lib");
    auto trained = recsys::testing::TrainToyBundle(root);
    ASSERT_TRUE(trained.ok()) << trained.status();
    auto bundle = ModelBundle::Load(trained->bundle_dir);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = new std::shared_ptr<const ModelBundle>(*bundle);
    std::filesystem::remove_all(root);
  }
  static void TearDownTestSuite() {
    delete bundle_;
    bundle_ = nullptr;
  }
  static const ModelBundle& bundle() { return **bundle_; }
  // The first `n` events of the toy catalogue's items 0, 3, 6, ... as a history.
  static std::vector<Interaction> History(int n) {
    std::vector<Interaction> h;
    for (int i = 0; i < n; ++i) h.push_back(Interaction{0, 3 * i, 1500000000 + 3600 * i, 1.0f});
    return h;
  }
  static std::shared_ptr<const ModelBundle>* bundle_;
};
std::shared_ptr<const ModelBundle>* PoolTest::bundle_ = nullptr;

// Every production retriever sits at its own SourceId and is named after it.
TEST_F(PoolTest, DefaultRetrieversCoverEverySourceInOrder) {
  const RetrieverSet& all = DefaultRetrievers();
  for (int s = 0; s < kNumSources; ++s) {
    ASSERT_NE(all[s], nullptr);
    EXPECT_EQ(Idx(all[s]->source()), s);
    EXPECT_STREQ(all[s]->name(), SourceName(static_cast<SourceId>(s)));
  }
  EXPECT_EQ(&DefaultRetrievers(), &all);  // built once
}

// Each source's list respects k, never holds an excluded item, and is in rank order.
TEST_F(PoolTest, EverySourceHonoursTheRetrieverContract) {
  const std::vector<ItemIndex> extra = {1, 2};
  const UserState state = BuildUserState(bundle(), History(5), 0, extra);
  for (const auto& r : DefaultRetrievers()) {
    if (!r->Available(bundle())) continue;
    for (int k : {0, 1, 7, 40}) {
      auto list = r->Retrieve(bundle(), state, k);
      ASSERT_TRUE(list.ok()) << r->name() << ": " << list.status();
      EXPECT_LE(static_cast<int>(list->size()), k) << r->name();
      for (size_t i = 0; i < list->size(); ++i) {
        EXPECT_FALSE(state.exclude.contains((*list)[i].item)) << r->name();
        if (i > 0) EXPECT_TRUE(RanksBefore((*list)[i - 1], (*list)[i])) << r->name();
      }
    }
    if (r->source() != SourceId::kItemKnn) {  // votes may reach fewer than 7 items
      EXPECT_EQ(r->Retrieve(bundle(), state, 7)->size(), 7u) << r->name();
    }
  }
}

// Without known history only cold-start sources run, and the plan says cold start.
TEST_F(PoolTest, ColdStartPlansOnlyTrending) {
  SourceCounts wanted;
  wanted.fill(10);
  const SourcePlan cold = PlanSources(DefaultRetrievers(), bundle(), wanted, false);
  EXPECT_TRUE(cold.cold_start);
  for (int s = 0; s < kNumSources; ++s) {
    EXPECT_EQ(cold.runs(s), s == Idx(SourceId::kTrending)) << s;
  }
  const SourcePlan warm = PlanSources(DefaultRetrievers(), bundle(), wanted, true);
  EXPECT_FALSE(warm.cold_start);
  EXPECT_EQ(warm.fetch[Idx(SourceId::kAls)], 10);
}

// A zero count, a missing model, or a null retriever keep a source out of the plan.
TEST_F(PoolTest, DisabledAndUnavailableSourcesDoNotRun) {
  SourceCounts wanted;
  wanted.fill(5);
  wanted[Idx(SourceId::kContent)] = 0;
  RetrieverSet set = MakeDefaultRetrievers();
  set[Idx(SourceId::kAls)].reset();
  ModelBundle without_ease;  // an empty bundle carries no EASE
  const SourcePlan plan = PlanSources(set, without_ease, wanted, true);
  EXPECT_FALSE(plan.runs(Idx(SourceId::kContent)));
  EXPECT_FALSE(plan.runs(Idx(SourceId::kAls)));
  EXPECT_FALSE(plan.runs(Idx(SourceId::kEase)));
  EXPECT_TRUE(plan.runs(Idx(SourceId::kTrending)));
  EXPECT_TRUE(plan.any());
  wanted.fill(0);
  EXPECT_FALSE(PlanSources(set, without_ease, wanted, true).any());
}

// Lists are cut to their quota, merged by best rank, then source count, then item.
TEST_F(PoolTest, PoolCandidatesCutsMergesAndOrders) {
  SourceLists lists;
  lists[Idx(SourceId::kContent)] = {{10, 0.9f}, {11, 0.8f}, {12, 0.7f}};
  lists[Idx(SourceId::kAls)] = {{11, 5.0f}, {13, 4.0f}};
  lists[Idx(SourceId::kTrending)] = {{14, 3.0f}, {10, 2.0f}};
  SourceCounts quotas;
  quotas.fill(10);
  quotas[Idx(SourceId::kContent)] = 2;  // drops item 12
  const std::vector<PooledCandidate> pool = PoolCandidates(lists, quotas, 0);
  std::vector<ItemIndex> items;
  for (const PooledCandidate& p : pool) items.push_back(p.item);
  // Rank 0: 10 (content, trending rank 1: 2 sources), 11 (content 1, als 0: 2 sources), 14.
  // Tie on rank and sources between 10 and 11 -> item order. Rank 1: 13.
  EXPECT_EQ(items, (std::vector<ItemIndex>{10, 11, 14, 13}));
  EXPECT_EQ(pool[0].rank[Idx(SourceId::kTrending)], 1);
  EXPECT_FLOAT_EQ(pool[0].score[Idx(SourceId::kTrending)], 2.0f);
  EXPECT_EQ(pool[0].rank[Idx(SourceId::kAls)], -1);
  EXPECT_FLOAT_EQ(pool[0].score[Idx(SourceId::kAls)], 0.0f);
  EXPECT_EQ(PoolCandidates(lists, quotas, 3).size(), 3u);
  quotas.fill(0);
  EXPECT_TRUE(PoolCandidates(lists, quotas, 0).empty());
}

// A failing source is reported and leaves its list empty; the others still pool.
TEST_F(PoolTest, RetrievePoolReportsFailuresAndKeepsTheRest) {
  RetrieverSet set;
  set[Idx(SourceId::kContent)] =
      std::make_unique<FixedRetriever>(SourceId::kContent, std::vector<ScoredIndex>{{4, 1.0f}});
  auto failing = std::make_unique<FixedRetriever>(SourceId::kAls, std::vector<ScoredIndex>{});
  failing->fail_ = true;
  set[Idx(SourceId::kAls)] = std::move(failing);
  set[Idx(SourceId::kTrending)] = std::make_unique<FixedRetriever>(
      SourceId::kTrending, std::vector<ScoredIndex>{{7, 1.0f}}, /*cold=*/true);
  const UserState state = BuildUserState(bundle(), History(3), 0, {});
  std::vector<std::pair<SourceId, absl::Status>> failed;
  SourceCounts quotas;
  quotas.fill(5);
  const auto pool = RetrievePool(set, bundle(), state, quotas, 0, &failed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, SourceId::kAls);
  EXPECT_EQ(failed[0].second.message(), "index exploded");
  ASSERT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool[0].item, 4);
  EXPECT_EQ(pool[1].item, 7);

  // The same set for a user with no history: only the cold-start source answers.
  const UserState cold = BuildUserState(bundle(), {}, 0, {});
  failed.clear();
  const auto cold_pool = RetrievePool(set, bundle(), cold, quotas, 0, &failed);
  EXPECT_TRUE(failed.empty());
  ASSERT_EQ(cold_pool.size(), 1u);
  EXPECT_EQ(cold_pool[0].item, 7);
}

}  // namespace
}  // namespace recsys::retrieval

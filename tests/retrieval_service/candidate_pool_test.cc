#include "retrieval_service/candidate_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/retrieval/retriever.h"
#include "tests/retrieval_service/toy_fixture.h"

namespace recsys::retrieval {
namespace {

using testing::MakeToyRegistry;
using testing::OfflinePool;
using testing::ToyRegistry;
using testing::ToyUserEvents;

// A retriever that always fails (as a FAISS error would).
class FailingRetriever final : public Retriever {
 public:
  explicit FailingRetriever(SourceId source) : source_(source) {}
  SourceId source() const override { return source_; }
  absl::StatusOr<std::vector<ScoredIndex>> Retrieve(const ModelBundle&, const UserState&,
                                                    int) const override {
    return absl::InternalError("index exploded");
  }

 private:
  SourceId source_;
};

class CandidatePoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_pool");
    ASSERT_TRUE(toy.ok()) << toy.status();
    toy_ = new ToyRegistry(*toy);
    auto bundle = ModelBundle::Load(toy_->bundle_dir);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = new std::shared_ptr<const ModelBundle>(*bundle);
  }
  static void TearDownTestSuite() {
    if (toy_ != nullptr) std::filesystem::remove_all(toy_->root);
    delete toy_;
    delete bundle_;
    toy_ = nullptr;
    bundle_ = nullptr;
  }

  static const ModelBundle& bundle() { return **bundle_; }

  // The whole history of a toy user, in bundle indices.
  static std::vector<Interaction> History(const std::string& user) {
    std::vector<Interaction> out;
    for (const testing::ToyEvent& e : ToyUserEvents(*toy_, user)) {
      out.push_back(Interaction{0, *bundle().catalogue.ids.Find(e.item_id), e.timestamp_s, 1.0f});
    }
    return out;
  }

  static PoolRequest Request(std::vector<Interaction> history) {
    PoolRequest r;
    r.bundle = *bundle_;
    r.history = std::move(history);
    r.quotas = bundle().params.quotas;
    r.max_pool = bundle().params.max_pool;
    return r;
  }

  static std::vector<ItemIndex> Items(const std::vector<PooledCandidate>& pool) {
    std::vector<ItemIndex> out;
    for (const PooledCandidate& p : pool) out.push_back(p.item);
    return out;
  }

  static ToyRegistry* toy_;
  static std::shared_ptr<const ModelBundle>* bundle_;
};

ToyRegistry* CandidatePoolTest::toy_ = nullptr;
std::shared_ptr<const ModelBundle>* CandidatePoolTest::bundle_ = nullptr;

// The parallel pool equals the offline evaluator's sequential pool for every toy user.
TEST_F(CandidatePoolTest, EqualsOfflinePoolForEveryToyUser) {
  WorkerPool workers(4, 64);
  CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
  for (int u = 0; u < 90; ++u) {
    const std::vector<Interaction> history = History(absl::StrCat("u", u));
    absl::StatusOr<PoolResult> result = pool.Run(Request(history));
    ASSERT_TRUE(result.ok()) << result.status();
    const std::vector<PooledCandidate> offline = OfflinePool(bundle(), history, 0);
    ASSERT_EQ(Items(result->pool), Items(offline)) << "user u" << u;
    for (size_t i = 0; i < offline.size(); ++i) {
      EXPECT_EQ(result->pool[i].rank, offline[i].rank);
      EXPECT_EQ(result->pool[i].score, offline[i].score);
    }
    for (int s = 0; s < kNumSources; ++s) {
      EXPECT_TRUE(result->sources[s].ran) << SourceName(static_cast<SourceId>(s));
      EXPECT_FALSE(result->sources[s].skipped.has_value());
    }
    EXPECT_FALSE(result->cold_start);
  }
}

// An empty history runs trending only, and nothing is reported as skipped.
TEST_F(CandidatePoolTest, ColdStartRunsTrendingOnly) {
  WorkerPool workers(2, 64);
  CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
  absl::StatusOr<PoolResult> result = pool.Run(Request({}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->cold_start);
  const int trending = static_cast<int>(SourceId::kTrending);
  ASSERT_EQ(static_cast<int>(result->pool.size()), bundle().params.quotas[trending]);
  for (const PooledCandidate& p : result->pool) {
    for (int s = 0; s < kNumSources; ++s) EXPECT_EQ(p.rank[s] >= 0, s == trending);
  }
  for (int s = 0; s < kNumSources; ++s) {
    EXPECT_EQ(result->sources[s].attempted, s == trending);
    EXPECT_FALSE(result->sources[s].skipped.has_value());
  }
  EXPECT_EQ(Items(result->pool), Items(OfflinePool(bundle(), {}, 0)));
}

// A request picked up after its deadline skips every source, reported as "deadline".
TEST_F(CandidatePoolTest, RequestStartingAfterDeadlineSkipsEverySource) {
  const absl::Time t0 = absl::Now();
  WorkerPool workers(2, 64);
  CandidatePoolOptions options;
  options.clock = [t0] { return t0 + absl::Seconds(5); };
  CandidatePool pool(&workers, MakeDefaultRetrievers(), options);
  PoolRequest r = Request(History("u1"));
  r.deadline = t0 + absl::Seconds(1);
  absl::StatusOr<PoolResult> result = pool.Run(std::move(r));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->pool.empty());
  EXPECT_EQ(result->user_state_elapsed, absl::ZeroDuration());
  for (const SourceOutcome& o : result->sources) {
    ASSERT_TRUE(o.skipped.has_value());
    EXPECT_EQ(*o.skipped, SkipReason::kDeadline);
    EXPECT_FALSE(o.ran);
  }
  EXPECT_STREQ(SkipReasonName(SkipReason::kDeadline), "deadline");
}

// Sources that would start after deadline - margin are skipped; earlier ones still serve.
TEST_F(CandidatePoolTest, SourcesStartingPastDeadlineMinusMarginAreSkipped) {
  const absl::Time t0 = absl::Now();
  std::atomic<int> calls{0};
  WorkerPool workers(1, 64);  // one worker: prepare, then sources in SourceId order
  CandidatePoolOptions options;
  options.deadline_margin = absl::Milliseconds(5);
  // Calls 0..2 (prepare, content, itemknn) see t0; later ones see 4 ms before the
  // deadline, inside the margin.
  options.clock = [&] { return calls.fetch_add(1) < 3 ? t0 : t0 + absl::Milliseconds(96); };
  CandidatePool pool(&workers, MakeDefaultRetrievers(), options);
  PoolRequest r = Request(History("u2"));
  r.deadline = t0 + absl::Milliseconds(100);
  absl::StatusOr<PoolResult> result = pool.Run(std::move(r));
  ASSERT_TRUE(result.ok()) << result.status();
  for (int s = 0; s < kNumSources; ++s) {
    const SourceOutcome& o = result->sources[s];
    const bool early =
        s == static_cast<int>(SourceId::kContent) || s == static_cast<int>(SourceId::kItemKnn);
    EXPECT_EQ(o.ran, early) << SourceName(static_cast<SourceId>(s));
    EXPECT_EQ(o.skipped.has_value(), !early);
    if (!early) {
      EXPECT_EQ(*o.skipped, SkipReason::kDeadline);
    }
  }
  ASSERT_FALSE(result->pool.empty());
  for (const PooledCandidate& p : result->pool) {
    EXPECT_TRUE(p.rank[0] >= 0 || p.rank[1] >= 0);
    for (int s = 2; s < kNumSources; ++s) EXPECT_LT(p.rank[s], 0);
  }
}

// When the worker queue fills up, sources that do not fit are skipped ("queue_full"), never waited
// for.
TEST_F(CandidatePoolTest, FullQueueSkipsSourcesThatDoNotFit) {
  WorkerPool workers(1, 2);
  CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
  absl::Notification started, release, finished;
  ASSERT_TRUE(workers.TrySchedule([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  PoolResult result;
  ASSERT_TRUE(pool.Submit(Request(History("u3")),
                          [&](PoolResult r) {
                            result = std::move(r);
                            finished.Notify();
                          })
                  .ok());
  release.Notify();  // prepare runs alone: content and itemknn fit, the rest do not
  finished.WaitForNotification();
  for (int s = 0; s < kNumSources; ++s) {
    const bool fits = s < 2;
    EXPECT_EQ(result.sources[s].ran, fits) << SourceName(static_cast<SourceId>(s));
    if (!fits) {
      ASSERT_TRUE(result.sources[s].skipped.has_value());
      EXPECT_EQ(*result.sources[s].skipped, SkipReason::kQueueFull);
    }
  }
  EXPECT_FALSE(result.pool.empty());
}

// A request that cannot even be queued is refused with RESOURCE_EXHAUSTED and `done` never runs.
TEST_F(CandidatePoolTest, SubmitRefusedWhenQueueIsFull) {
  WorkerPool workers(1, 1);
  CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
  absl::Notification started, release;
  ASSERT_TRUE(workers.TrySchedule([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  ASSERT_TRUE(workers.TrySchedule([] {}));  // the one queue slot
  bool called = false;
  absl::Status s = pool.Submit(Request(History("u4")), [&](PoolResult) { called = true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("queue full"), absl::string_view::npos) << s;
  release.Notify();
  EXPECT_FALSE(called);
}

// A failing source is reported with its error and the other sources still make the pool.
TEST_F(CandidatePoolTest, FailingSourceIsReportedOthersServe) {
  WorkerPool workers(2, 64);
  RetrieverSet retrievers = MakeDefaultRetrievers();
  retrievers[static_cast<int>(SourceId::kAls)] = std::make_unique<FailingRetriever>(SourceId::kAls);
  CandidatePool pool(&workers, std::move(retrievers), {});
  absl::StatusOr<PoolResult> result = pool.Run(Request(History("u5")));
  ASSERT_TRUE(result.ok()) << result.status();
  const SourceOutcome& als = result->sources[static_cast<int>(SourceId::kAls)];
  ASSERT_TRUE(als.skipped.has_value());
  EXPECT_EQ(*als.skipped, SkipReason::kError);
  EXPECT_EQ(als.error.message(), "index exploded");
  EXPECT_FALSE(result->pool.empty());
  for (const PooledCandidate& p : result->pool)
    EXPECT_LT(p.rank[static_cast<int>(SourceId::kAls)], 0);
}

// Quota 0 disables a source (not reported as skipped) and max_pool bounds the merged list.
TEST_F(CandidatePoolTest, ZeroQuotaDisablesSourceAndMaxPoolBounds) {
  WorkerPool workers(2, 64);
  CandidatePool pool(&workers, MakeDefaultRetrievers(), {});
  PoolRequest r = Request(History("u6"));
  r.quotas[static_cast<int>(SourceId::kItemKnn)] = 0;
  r.quotas[static_cast<int>(SourceId::kContent)] = 3;
  r.max_pool = 7;
  absl::StatusOr<PoolResult> result = pool.Run(std::move(r));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->pool.size(), 7u);
  const SourceOutcome& knn = result->sources[static_cast<int>(SourceId::kItemKnn)];
  EXPECT_FALSE(knn.attempted);
  EXPECT_FALSE(knn.skipped.has_value());
  EXPECT_EQ(result->sources[static_cast<int>(SourceId::kContent)].candidates, 3);
  for (const PooledCandidate& p : result->pool) {
    EXPECT_LT(p.rank[static_cast<int>(SourceId::kItemKnn)], 0);
  }
}

}  // namespace
}  // namespace recsys::retrieval

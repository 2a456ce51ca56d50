// Sharded retrieval: the merge of shard answers (MergeShardAnswers) on
// hand-made answers (ties, quotas, shards left out, misconfiguration, version
// skew, signals re-signed), and on real data: ml-latest-small served by 2 and
// by 3 in-process retrieval shards, merged, equals the unsharded service's
// answer for every leave-last-out case (ids, order, per-source scores and
// ranks, signals).
#include "gateway/retrieval_shards.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bundle/catalogue_shard.h"
#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/log.h"
#include "common/server/rank_signals.h"
#include "offline/trainer.h"
#include "retrieval_service/service.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

namespace fs = std::filesystem;

v1::Candidate* AddCandidate(v1::RetrieveResponse* r, const std::string& id, int index,
                            std::vector<std::pair<v1::Source, float>> scores) {
  v1::Candidate* c = r->add_candidates();
  c->set_item_id(id);
  c->set_catalogue_index(index);
  int rank = 0;
  for (auto [source, score] : scores) {
    v1::SourceScore* s = c->add_sources();
    s->set_source(source);
    s->set_score(score);
    s->set_rank(rank++);  // ranks within the shard are not used by the merge
  }
  c->add_signals(static_cast<float>(index));
  return c;
}

v1::RetrieveResponse ShardResponse(int i, int n, const std::string& version = "v1") {
  v1::RetrieveResponse r;
  r.set_shard(absl::StrCat(i, "/", n));
  r.set_model_version(version);
  for (int s = 1; s <= kNumSources; ++s) {
    v1::SourceQuota* q = r.add_quotas();
    q->set_source(static_cast<v1::Source>(s));
    q->set_k(s == v1::SOURCE_CONTENT ? 2 : 3);
  }
  r.set_max_candidates(0);
  r.mutable_signals()->set_schema(1);
  r.mutable_signals()->set_model_version(version);
  r.mutable_signals()->set_user_fingerprint(77);
  return r;
}

std::vector<std::string> Ids(const v1::RetrieveResponse& r) {
  std::vector<std::string> ids;
  for (const v1::Candidate& c : r.candidates()) ids.push_back(c.item_id());
  return ids;
}

TEST(MergeShardAnswers, MergesBySourceScoreWithCatalogueTieBreakAndCutsToQuota) {
  v1::RetrieveResponse a = ShardResponse(0, 2), b = ShardResponse(1, 2);
  // Content (quota 2): 0.9 (b, index 5), 0.8 (a, index 3), 0.8 (b, index 1): the
  // tie keeps index 1 first, and the cut leaves index 3 out.
  AddCandidate(&a, "three", 3, {{v1::SOURCE_CONTENT, 0.8f}});
  AddCandidate(&b, "five", 5, {{v1::SOURCE_CONTENT, 0.9f}});
  AddCandidate(&b, "one", 1, {{v1::SOURCE_CONTENT, 0.8f}, {v1::SOURCE_ALS, 2.0f}});
  AddCandidate(&a, "seven", 7, {{v1::SOURCE_ALS, 3.0f}});
  std::vector<ShardAnswer> answers = {{grpc::Status::OK, &a}, {grpc::Status::OK, &b}};
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  ASSERT_TRUE(MergeShardAnswers(answers, "", &out, &outcome).ok());
  EXPECT_EQ(outcome.left_out, 0);
  EXPECT_TRUE(outcome.degraded_reason.empty());
  // Pool order: best rank in any source, then number of sources, then index.
  // five: content 0; seven: ALS 0; one: content 1, ALS 1.
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"five", "seven", "one"}));
  const v1::Candidate& one = out.candidates(2);
  ASSERT_EQ(one.sources_size(), 2);
  EXPECT_EQ(one.sources(0).source(), v1::SOURCE_CONTENT);
  EXPECT_EQ(one.sources(0).rank(), 1);
  EXPECT_EQ(one.sources(1).source(), v1::SOURCE_ALS);
  EXPECT_EQ(one.sources(1).rank(), 1);
  EXPECT_EQ(one.signals(0), 1.0f);      // from the shard that listed it
  EXPECT_EQ(one.catalogue_index(), 0);  // not part of the merged answer
  EXPECT_EQ(out.model_version(), "v1");
  EXPECT_EQ(out.signals().user_fingerprint(), 77u);
  EXPECT_TRUE(out.signals().mac().empty());
}

TEST(MergeShardAnswers, ReSignsTheMergedSignalsWithTheKey) {
  v1::RetrieveResponse a = ShardResponse(0, 2), b = ShardResponse(1, 2);
  AddCandidate(&a, "x", 0, {{v1::SOURCE_CONTENT, 0.5f}});
  AddCandidate(&b, "y", 1, {{v1::SOURCE_CONTENT, 0.6f}});
  a.mutable_signals()->set_mac("a's mac covers a's list only");
  std::vector<ShardAnswer> answers = {{grpc::Status::OK, &a}, {grpc::Status::OK, &b}};
  const std::string key = "0123456789abcdef0123456789abcdef";
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  ASSERT_TRUE(MergeShardAnswers(answers, key, &out, &outcome).ok());
  EXPECT_TRUE(VerifyRankSignals(key, out.signals(), out.candidates()));
  EXPECT_FALSE(VerifyRankSignals("another key of enough bytes", out.signals(), out.candidates()));
}

TEST(MergeShardAnswers, AShardDownLeavesItOutWithANoteAndAReason) {
  v1::RetrieveResponse a = ShardResponse(0, 2);
  AddCandidate(&a, "x", 0, {{v1::SOURCE_CONTENT, 0.5f}});
  v1::RetrieveResponse unused;
  std::vector<ShardAnswer> answers = {
      {grpc::Status::OK, &a},
      {grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"), &unused}};
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  ASSERT_TRUE(MergeShardAnswers(answers, "", &out, &outcome).ok());
  EXPECT_EQ(Ids(out), std::vector<std::string>{"x"});
  EXPECT_EQ(outcome.left_out, 1);
  EXPECT_EQ(outcome.degraded_reason, "retrieval_shard:UNAVAILABLE");
  ASSERT_EQ(outcome.notes.size(), 1u);
  EXPECT_NE(outcome.notes[0].find("retrieval shard 1/2 unavailable: UNAVAILABLE"),
            std::string::npos)
      << outcome.notes[0];
}

TEST(MergeShardAnswers, EveryShardDownFailsWithTheFirstError) {
  v1::RetrieveResponse unused;
  std::vector<ShardAnswer> answers = {
      {grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late"), &unused},
      {grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"), &unused}};
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  const grpc::Status s = MergeShardAnswers(answers, "", &out, &outcome);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(MergeShardAnswers, AShardInTheWrongPlaceIsLeftOut) {
  // Both targets serve shard 0/2 (a copy-paste in the deployment): the second
  // is refused, never merged as if it held shard 1's items.
  v1::RetrieveResponse a = ShardResponse(0, 2), b = ShardResponse(0, 2);
  AddCandidate(&a, "x", 0, {{v1::SOURCE_CONTENT, 0.5f}});
  AddCandidate(&b, "x", 0, {{v1::SOURCE_CONTENT, 0.5f}});
  std::vector<ShardAnswer> answers = {{grpc::Status::OK, &a}, {grpc::Status::OK, &b}};
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  ASSERT_TRUE(MergeShardAnswers(answers, "", &out, &outcome).ok());
  EXPECT_EQ(outcome.left_out, 1);
  EXPECT_EQ(outcome.degraded_reason, "retrieval_shard:FAILED_PRECONDITION");
  EXPECT_NE(outcome.notes[0].find("serves shard \"0/2\""), std::string::npos) << outcome.notes[0];
  // An unsharded service where a shard is expected is refused too.
  b.set_shard("");
  outcome = {};
  ASSERT_TRUE(MergeShardAnswers(answers, "", &out, &outcome).ok());
  EXPECT_EQ(outcome.left_out, 1);
}

TEST(MergeShardAnswers, TheMinorityVersionIsLeftOutDuringARollout) {
  v1::RetrieveResponse a = ShardResponse(0, 3, "old"), b = ShardResponse(1, 3, "new"),
                       c = ShardResponse(2, 3, "new");
  AddCandidate(&a, "x", 0, {{v1::SOURCE_CONTENT, 0.9f}});
  AddCandidate(&b, "y", 1, {{v1::SOURCE_CONTENT, 0.5f}});
  AddCandidate(&c, "z", 2, {{v1::SOURCE_CONTENT, 0.4f}});
  std::vector<ShardAnswer> answers = {
      {grpc::Status::OK, &a}, {grpc::Status::OK, &b}, {grpc::Status::OK, &c}};
  v1::RetrieveResponse out;
  ShardMergeOutcome outcome;
  ASSERT_TRUE(MergeShardAnswers(answers, "", &out, &outcome).ok());
  EXPECT_EQ(out.model_version(), "new");
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"y", "z"}));
  EXPECT_EQ(outcome.left_out, 1);
  EXPECT_NE(outcome.notes[0].find("shard 0/3 unavailable: serves model old"), std::string::npos)
      << outcome.notes[0];
}

TEST(ShardSpec, ParsesAndRefuses) {
  auto ok = ParseShardSpec("1/4");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->index, 1);
  EXPECT_EQ(ok->count, 4);
  EXPECT_EQ(ok->ToString(), "1/4");
  EXPECT_FALSE(ParseShardSpec("").value().sharded());
  for (const char* bad : {"4/4", "-1/2", "1", "1/0", "a/b", "1/2/3", "0/100000", " 0/2"}) {
    EXPECT_FALSE(ParseShardSpec(bad).ok()) << bad;
  }
}

TEST(ShardSpec, ItemAssignmentIsStableAndBalanced) {
  // Pinned: changing the hash would reshuffle every deployed shard.
  EXPECT_EQ(ShardOfItem("1", 2), ShardOfItem("1", 2));
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 40000; ++i) ++counts[ShardOfItem(absl::StrCat(i), 4)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(ShardOfItem("anything", 1), 0);
}

// Real data: every leave-last-out case of ml-latest-small, unsharded vs merged.
class ShardedParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    root_ = new std::string(recsys::testing::FreshTempDir("shard_parity"));
    offline::TrainOptions o;
    o.data_dir = RECSYS_DATA_DIR "/ml-latest-small";
    o.registry = *root_ + "/registry";
    o.name = "movielens";
    o.tune_budget = absl::ZeroDuration();
    absl::StatusOr<offline::TrainResult> trained;
    const LogSeverity old = MinLogSeverity();
    SetMinLogSeverity(LogSeverity::kWarning);  // the trainer's leaderboard
    trained = offline::Train(o);
    SetMinLogSeverity(old);
    ASSERT_TRUE(trained.ok()) << trained.status();
    dir_ = new std::string(trained->bundle_dir);
    absl::StatusOr<Dataset> data = LoadDataset(o.data_dir, o.load);
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new Dataset(*std::move(data));
    split_ = new LeaveLastOutSplit(*data_);
    std::cout << "[ shards   ] trained ml-latest-small in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s\n";
  }
  static void TearDownTestSuite() {
    delete split_;
    delete data_;
    delete dir_;
    if (root_ != nullptr) fs::remove_all(*root_);
    delete root_;
    split_ = nullptr;
    data_ = nullptr;
    dir_ = nullptr;
    root_ = nullptr;
  }

  static std::unique_ptr<retrieval::RetrievalService> Service(ShardSpec spec) {
    auto bundle = ModelBundle::Load(*dir_, BundleParts::kServing, spec);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    if (!bundle.ok()) return nullptr;
    std::shared_ptr<const ModelBundle> b = *bundle;
    retrieval::RetrievalServiceOptions o;
    o.limits.max_history = 5000;
    o.workers = 2;
    return std::make_unique<retrieval::RetrievalService>([b] { return b; }, o, nullptr);
  }

  // `request` through the unsharded service and through the shards merged:
  // true when the pools are equal (ids, per-source scores and ranks, signals).
  static bool MergedEqualsUnsharded(
      retrieval::RetrievalService& whole,
      const std::vector<std::unique_ptr<retrieval::RetrievalService>>& shards,
      v1::RetrieveRequest request, int* degraded) {
    const int count = static_cast<int>(shards.size());
    request.set_with_signals(true);
    v1::RetrieveResponse expected;
    EXPECT_TRUE(whole.RetrieveBlocking(request, &expected, absl::InfiniteFuture()).ok());
    request.set_shard_lists(true);
    std::vector<v1::RetrieveResponse> parts(count);
    std::vector<ShardAnswer> answers;
    for (int i = 0; i < count; ++i) {
      EXPECT_TRUE(shards[i]->RetrieveBlocking(request, &parts[i], absl::InfiniteFuture()).ok());
    }
    for (int i = 0; i < count; ++i) answers.push_back({grpc::Status::OK, &parts[i]});
    v1::RetrieveResponse merged;
    ShardMergeOutcome outcome;
    EXPECT_TRUE(MergeShardAnswers(answers, "", &merged, &outcome).ok());
    if (outcome.left_out > 0) ++*degraded;
    bool same = merged.candidates_size() == expected.candidates_size();
    for (int j = 0; same && j < merged.candidates_size(); ++j) {
      const v1::Candidate& m = merged.candidates(j);
      const v1::Candidate& e = expected.candidates(j);
      same = m.item_id() == e.item_id() && m.sources_size() == e.sources_size() &&
             m.signals_size() == e.signals_size();
      for (int s = 0; same && s < m.sources_size(); ++s) {
        same = m.sources(s).source() == e.sources(s).source() &&
               m.sources(s).score() == e.sources(s).score() &&
               m.sources(s).rank() == e.sources(s).rank();
      }
      for (int s = 0; same && s < m.signals_size(); ++s) same = m.signals(s) == e.signals(s);
    }
    return same && merged.signals().user_fingerprint() == expected.signals().user_fingerprint() &&
           merged.model_version() == expected.model_version() && merged.skipped_size() == 0 &&
           expected.skipped_size() == 0;
  }

  static std::vector<std::unique_ptr<retrieval::RetrievalService>> Shards(int count) {
    std::vector<std::unique_ptr<retrieval::RetrievalService>> shards;
    for (int i = 0; i < count; ++i) shards.push_back(Service({i, count}));
    return shards;
  }

  // Every case of both splits through the unsharded service and through
  // `count` shards merged; returns the number of cases compared.
  static int CheckEveryCase(int count) {
    auto whole = Service({});
    const auto shards = Shards(count);
    int cases = 0, mismatched = 0, degraded = 0;
    for (SplitName which : {SplitName::kValidation, SplitName::kTest}) {
      for (const EvalCase& c : split_->cases(which)) {
        const Interaction& target = split_->target(c);
        v1::RetrieveRequest request;
        request.mutable_user()->set_user_id(data_->users.Name(c.user));
        request.mutable_user()->set_as_of_s(target.timestamp_s);
        for (const Interaction& e : split_->history(c)) {
          v1::HistoryEvent* h = request.mutable_user()->add_history();
          h->set_item_id(data_->items.Name(e.item));
          h->set_timestamp_s(e.timestamp_s);
          h->set_weight(e.weight);
        }
        ++cases;
        if (!MergedEqualsUnsharded(*whole, shards, std::move(request), &degraded) &&
            ++mismatched <= 3) {
          ADD_FAILURE() << count << " shards, user " << data_->users.Name(c.user)
                        << ": merged pool differs from the unsharded pool";
        }
      }
    }
    EXPECT_EQ(mismatched, 0) << "of " << cases << " cases";
    EXPECT_EQ(degraded, 0);
    return cases;
  }

  static std::string* root_;
  static std::string* dir_;
  static Dataset* data_;
  static LeaveLastOutSplit* split_;
};

std::string* ShardedParityTest::root_ = nullptr;
std::string* ShardedParityTest::dir_ = nullptr;
Dataset* ShardedParityTest::data_ = nullptr;
LeaveLastOutSplit* ShardedParityTest::split_ = nullptr;

TEST_F(ShardedParityTest, TwoShardsMergedEqualTheUnshardedPoolForEveryCase) {
  ASSERT_NE(dir_, nullptr) << "suite set-up failed";
  EXPECT_GT(CheckEveryCase(2), 1000);
}

TEST_F(ShardedParityTest, ThreeShardsMergedEqualTheUnshardedPoolForEveryCase) {
  ASSERT_NE(dir_, nullptr) << "suite set-up failed";
  CheckEveryCase(3);
}

// Cold start with category hints (hinted items first, the rest scored below
// them in the same order): the merged pool equals the unsharded one for every
// category alone and for pairs, "now" and at a past time, with 2 and 3 shards.
TEST_F(ShardedParityTest, ColdStartWithCategoryHintsMergesExactly) {
  ASSERT_NE(dir_, nullptr) << "suite set-up failed";
  auto whole = Service({});
  auto names = ModelBundle::Load(*dir_, BundleParts::kGateway);
  ASSERT_TRUE(names.ok()) << names.status();
  const std::vector<std::string>& categories = (*names)->catalogue.category_names;
  for (const int count : {2, 3}) {
    const auto shards = Shards(count);
    int degraded = 0;
    for (const int64_t as_of : {int64_t{0}, int64_t{1300000000}}) {
      for (size_t c = 0; c < categories.size(); ++c) {
        v1::RetrieveRequest request;
        request.mutable_user()->set_as_of_s(as_of);
        request.mutable_user()->add_categories(categories[c]);
        if (c % 3 == 0)
          request.mutable_user()->add_categories(categories[(c + 7) % categories.size()]);
        EXPECT_TRUE(MergedEqualsUnsharded(*whole, shards, std::move(request), &degraded))
            << count << " shards, " << categories[c] << ", as of " << as_of;
      }
    }
    EXPECT_EQ(degraded, 0);
  }
}

TEST_F(ShardedParityTest, AShardOwnsOnlyItsItemsAndSlicesItsIndexes) {
  ASSERT_NE(dir_, nullptr) << "suite set-up failed";
  auto whole = ModelBundle::Load(*dir_);
  auto s0 = ModelBundle::Load(*dir_, BundleParts::kServing, {0, 2});
  auto s1 = ModelBundle::Load(*dir_, BundleParts::kServing, {1, 2});
  ASSERT_TRUE(whole.ok() && s0.ok() && s1.ok());
  const CatalogueShard& a = *(*s0)->shard;
  const CatalogueShard& b = *(*s1)->shard;
  EXPECT_EQ(a.items().size() + b.items().size(), static_cast<size_t>((*whole)->num_items()));
  for (int64_t i : a.items()) {
    EXPECT_FALSE(b.Owns(static_cast<ItemIndex>(i)));
    EXPECT_EQ(ShardOfItem((*whole)->catalogue.ids.Name(static_cast<int32_t>(i)), 2), 0);
  }
  EXPECT_TRUE(a.has_sliced(CatalogueShard::Index::kContent));
  EXPECT_TRUE(a.has_sliced(CatalogueShard::Index::kAls));
  EXPECT_EQ((*s0)->als_index.size(), 0) << "the full ALS index is released on a shard";
  EXPECT_EQ((*whole)->shard, nullptr);
}

}  // namespace
}  // namespace recsys::gateway

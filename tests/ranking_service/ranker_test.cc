#include "ranking_service/ranker.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/bundle/registry.h"
#include "common/features/features.h"
#include "common/server/metrics.h"
#include "ranking_service/service.h"
#include "tests/ranking_service/ranker_test_fixture.h"
#include "tests/ranking_service/ranking_test_util.h"
#include "tests/testing/toy_registry.h"

namespace recsys::ranking {
namespace {

using testing::AddCandidate;
using testing::AddHistory;
using testing::Column;
using testing::Ids;
using testing::kT0;
using testing::Probability;
using testing::RankerTest;
using testing::RequestFor;

// A hand-built request becomes features equal to values computed directly from the bundle.
TEST_F(RankerTest, FeaturesMatchHandComputedValues) {
  const ModelBundle& b = bundle();
  v1::RankRequest request;
  request.set_k(3);
  request.mutable_user()->set_as_of_s(kT0 + 3600);
  for (int i = 0; i < 4; ++i) AddHistory(&request, absl::StrCat("m", 3 * i), kT0 + 60 * i);
  AddHistory(&request, "not-in-catalogue", kT0 + 300);
  AddCandidate(&request, "m12", {{SourceId::kContent, 0.9f, 0}, {SourceId::kTrending, 5.0f, 2}});
  AddCandidate(&request, "m1", {{SourceId::kItemKnn, 0.5f, 3}});
  AddCandidate(&request, "m2");
  ASSERT_TRUE(ranker_.Validate(request).ok());

  RankInput in = ToRankInput(b, request);
  EXPECT_EQ(in.unknown_history, 1);
  EXPECT_EQ(in.signals_verdict, SignalsVerdict::kAbsent);
  ASSERT_EQ(in.context.history_size, 4u);
  ASSERT_EQ(in.pool.size(), 3u);
  ASSERT_EQ(in.signals.size(), 3u);
  FeatureMatrix x;
  ComputeFeatures(b, in.context, in.pool, in.signals, &x);
  ASSERT_EQ(x.rows(), 3);

  // Source columns: the request's score and 1 / (1 + rank), 0 where absent.
  EXPECT_FLOAT_EQ(x(0, Column("score_content")), 0.9f);
  EXPECT_FLOAT_EQ(x(0, Column("rrank_content")), 1.0f);
  EXPECT_FLOAT_EQ(x(0, Column("score_trending")), 5.0f);
  EXPECT_FLOAT_EQ(x(0, Column("rrank_trending")), 1.0f / 3.0f);
  EXPECT_FLOAT_EQ(x(0, Column("score_itemknn")), 0.0f);
  EXPECT_FLOAT_EQ(x(0, Column("rrank_itemknn")), 0.0f);
  EXPECT_FLOAT_EQ(x(1, Column("score_itemknn")), 0.5f);
  EXPECT_FLOAT_EQ(x(1, Column("rrank_itemknn")), 0.25f);
  EXPECT_FLOAT_EQ(x(1, Column("rrank_content")), 0.0f);
  EXPECT_FLOAT_EQ(x(0, Column("sources")), 2.0f);
  EXPECT_FLOAT_EQ(x(1, Column("sources")), 1.0f);
  EXPECT_FLOAT_EQ(x(2, Column("sources")), 0.0f);

  // History length: the 4 known events (the unknown one is dropped).
  for (int r = 0; r < 3; ++r) EXPECT_FLOAT_EQ(x(r, Column("log_hist")), std::log1p(4.0f));

  // Popularity and category affinity straight from the catalogue.
  std::vector<ItemIndex> history;
  for (int i = 0; i < 4; ++i) history.push_back(*b.catalogue.ids.Find(absl::StrCat("m", 3 * i)));
  const char* ids[3] = {"m12", "m1", "m2"};
  for (int r = 0; r < 3; ++r) {
    const ItemIndex item = *b.catalogue.ids.Find(ids[r]);
    EXPECT_FLOAT_EQ(x(r, Column("log_pop")), std::log1p(b.catalogue.popularity[item])) << ids[r];
    const std::span<const int32_t> cats = b.catalogue.item_categories(item);
    ASSERT_FALSE(cats.empty());
    double affinity = 0;
    for (int32_t c : cats) {
      int in_history = 0;
      for (ItemIndex h : history) {
        const std::span<const int32_t> hc = b.catalogue.item_categories(h);
        in_history += std::find(hc.begin(), hc.end(), c) != hc.end();
      }
      affinity += in_history / 4.0;
    }
    affinity /= static_cast<double>(cats.size());
    EXPECT_NEAR(x(r, Column("cat_affinity")), affinity, 1e-6) << ids[r];
  }
  // The toy clusters: m12 shares the history's only category, m1 and m2 none.
  EXPECT_FLOAT_EQ(x(0, Column("cat_affinity")), 1.0f);
  EXPECT_FLOAT_EQ(x(1, Column("cat_affinity")), 0.0f);
}

// With lambda = 1 (explicit or the bundle default) the order, scores and cut are RankPool's.
TEST_F(RankerTest, MmrLambdaOneEqualsModelOrder) {
  const ModelBundle& b = bundle();
  const SciFiCase user = SciFiUser(b, 6);
  const auto& [history, as_of, st, pool] = user;
  ASSERT_GE(pool.size(), 20u);
  for (int k : {1, 10, static_cast<int>(pool.size())}) {
    for (bool explicit_lambda : {true, false}) {
      if (!explicit_lambda && b.params.mmr_lambda != 1.0f) continue;
      v1::RankRequest request = RequestFor(b, history, as_of, pool, k);
      if (explicit_lambda) request.mutable_options()->set_mmr_lambda(1.0f);
      v1::RankResponse response;
      ASSERT_TRUE(ranker_.Rank(b, request, &response, nullptr).ok());
      const std::vector<ScoredIndex> expected = RankPool(b, st, pool, k);
      ASSERT_EQ(Ids(response), Ids(b, expected)) << "k=" << k;
      for (int i = 0; i < response.items_size(); ++i) {
        EXPECT_FLOAT_EQ(response.items(i).score(), Probability(expected[i].score));
      }
      EXPECT_EQ(response.model_version(), b.manifest.version());
      EXPECT_EQ(response.unknown_candidates(), 0);
    }
  }
}

// Signals computed by retrieval replace the user-state rebuild bit for bit; a
// context for another model, user or layout makes the ranker ignore them.
TEST_F(RankerTest, RetrievalSignalsRankBitIdenticallyAndAreCheckedAgainstTheRequest) {
  const ModelBundle& b = bundle();
  const SciFiCase user = SciFiUser(b, 6);
  const auto& [history, as_of, st, pool] = user;
  ASSERT_GE(pool.size(), 20u);
  const int k = static_cast<int>(pool.size());
  const v1::RankRequest plain = RequestFor(b, history, as_of, pool, k);
  v1::RankResponse expected;
  RankStats stats;
  ASSERT_TRUE(ranker_.Rank(b, plain, &expected, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kAbsent);

  v1::RankRequest with = plain;
  std::vector<CandidateSignals> signals;
  ComputeSignals(b, st, pool, &signals);
  for (size_t i = 0; i < pool.size(); ++i) {
    for (float v : signals[i]) with.mutable_candidates(static_cast<int>(i))->add_signals(v);
  }
  FillRankSignals(with.user(), b.manifest.version(), with.mutable_signals());
  v1::RankResponse got;
  ASSERT_TRUE(ranker_.Rank(b, with, &got, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUse);
  ASSERT_EQ(Ids(got), Ids(expected));
  for (int i = 0; i < got.items_size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(got.items(i).score()),
              std::bit_cast<uint32_t>(expected.items(i).score()))
        << i;
  }

  // Garbage signals: used under a matching context (the order changes), ignored otherwise.
  v1::RankRequest garbage = with;
  for (int i = 0; i < garbage.candidates_size(); ++i) {
    for (int j = 0; j < kNumSignals; ++j) {
      garbage.mutable_candidates(i)->set_signals(j, static_cast<float>((i * 7919) % 13));
    }
  }
  ASSERT_TRUE(ranker_.Rank(b, garbage, &got, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUse);
  EXPECT_NE(Ids(got), Ids(expected));

  auto ranks_as_rebuilt = [&](v1::RankRequest request, SignalsVerdict verdict) {
    v1::RankResponse r;
    ASSERT_TRUE(ranker_.Rank(b, request, &r, &stats).ok());
    EXPECT_EQ(stats.signals_verdict, verdict) << SignalsVerdictName(verdict);
    EXPECT_EQ(Ids(r), Ids(expected)) << SignalsVerdictName(verdict);
  };
  v1::RankRequest other_model = garbage;
  other_model.mutable_signals()->set_model_version("another-version");
  ranks_as_rebuilt(other_model, SignalsVerdict::kOtherModel);
  v1::RankRequest other_schema = garbage;
  other_schema.mutable_signals()->set_schema(kSignalsSchema + 1);
  ranks_as_rebuilt(other_schema, SignalsVerdict::kOtherSchema);
  // Same user, one event's weight changed after retrieval: another user state.
  v1::RankRequest other_user = garbage;
  other_user.mutable_user()->mutable_history(0)->set_weight(other_user.user().history(0).weight() +
                                                            1.0f);
  v1::RankResponse r;
  ASSERT_TRUE(ranker_.Rank(b, other_user, &r, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kOtherUser);

  // Under this build's schema the signals must be complete and finite.
  v1::RankRequest short_signals = with;
  short_signals.mutable_candidates(3)->mutable_signals()->RemoveLast();
  absl::Status s = ranker_.Validate(short_signals);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("candidates[3]"), std::string::npos) << s;
  v1::RankRequest nan_signal = with;
  nan_signal.mutable_candidates(0)->set_signals(1, std::numeric_limits<float>::quiet_NaN());
  s = ranker_.Validate(nan_signal);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("als_dot"), std::string::npos) << s;
}

// The fingerprint covers every input of the user state.
TEST(UserFingerprintTest, ChangesWithEveryUserStateInput) {
  v1::UserContext u;
  u.set_as_of_s(100);
  auto* e = u.add_history();
  e->set_item_id("a");
  e->set_timestamp_s(5);
  e->set_weight(1.0f);
  const uint64_t base = UserFingerprint(u);
  EXPECT_EQ(UserFingerprint(u), base);
  v1::UserContext v = u;
  v.set_as_of_s(101);
  EXPECT_NE(UserFingerprint(v), base);
  v = u;
  v.mutable_history(0)->set_item_id("b");
  EXPECT_NE(UserFingerprint(v), base);
  v = u;
  v.mutable_history(0)->set_timestamp_s(6);
  EXPECT_NE(UserFingerprint(v), base);
  v = u;
  v.mutable_history(0)->set_weight(2.0f);
  EXPECT_NE(UserFingerprint(v), base);
  v = u;
  v.add_history()->set_item_id("");
  EXPECT_NE(UserFingerprint(v), base);
  // Ids are length-prefixed: "ab" + "c" differs from "a" + "bc".
  v1::UserContext x, y;
  x.add_history()->set_item_id("ab");
  x.add_history()->set_item_id("c");
  y.add_history()->set_item_id("a");
  y.add_history()->set_item_id("bc");
  EXPECT_NE(UserFingerprint(x), UserFingerprint(y));
  // The user id and category hints do not enter the user state.
  v = u;
  v.set_user_id("someone");
  v.add_categories("Comedy");
  EXPECT_EQ(UserFingerprint(v), base);
}

// MMR on hand-made embeddings: lambda 1 keeps the order, lambda 0.5 demotes a near-duplicate.
TEST(MmrSelectTest, DemotesNearDuplicateOfTheFirstPick) {
  const std::vector<float> relevance = {0.9f, 0.85f, 0.5f};
  // Item 1 is nearly item 0 (cos 0.99), item 2 is orthogonal to both.
  const std::vector<float> embeddings = {1.0f, 0.0f, 0.99f, 0.14107f, 0.0f, 1.0f};
  EXPECT_EQ(MmrSelect(relevance, embeddings, 2, 1.0f, 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(MmrSelect(relevance, embeddings, 2, 0.5f, 3), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(MmrSelect(relevance, embeddings, 2, 0.5f, 2), (std::vector<int>{0, 2}));
  EXPECT_EQ(MmrSelect(relevance, embeddings, 2, 0.5f, 10).size(), 3u);
  EXPECT_TRUE(MmrSelect(relevance, embeddings, 2, 0.5f, 0).empty());
}

// End to end: two items with identical content are split apart by lambda < 1.
TEST_F(RankerTest, MmrDemotesNearDuplicateCandidate) {
  const ModelBundle& b = bundle();
  // m0 and m21: same cluster and same "part 0" title token: near-identical embeddings.
  const ItemIndex m0 = *b.catalogue.ids.Find("m0"), m21 = *b.catalogue.ids.Find("m21");
  const int d = b.content.dim();
  float cos = 0;
  for (int i = 0; i < d; ++i)
    cos += b.content.item_embedding(m0)[i] * b.content.item_embedding(m21)[i];
  ASSERT_GT(cos, 0.95f);

  v1::RankRequest request;
  request.set_k(3);
  request.mutable_user()->set_as_of_s(kT0 + 3600);
  for (int i = 1; i <= 4; ++i) AddHistory(&request, absl::StrCat("m", 3 * i), kT0 + 60 * i);
  AddCandidate(&request, "m0", {{SourceId::kContent, 0.95f, 0}});
  AddCandidate(&request, "m21", {{SourceId::kContent, 0.94f, 1}});
  AddCandidate(&request, "m1", {{SourceId::kContent, 0.2f, 5}});

  request.mutable_options()->set_mmr_lambda(1.0f);
  v1::RankResponse model_order;
  ASSERT_TRUE(ranker_.Rank(b, request, &model_order, nullptr).ok());
  const std::vector<std::string> ids = Ids(model_order);
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_EQ(ids[2], "m1") << "precondition: the two SciFi items lead the model order";

  request.mutable_options()->set_mmr_lambda(0.3f);
  v1::RankResponse diverse;
  ASSERT_TRUE(ranker_.Rank(b, request, &diverse, nullptr).ok());
  EXPECT_EQ(Ids(diverse), (std::vector<std::string>{ids[0], "m1", ids[1]}));
  // Scores stay the model's probabilities.
  EXPECT_FLOAT_EQ(diverse.items(1).score(), model_order.items(2).score());
}

// dedupe_titles drops the worse-ranked of two items with identical titles, keeps the rest.
TEST_F(RankerTest, DedupeTitlesKeepsTheBetterRanked) {
  const ModelBundle& b = *dup_bundle_;
  ASSERT_EQ(b.catalogue.titles[*b.catalogue.ids.Find("m0")],
            b.catalogue.titles[*b.catalogue.ids.Find("m21")]);
  v1::RankRequest request;
  request.set_k(10);
  request.mutable_user()->set_as_of_s(kT0 + 3600);
  AddHistory(&request, "m6", kT0);
  AddHistory(&request, "m9", kT0 + 60);
  AddCandidate(&request, "m0", {{SourceId::kContent, 0.9f, 0}});
  AddCandidate(&request, "m21", {{SourceId::kContent, 0.8f, 1}});
  AddCandidate(&request, "m3", {{SourceId::kContent, 0.7f, 2}});
  AddCandidate(&request, "m1");

  v1::RankResponse all;
  ASSERT_TRUE(ranker_.Rank(b, request, &all, nullptr).ok());
  std::vector<std::string> expected = Ids(all);
  ASSERT_EQ(expected.size(), 4u);
  const auto first = std::find_if(expected.begin(), expected.end(),
                                  [](const std::string& id) { return id == "m0" || id == "m21"; });
  const std::string worse = *first == "m0" ? "m21" : "m0";
  expected.erase(std::find(expected.begin(), expected.end(), worse));

  request.mutable_options()->set_dedupe_titles(true);
  v1::RankResponse deduped;
  ASSERT_TRUE(ranker_.Rank(b, request, &deduped, nullptr).ok());
  EXPECT_EQ(Ids(deduped), expected);
}
}  // namespace
}  // namespace recsys::ranking

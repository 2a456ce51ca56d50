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
#include "tests/ranking_service/ranking_test_util.h"
#include "tests/testing/toy_registry.h"

namespace recsys::ranking {
namespace {

using testing::AddCandidate;
using testing::AddHistory;
using testing::Ids;
using testing::RequestFor;

constexpr int64_t kT0 = 1500000000;  // toy data's first timestamp

std::shared_ptr<const ModelBundle> LoadToy(const std::string& root) {
  auto trained = recsys::testing::TrainToyBundle(root);
  EXPECT_TRUE(trained.ok()) << trained.status();
  if (!trained.ok()) return nullptr;
  auto bundle = ModelBundle::Load(trained->bundle_dir);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

// The toy data with m21's title changed to m0's ("Movie 0, part 0"), trained.
std::shared_ptr<const ModelBundle> LoadToyWithDuplicateTitle(const std::string& root) {
  offline::TrainOptions options = recsys::testing::ToyTrainOptions(root);
  const std::string items = options.data_dir + "/items.csv";
  std::stringstream text;
  text << std::ifstream(items).rdbuf();
  std::string csv = text.str();
  const std::string from = "\"Movie 21, part 0\"";
  const size_t at = csv.find(from);
  EXPECT_NE(at, std::string::npos);
  csv.replace(at, from.size(), "\"Movie 0, part 0\"");
  std::ofstream(items, std::ios::trunc) << csv;
  auto trained = offline::Train(options);
  EXPECT_TRUE(trained.ok()) << trained.status();
  if (!trained.ok()) return nullptr;
  auto bundle = ModelBundle::Load(trained->bundle_dir);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

class RankerTest : public ::testing::Test {
 protected:
  // Two real toy bundles (~30 ms each), shared by every test of the suite.
  static void SetUpTestSuite() {
    bundle_ = LoadToy(recsys::testing::FreshTempDir("ranker_toy"));
    dup_bundle_ = LoadToyWithDuplicateTitle(recsys::testing::FreshTempDir("ranker_toy_dup"));
  }
  static void TearDownTestSuite() {
    bundle_.reset();
    dup_bundle_.reset();
  }
  void SetUp() override {
    ASSERT_NE(bundle_, nullptr);
    ASSERT_NE(dup_bundle_, nullptr);
  }

  static const ModelBundle& bundle() { return *bundle_; }

  // A cluster-0 ("SciFi") history m0, m3, ..., one event a minute.
  static std::vector<Interaction> SciFiHistory(const ModelBundle& b, int n) {
    std::vector<Interaction> h;
    for (int i = 0; i < n; ++i) {
      h.push_back(Interaction{0, *b.catalogue.ids.Find(absl::StrCat("m", 3 * i)), kT0 + 60 * i, 1});
    }
    return h;
  }

  // The retrieval pool of that history, as the retrieval service builds it.
  static std::vector<PooledCandidate> PoolFor(const ModelBundle& b, const UserState& st) {
    return RetrievePool(b, st, b.params.quotas, b.params.max_pool, nullptr);
  }

  // A sci-fi user of `n` events, as of an hour after the toy data starts,
  // with its user state and retrieval pool.
  struct SciFiCase {
    std::vector<Interaction> history;
    int64_t as_of = kT0 + 3600;
    UserState state;
    std::vector<PooledCandidate> pool;
  };
  static SciFiCase SciFiUser(const ModelBundle& b, int n) {
    SciFiCase c;
    c.history = SciFiHistory(b, n);
    c.state = BuildUserState(b, c.history, c.as_of, {});
    c.pool = PoolFor(b, c.state);
    return c;
  }

  inline static std::shared_ptr<const ModelBundle> bundle_;
  inline static std::shared_ptr<const ModelBundle> dup_bundle_;
  Ranker ranker_{RankerOptions{}};
};

int Column(const std::string& name) {
  const auto& names = FeatureNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

float Probability(float logit) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-double{logit})));
}

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
    const auto& cats = b.catalogue.categories[item];
    ASSERT_FALSE(cats.empty());
    double affinity = 0;
    for (int32_t c : cats) {
      int in_history = 0;
      for (ItemIndex h : history) {
        const auto& hc = b.catalogue.categories[h];
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
  other_user.mutable_user()->mutable_history(0)->set_weight(
      other_user.user().history(0).weight() + 1.0f);
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

// exclude_item_ids are never returned; the rest is RankPool over the pool without them.
TEST_F(RankerTest, ExclusionsAreAppliedBeforeScoring) {
  const ModelBundle& b = bundle();
  const auto history = SciFiHistory(b, 5);
  const int64_t as_of = kT0 + 3600;
  const UserState st = BuildUserState(b, history, as_of, {});
  auto pool = PoolFor(b, st);
  const std::vector<ScoredIndex> full = RankPool(b, st, pool, 10);
  const std::string excluded = b.catalogue.ids.Name(full[0].item);

  v1::RankRequest request = RequestFor(b, history, as_of, pool, 10);
  request.add_exclude_item_ids(excluded);
  request.add_exclude_item_ids("not-in-catalogue");
  v1::RankResponse response;
  ASSERT_TRUE(ranker_.Rank(b, request, &response, nullptr).ok());
  const std::vector<std::string> ids = Ids(response);
  EXPECT_EQ(std::find(ids.begin(), ids.end(), excluded), ids.end());
  pool.erase(std::find_if(pool.begin(), pool.end(),
                          [&](const PooledCandidate& p) { return p.item == full[0].item; }));
  EXPECT_EQ(ids, Ids(b, RankPool(b, st, pool, 10)));
}

// Unknown ids stay out of the model pool, are counted, and only fill k after the known ones.
TEST_F(RankerTest, UnknownCandidatesAreCountedAndPlacedLast) {
  const ModelBundle& b = bundle();
  const auto history = SciFiHistory(b, 5);
  const int64_t as_of = kT0 + 3600;
  const UserState st = BuildUserState(b, history, as_of, {});
  auto pool = PoolFor(b, st);
  pool.resize(std::min<size_t>(pool.size(), 30));
  const int known = static_cast<int>(pool.size());

  v1::RankRequest request = RequestFor(b, history, as_of, pool, known + 5);
  // One unknown id first, one last: neither may shift the known candidates' scores.
  AddCandidate(&request, "unknown-1", {{SourceId::kContent, 0.7f, 0}});
  for (int i = request.candidates_size() - 1; i > 0; --i) {  // move it to the front
    request.mutable_candidates()->SwapElements(i, i - 1);
  }
  ASSERT_EQ(request.candidates(0).item_id(), "unknown-1");
  AddCandidate(&request, "unknown-2", {{SourceId::kTrending, 3.0f, 0}});

  std::vector<std::string> expected = Ids(b, RankPool(b, st, pool, known));
  v1::RankResponse response;
  ASSERT_TRUE(ranker_.Rank(b, request, &response, nullptr).ok());
  EXPECT_EQ(response.unknown_candidates(), 2);
  std::vector<std::string> with_unknown = expected;
  with_unknown.push_back("unknown-1");
  with_unknown.push_back("unknown-2");
  EXPECT_EQ(Ids(response), with_unknown);
  EXPECT_EQ(response.items(known).score(), 0.0f);
  EXPECT_EQ(response.items(known + 1).score(), 0.0f);

  // k covered by the known candidates: no unknown id is returned, both are still counted.
  request.set_k(known);
  ASSERT_TRUE(ranker_.Rank(b, request, &response, nullptr).ok());
  EXPECT_EQ(Ids(response), expected);
  EXPECT_EQ(response.unknown_candidates(), 2);

  // And the service counts them in recsys_ranking_unknown_candidates_total.
  auto metrics = ServerMetrics::CreateWithoutExposer();
  RankingService service([this] { return bundle_; }, RankerOptions{}, metrics.get());
  ASSERT_TRUE(service.RankOnce(request, &response).ok());
  ASSERT_TRUE(service.RankOnce(request, &response).ok());
  const std::string text = metrics->SerializeText();
  EXPECT_NE(text.find("recsys_ranking_unknown_candidates_total 4"), std::string::npos) << text;
  EXPECT_NE(text.find("recsys_ranking_batch_size_count 2"), std::string::npos) << text;
  EXPECT_NE(text.find("recsys_ranking_scoring_seconds_count 2"), std::string::npos) << text;
  EXPECT_NE(text.find("recsys_ranking_user_state_seconds_count 2"), std::string::npos) << text;
}

// A NaN or infinite source score, or a bad history weight, is INVALID_ARGUMENT.
TEST_F(RankerTest, NonFiniteValuesAreRejected) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    v1::RankRequest request;
    request.set_k(5);
    AddCandidate(&request, "m1", {{SourceId::kContent, 0.5f, 0}});
    AddCandidate(&request, "m2", {{SourceId::kContent, 0.4f, 1}, {SourceId::kAls, bad, 0}});
    v1::RankResponse response;
    absl::Status s = ranker_.Rank(bundle(), request, &response, nullptr);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("candidates[1] (m2): SOURCE_ALS score is not finite"),
              std::string::npos)
        << s;

    v1::RankRequest history_request;
    history_request.set_k(5);
    AddHistory(&history_request, "m3", kT0, bad);
    s = ranker_.Validate(history_request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("user.history[0] (m3): weight"), std::string::npos) << s;
  }
  v1::RankRequest negative;
  negative.set_k(5);
  AddHistory(&negative, "m3", kT0, -1.0f);
  EXPECT_EQ(ranker_.Validate(negative).code(), absl::StatusCode::kInvalidArgument);
}

// k must be in 1..max_k.
TEST_F(RankerTest, KOutOfRangeIsRejected) {
  Ranker small(RankerOptions{.max_k = 5});
  v1::RankRequest request;
  AddCandidate(&request, "m1");
  for (int k : {0, -3, 6, 1000}) {
    request.set_k(k);
    absl::Status s = small.Validate(request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k;
    EXPECT_NE(s.message().find("k must be in 1..5"), std::string::npos) << s;
  }
  for (int k : {1, 5}) {
    request.set_k(k);
    EXPECT_TRUE(small.Validate(request).ok()) << k;
  }
  request.set_k(1001);
  EXPECT_EQ(ranker_.Validate(request).code(), absl::StatusCode::kInvalidArgument);
  request.set_k(1000);
  EXPECT_TRUE(ranker_.Validate(request).ok());
}

// The other request shapes the service refuses, each with a message naming the problem.
TEST_F(RankerTest, MalformedRequestsAreRejected) {
  auto base = [] {
    v1::RankRequest r;
    r.set_k(3);
    AddCandidate(&r, "m1", {{SourceId::kContent, 0.5f, 0}});
    AddCandidate(&r, "m2");
    return r;
  };
  auto expect_invalid = [&](const v1::RankRequest& r, const std::string& needle,
                            const RankerOptions& options = RankerOptions{}) {
    absl::Status s = Ranker(options).Validate(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s;
  };
  ASSERT_TRUE(ranker_.Validate(base()).ok());
  expect_invalid(base(), "too many candidates: 2 (at most 1)", RankerOptions{.max_candidates = 1});
  {
    auto r = base();
    AddCandidate(&r, "m1");
    expect_invalid(r, "candidates[2]: duplicate candidate id m1");
  }
  for (float lambda : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    auto r = base();
    r.mutable_options()->set_mmr_lambda(lambda);
    expect_invalid(r, "options.mmr_lambda must be in [0,1]");
  }
  for (int source : {0, 7, 99}) {
    auto r = base();
    r.mutable_candidates(1)->add_sources()->set_source(static_cast<v1::Source>(source));
    expect_invalid(r, "unknown source");
  }
  {
    auto r = base();
    r.mutable_candidates(0)->mutable_sources(0)->set_rank(-2);
    expect_invalid(r, "rank is negative");
  }
  {
    auto r = base();
    AddCandidate(&r, "");
    expect_invalid(r, "candidates[2]: empty item id");
  }
  {
    auto r = base();
    r.mutable_candidates(0)->add_sources()->set_source(v1::SOURCE_CONTENT);
    expect_invalid(r, "given twice");
  }
  {
    auto r = base();
    for (int i = 0; i < 3; ++i) AddHistory(&r, "m3", kT0);
    expect_invalid(r, "history too long", RankerOptions{.max_history = 2});
  }
}

// No candidates: an OK, empty answer that still names the model version.
TEST_F(RankerTest, EmptyCandidateListGivesEmptyAnswer) {
  v1::RankRequest request;
  request.set_k(10);
  AddHistory(&request, "m3", kT0);
  v1::RankResponse response;
  RankStats stats;
  ASSERT_TRUE(ranker_.Rank(bundle(), request, &response, &stats).ok());
  EXPECT_EQ(response.items_size(), 0);
  EXPECT_EQ(response.model_version(), bundle().manifest.version());
  EXPECT_EQ(stats.candidates, 0);
}

// Before any bundle loads the service answers UNAVAILABLE (bad requests stay INVALID_ARGUMENT).
TEST(RankingServiceTest, NoBundleIsUnavailable) {
  RankingService service([] { return std::shared_ptr<const ModelBundle>(); }, RankerOptions{},
                         nullptr);
  v1::RankRequest request;
  request.set_k(3);
  AddCandidate(&request, "m1");
  v1::RankResponse response;
  EXPECT_EQ(service.RankOnce(request, &response).code(), absl::StatusCode::kUnavailable);
  request.set_k(0);
  EXPECT_EQ(service.RankOnce(request, &response).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::ranking

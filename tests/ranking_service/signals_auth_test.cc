// Candidate signals under a key shared by retrieval and ranking: a Rank caller
// who forges signals to push an item up gets them recomputed instead.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/features/features.h"
#include "common/server/rank_signals.h"
#include "ranking_service/ranker.h"
#include "tests/ranking_service/ranker_test_fixture.h"
#include "tests/ranking_service/ranking_test_util.h"

namespace recsys::ranking {
namespace {

using testing::Ids;
using testing::RankerTest;
using testing::RequestFor;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";

class SignalsAuthTest : public RankerTest {
 protected:
  // The request retrieval would send for the sci-fi user: every candidate
  // with its honest signals and the context, signed under `key` (unsigned if
  // empty).
  static v1::RankRequest SignalledRequest(const ModelBundle& b, int events,
                                          const std::string& key) {
    const SciFiCase user = SciFiUser(b, events);
    v1::RankRequest request =
        RequestFor(b, user.history, user.as_of, user.pool, static_cast<int>(user.pool.size()));
    std::vector<CandidateSignals> signals;
    ComputeSignals(b, user.state, user.pool, &signals);
    for (size_t i = 0; i < user.pool.size(); ++i) {
      request.mutable_candidates(static_cast<int>(i))
          ->mutable_signals()
          ->Add(signals[i].begin(), signals[i].end());
    }
    FillRankSignals(request.user(), b.manifest.version(), request.mutable_signals());
    SignRankSignals(key, request.candidates(), request.mutable_signals());
    return request;
  }
};

float ScoreOf(const v1::RankResponse& r, const std::string& id) {
  for (const v1::ScoredItem& item : r.items()) {
    if (item.item_id() == id) return item.score();
  }
  return -1.0f;
}

// The MAC covers the context and every candidate's id and signals, in order.
TEST(RankSignalsMacTest, CoversContextIdsSignalsAndOrder) {
  v1::RankSignals context;
  context.set_schema(kSignalsSchema);
  context.set_model_version("v1");
  context.set_user_fingerprint(42);
  CandidateList candidates;
  for (const char* id : {"a", "b"}) {
    v1::Candidate* c = candidates.Add();
    c->set_item_id(id);
    c->add_signals(0.5f);
    c->add_signals(1.5f);
  }
  SignRankSignals(kKey, candidates, &context);
  ASSERT_EQ(context.mac().size(), 32u);
  EXPECT_TRUE(VerifyRankSignals(kKey, context, candidates));
  EXPECT_FALSE(VerifyRankSignals("another key of enough length", context, candidates));

  CandidateList changed = candidates;
  changed.Mutable(1)->set_signals(0, 0.5000001f);
  EXPECT_FALSE(VerifyRankSignals(kKey, context, changed));
  changed = candidates;
  changed.SwapElements(0, 1);
  EXPECT_FALSE(VerifyRankSignals(kKey, context, changed));
  changed = candidates;
  changed.Mutable(0)->set_item_id("c");
  EXPECT_FALSE(VerifyRankSignals(kKey, context, changed));
  v1::RankSignals other = context;
  other.set_user_fingerprint(43);
  EXPECT_FALSE(VerifyRankSignals(kKey, other, candidates));
  other = context;
  other.clear_mac();
  EXPECT_FALSE(VerifyRankSignals(kKey, other, candidates));
  // No key: nothing is signed.
  v1::RankSignals unsigned_context = other;
  SignRankSignals("", candidates, &unsigned_context);
  EXPECT_TRUE(unsigned_context.mac().empty());
}

// Forged signals lift the weakest candidate to the top of an unkeyed ranker;
// a ranker holding the key finds the MAC broken, recomputes the signals and
// ranks exactly as without them.
TEST_F(SignalsAuthTest, ForgedSignalsDoNotTakeTheTopUnderAKey) {
  const ModelBundle& b = bundle();
  const v1::RankRequest honest = SignalledRequest(b, 6, kKey);
  Ranker keyed(RankerOptions{.signals_key = kKey});
  RankStats stats;
  v1::RankResponse expected;
  ASSERT_TRUE(keyed.Rank(b, honest, &expected, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUse);
  ASSERT_GE(expected.items_size(), 10);
  const std::string victim = expected.items(expected.items_size() - 1).item_id();
  int index = 0;
  while (honest.candidates(index).item_id() != victim) ++index;

  // Greedy forgery against the unkeyed ranker: each signal set to the value
  // that scores the victim highest.
  v1::RankRequest forged = honest;
  for (int j = 0; j < kNumSignals; ++j) {
    float best_value = forged.candidates(index).signals(j);
    float best_score = -1.0f;
    for (float v : {-50.0f, -5.0f, 0.0f, 1.0f, 5.0f, 50.0f}) {
      forged.mutable_candidates(index)->set_signals(j, v);
      v1::RankResponse r;
      ASSERT_TRUE(ranker_.Rank(b, forged, &r, nullptr).ok());
      if (ScoreOf(r, victim) > best_score) {
        best_score = ScoreOf(r, victim);
        best_value = v;
      }
    }
    forged.mutable_candidates(index)->set_signals(j, best_value);
  }
  v1::RankResponse fooled;
  ASSERT_TRUE(ranker_.Rank(b, forged, &fooled, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUse);
  ASSERT_EQ(fooled.items(0).item_id(), victim) << "the forgery should work without a key";

  v1::RankResponse got;
  ASSERT_TRUE(keyed.Rank(b, forged, &got, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUnauthenticated);
  EXPECT_NE(got.items(0).item_id(), victim);
  EXPECT_EQ(Ids(got), Ids(expected));

  // Re-signed under another key, or sent unsigned: refused the same way.
  v1::RankRequest resigned = forged;
  SignRankSignals("a guessed key, long enough", resigned.candidates(),
                  resigned.mutable_signals());
  ASSERT_TRUE(keyed.Rank(b, resigned, &got, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUnauthenticated);
  EXPECT_EQ(Ids(got), Ids(expected));
  v1::RankRequest bare = forged;
  bare.mutable_signals()->clear_mac();
  ASSERT_TRUE(keyed.Rank(b, bare, &got, &stats).ok());
  EXPECT_EQ(stats.signals_verdict, SignalsVerdict::kUnauthenticated);
  EXPECT_EQ(Ids(got), Ids(expected));
}

}  // namespace
}  // namespace recsys::ranking

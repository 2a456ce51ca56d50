// The ranker and ranking service on the requests they refuse or trim.
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
#include "ranking_service/ranker.h"
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
  for (int source : {0, kNumSources + 1, 99}) {
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

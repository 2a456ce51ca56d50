#include "retrieval_service/requests.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "retrieval_service/item_search.h"
#include "tests/retrieval_service/toy_fixture.h"

namespace recsys::retrieval {
namespace {

using testing::MakeToyRegistry;
using testing::ToyRegistry;

v1::RetrieveRequest WithHistory(std::initializer_list<const char*> ids) {
  v1::RetrieveRequest r;
  int64_t t = 1500000000;
  for (const char* id : ids) {
    v1::HistoryEvent* e = r.mutable_user()->add_history();
    e->set_item_id(id);
    e->set_timestamp_s(t++);
    e->set_weight(1.0f);
  }
  return r;
}

void ExpectInvalid(const absl::Status& s, absl::string_view fragment) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), fragment))
      << "message: " << s.message() << "\nexpected to contain: " << fragment;
}

// A well-formed request (and an empty one: cold start) passes validation.
TEST(ValidateRetrieveTest, AcceptsWellFormedAndEmptyRequests) {
  RequestLimits limits;
  EXPECT_TRUE(ValidateRetrieveRequest(v1::RetrieveRequest(), limits).ok());
  v1::RetrieveRequest r = WithHistory({"m1", "m2"});
  v1::SourceQuota* q = r.add_quotas();
  q->set_source(v1::SOURCE_ALS);
  q->set_k(0);  // disables ALS
  r.add_exclude_item_ids("m3");
  r.set_max_candidates(50);
  EXPECT_TRUE(ValidateRetrieveRequest(r, limits).ok());
}

// Every limit of Retrieve answers INVALID_ARGUMENT with a message naming the field.
TEST(ValidateRetrieveTest, RejectsEachBadFieldWithAMessage) {
  RequestLimits limits;
  limits.max_history = 3;
  limits.max_exclusions = 2;
  limits.max_k = 50;

  ExpectInvalid(ValidateRetrieveRequest(WithHistory({"a", "b", "c", "d"}), limits),
                "user.history has 4 events (at most 3)");
  ExpectInvalid(ValidateRetrieveRequest(WithHistory({"a", ""}), limits),
                "user.history[1]: empty item id");
  ExpectInvalid(ValidateRetrieveRequest(WithHistory({std::string(300, 'x').c_str()}), limits),
                "at most 256");
  v1::RetrieveRequest r = WithHistory({"a"});
  r.mutable_user()->mutable_history(0)->set_weight(std::numeric_limits<float>::quiet_NaN());
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "weight must be finite and >= 0");
  r.mutable_user()->mutable_history(0)->set_weight(-1);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "weight must be finite and >= 0");
  r.mutable_user()->mutable_history(0)->set_weight(std::numeric_limits<float>::infinity());
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "user.history[0] (a): weight");
  r = WithHistory({"a"});
  r.mutable_user()->mutable_history(0)->set_timestamp_s(-5);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "timestamp_s must be in 0..16725225600");
  r = WithHistory({"a"});
  r.mutable_user()->set_as_of_s(-1);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "as_of_s must be in 0..16725225600");

  r = WithHistory({"a"});
  r.add_quotas()->set_k(5);  // SOURCE_UNSPECIFIED
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "quotas[0]: unknown source 0");
  r = WithHistory({"a"});
  r.add_quotas()->set_source(static_cast<v1::Source>(kNumSources + 1));
  ExpectInvalid(ValidateRetrieveRequest(r, limits), absl::StrCat("unknown source ", kNumSources + 1));
  r = WithHistory({"a"});
  r.add_quotas()->set_source(v1::SOURCE_CONTENT);
  r.add_quotas()->set_source(v1::SOURCE_CONTENT);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "quotas[1]: source SOURCE_CONTENT given twice");
  r = WithHistory({"a"});
  v1::SourceQuota* q = r.add_quotas();
  q->set_source(v1::SOURCE_ITEMKNN);
  q->set_k(51);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "k must be in 0..50");
  q->set_k(-1);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "got -1");

  r = WithHistory({"a"});
  for (const char* id : {"x", "y", "z"}) r.add_exclude_item_ids(id);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "exclude_item_ids has 3 ids (at most 2)");
  r = WithHistory({"a"});
  r.add_exclude_item_ids("");
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "exclude_item_ids[0]: empty item id");
  r = WithHistory({"a"});
  r.set_max_candidates(-3);
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "max_candidates must be >= 0");
}

// Category hints: at most 64, each 1..128 bytes, with a message naming the field.
TEST(ValidateRetrieveTest, CategoryHintsAreLimited) {
  RequestLimits limits;
  v1::RetrieveRequest r;
  for (int i = 0; i < 64; ++i) r.mutable_user()->add_categories("Comedy");
  EXPECT_TRUE(ValidateRetrieveRequest(r, limits).ok());
  r.mutable_user()->add_categories("Drama");
  ExpectInvalid(ValidateRetrieveRequest(r, limits),
                "user.categories has 65 category hints (at most 64)");
  r.mutable_user()->clear_categories();
  r.mutable_user()->add_categories("");
  ExpectInvalid(ValidateRetrieveRequest(r, limits),
                "user.categories[0] must be 1..128 bytes, got 0");
  r.mutable_user()->set_categories(0, std::string(129, 'c'));
  ExpectInvalid(ValidateRetrieveRequest(r, limits), "got 129");
}

// Search needs 1..4096 bytes of query, not only white space, and k in
// 1..max_k; SimilarItems a non-empty id.
TEST(ValidateSearchTest, QueryAndKLimits) {
  RequestLimits limits;
  v1::SearchRequest s;
  s.set_k(10);
  ExpectInvalid(ValidateSearchRequest(s, limits), "query must not be empty");
  s.set_query(" \t\r\n ");
  ExpectInvalid(ValidateSearchRequest(s, limits), "query must not be only white space");
  s.set_query(" -- ");  // no word, but not empty: answered (with nothing)
  EXPECT_TRUE(ValidateSearchRequest(s, limits).ok());
  s.set_query(std::string(4097, 'a'));
  ExpectInvalid(ValidateSearchRequest(s, limits), "query of 4097 bytes (at most 4096)");
  s.set_query(std::string(4096, 'a'));
  EXPECT_TRUE(ValidateSearchRequest(s, limits).ok());
  s.set_k(0);
  ExpectInvalid(ValidateSearchRequest(s, limits), "k must be in 1..1000, got 0");
  s.set_k(1001);
  ExpectInvalid(ValidateSearchRequest(s, limits), "got 1001");

  v1::SimilarItemsRequest m;
  m.set_k(5);
  ExpectInvalid(ValidateSimilarItemsRequest(m, limits), "item_id: empty item id");
  m.set_item_id("m1");
  EXPECT_TRUE(ValidateSimilarItemsRequest(m, limits).ok());
  m.set_k(-2);
  ExpectInvalid(ValidateSimilarItemsRequest(m, limits), "k must be in 1..1000, got -2");
}

class ConvertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_requests");
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
  }
  static ToyRegistry* toy_;
  static std::shared_ptr<const ModelBundle>* bundle_;
};

ToyRegistry* ConvertTest::toy_ = nullptr;
std::shared_ptr<const ModelBundle>* ConvertTest::bundle_ = nullptr;

// Category hints become catalogue category indices (ASCII case ignored,
// ascending, distinct); unknown names are counted.
TEST_F(ConvertTest, CategoryHintsResolvedAndUnknownOnesCounted) {
  const ModelBundle& b = **bundle_;
  v1::RetrieveRequest r;
  for (const char* name : {"romance", "Nope", "SciFi", "Romance"}) {
    r.mutable_user()->add_categories(name);
  }
  const ConvertedRetrieve c = ConvertRetrieveRequest(*bundle_, r);
  std::vector<int32_t> expected;
  b.catalogue.category_index.Find("SciFi", &expected);
  b.catalogue.category_index.Find("Romance", &expected);
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_EQ(c.pool.category_hints, expected);
  EXPECT_EQ(c.unknown_categories, 1);
}

// Unknown history ids are dropped and counted; a missing timestamp means "at the request time".
TEST_F(ConvertTest, UnknownHistoryCountedAndMissingTimeIsRequestTime) {
  const ModelBundle& b = **bundle_;
  v1::RetrieveRequest r = WithHistory({"m0", "nope", "m3", "m999"});
  r.mutable_user()->mutable_history(2)->set_timestamp_s(0);
  r.mutable_user()->set_as_of_s(1600000000);
  r.add_exclude_item_ids("m6");
  r.add_exclude_item_ids("unknown-excluded");
  ConvertedRetrieve c = ConvertRetrieveRequest(*bundle_, r);
  EXPECT_EQ(c.unknown_history_items, 2);
  ASSERT_EQ(c.pool.history.size(), 2u);
  EXPECT_EQ(c.pool.history[0].item, *b.catalogue.ids.Find("m0"));
  EXPECT_EQ(c.pool.history[0].timestamp_s, 1500000000);
  EXPECT_EQ(c.pool.history[1].item, *b.catalogue.ids.Find("m3"));
  EXPECT_EQ(c.pool.history[1].timestamp_s, 1600000000);
  EXPECT_EQ(c.pool.as_of_s, 1600000000);
  EXPECT_EQ(c.pool.exclude, std::vector<ItemIndex>{*b.catalogue.ids.Find("m6")});
  EXPECT_EQ(c.pool.bundle, *bundle_);
  EXPECT_EQ(c.pool.deadline, absl::InfiniteFuture());
}

// Request quotas override the bundle's per source; max_candidates 0 means the bundle's pool size.
TEST_F(ConvertTest, QuotasOverrideBundleDefaultsAndMaxPoolDefaults) {
  const ModelBundle& b = **bundle_;
  v1::RetrieveRequest r;
  ConvertedRetrieve c = ConvertRetrieveRequest(*bundle_, r);
  EXPECT_EQ(c.pool.quotas, b.params.quotas);
  EXPECT_EQ(c.pool.max_pool, b.params.max_pool);

  v1::SourceQuota* q = r.add_quotas();
  q->set_source(v1::SOURCE_SEQUENCE);
  q->set_k(0);
  q = r.add_quotas();
  q->set_source(v1::SOURCE_CONTENT);
  q->set_k(7);
  r.set_max_candidates(11);
  c = ConvertRetrieveRequest(*bundle_, r);
  std::array<int, kNumSources> want = b.params.quotas;
  want[static_cast<int>(SourceId::kSequence)] = 0;
  want[static_cast<int>(SourceId::kContent)] = 7;
  EXPECT_EQ(c.pool.quotas, want);
  EXPECT_EQ(c.pool.max_pool, 11);
}

// The response carries external ids, proto Source = SourceId + 1, ranks, skips and timings.
TEST_F(ConvertTest, FillResponseMapsSourcesSkipsAndTimings) {
  const ModelBundle& b = **bundle_;
  PoolResult result;
  PooledCandidate p;
  p.item = *b.catalogue.ids.Find("m9");
  p.score.fill(0.0f);
  p.rank.fill(-1);
  p.score[static_cast<int>(SourceId::kContent)] = 0.5f;
  p.rank[static_cast<int>(SourceId::kContent)] = 0;
  p.score[static_cast<int>(SourceId::kEase)] = 2.0f;
  p.rank[static_cast<int>(SourceId::kEase)] = 3;
  result.pool.push_back(p);
  result.user_state_elapsed = absl::Microseconds(120);
  result.sources[0].ran = true;
  result.sources[0].elapsed = absl::Microseconds(40);
  result.sources[2].skipped = SkipReason::kDeadline;
  result.sources[4].skipped = SkipReason::kError;
  result.sources[4].error = absl::InternalError("boom");
  v1::RetrieveResponse response;
  FillRetrieveResponse(b, result, 3, /*user_fingerprint=*/0, {}, &response);

  ASSERT_EQ(response.candidates_size(), 1);
  const v1::Candidate& c = response.candidates(0);
  EXPECT_EQ(c.item_id(), "m9");
  ASSERT_EQ(c.sources_size(), 2);
  EXPECT_EQ(c.sources(0).source(), v1::SOURCE_CONTENT);
  EXPECT_EQ(c.sources(0).score(), 0.5f);
  EXPECT_EQ(c.sources(0).rank(), 0);
  EXPECT_EQ(c.sources(1).source(), v1::SOURCE_EASE);
  EXPECT_EQ(c.sources(1).rank(), 3);
  ASSERT_EQ(response.skipped_size(), 2);
  EXPECT_EQ(response.skipped(0).source(), v1::SOURCE_ALS);
  EXPECT_EQ(response.skipped(0).reason(), "deadline");
  EXPECT_EQ(response.skipped(1).source(), v1::SOURCE_SEQUENCE);
  EXPECT_EQ(response.skipped(1).reason(), "error: boom");
  EXPECT_EQ(response.model_version(), toy_->version);
  EXPECT_EQ(response.unknown_history_items(), 3);
  ASSERT_EQ(response.timings_size(), 2);
  EXPECT_EQ(response.timings(0).stage(), "user_state");
  EXPECT_EQ(response.timings(0).micros(), 120);
  EXPECT_EQ(response.timings(1).stage(), "content");
  EXPECT_EQ(response.timings(1).micros(), 40);
}

// Search embeds the query like training did; unknown words give no results, not noise.
TEST_F(ConvertTest, SearchUnknownWordsGivesNoResults) {
  v1::SearchRequest r;
  r.set_query("zzzz qqqq");
  r.set_k(5);
  v1::SearchResponse response;
  ASSERT_TRUE(SearchItems(**bundle_, r, &response).ok());
  EXPECT_EQ(response.items_size(), 0);
  EXPECT_EQ(response.model_version(), toy_->version);
}

// SimilarItems never returns the item itself and answers NOT_FOUND for an unknown id.
TEST_F(ConvertTest, SimilarItemsExcludesItselfAndUnknownIsNotFound) {
  v1::SimilarItemsRequest r;
  r.set_item_id("m4");
  r.set_k(10);
  v1::SimilarItemsResponse response;
  ASSERT_TRUE(FindSimilarItems(**bundle_, r, &response).ok());
  EXPECT_EQ(response.content_size(), 10);
  EXPECT_GT(response.collaborative_size(), 0);
  for (const auto& i : response.content()) EXPECT_NE(i.item_id(), "m4");
  for (const auto& i : response.collaborative()) EXPECT_NE(i.item_id(), "m4");
  for (int i = 1; i < response.collaborative_size(); ++i) {
    EXPECT_GE(response.collaborative(i - 1).score(), response.collaborative(i).score());
  }
  r.set_item_id("m4000");
  absl::Status s = FindSimilarItems(**bundle_, r, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "unknown item id m4000");
}

}  // namespace
}  // namespace recsys::retrieval

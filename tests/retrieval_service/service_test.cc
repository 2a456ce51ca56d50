// Integration tests of Retrieve, Search and SimilarItems: a real RetrievalServer
// on a loopback port, a real gRPC channel, a toy bundle.
#include "retrieval_service/service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/features/features.h"
#include "common/server/rank_signals.h"
#include "tests/retrieval_service/service_test_util.h"

namespace recsys::retrieval {
namespace {

namespace fs = std::filesystem;
using testing::Health;
using testing::MakeToyRegistry;
using testing::MetricValue;
using testing::OfflinePool;
using testing::RequestFor;
using testing::RetrievalServiceTest;
using testing::Retrieve;
using testing::Running;
using testing::ScopedLogSeverity;
using testing::SetDeadline;
using testing::StartServer;
using testing::ToyEvent;
using testing::ToyRegistry;
using testing::ToyUserEvents;

// A known user's history gets candidates from all six sources, with per-source ranks 0..n-1,
// none of the history, equal to the offline pool; timings and metrics are recorded.
TEST_F(RetrievalServiceTest, RetrieveKnownUserHasEverySourceWithRanks) {
  Running r = StartServer(*toy_);
  const std::vector<ToyEvent> events = ToyUserEvents(*toy_, "u0");
  ASSERT_GE(events.size(), 3u);
  const v1::RetrieveRequest request = RequestFor(events);
  v1::RetrieveResponse response;
  grpc::Status s = Retrieve(r, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();

  EXPECT_EQ(response.model_version(), toy_->version);
  EXPECT_EQ(response.unknown_history_items(), 0);
  EXPECT_EQ(response.skipped_size(), 0);
  std::set<std::string> history;
  for (const auto& e : request.user().history()) history.insert(e.item_id());
  std::map<v1::Source, std::vector<std::pair<int, float>>> by_source;  // rank, score
  std::set<std::string> ids;
  for (const v1::Candidate& c : response.candidates()) {
    EXPECT_FALSE(history.contains(c.item_id())) << c.item_id() << " is in the history";
    EXPECT_TRUE(ids.insert(c.item_id()).second) << "duplicate " << c.item_id();
    EXPECT_GT(c.sources_size(), 0);
    for (const v1::SourceScore& ss : c.sources())
      by_source[ss.source()].push_back({ss.rank(), ss.score()});
  }
  for (int s = 1; s <= kNumSources; ++s) {
    const v1::Source source = static_cast<v1::Source>(s);
    auto& list = by_source[source];
    ASSERT_FALSE(list.empty()) << v1::Source_Name(source) << " returned nothing";
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < list.size(); ++i) {
      EXPECT_EQ(list[i].first, static_cast<int>(i)) << v1::Source_Name(source);
      if (i > 0) {
        EXPECT_GE(list[i - 1].second, list[i].second) << v1::Source_Name(source);
      }
    }
  }

  // Same pool as the offline evaluator computes on the same bundle.
  auto bundle = ModelBundle::Load(toy_->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  std::vector<Interaction> h;
  for (const auto& e : request.user().history()) {
    h.push_back(Interaction{0, *(*bundle)->catalogue.ids.Find(e.item_id()), e.timestamp_s(), 1});
  }
  const std::vector<PooledCandidate> offline = OfflinePool(**bundle, h, request.user().as_of_s());
  ASSERT_EQ(response.candidates_size(), static_cast<int>(offline.size()));
  for (size_t i = 0; i < offline.size(); ++i) {
    EXPECT_EQ(response.candidates(i).item_id(), (*bundle)->catalogue.ids.Name(offline[i].item));
  }

  std::set<std::string> stages;
  for (const v1::StageTiming& t : response.timings()) stages.insert(t.stage());
  EXPECT_EQ(stages, (std::set<std::string>{"user_state", "content", "itemknn", "als", "trending",
                                           "sequence", "ease", "slist"}));

  const std::string text = r.metrics->SerializeText();
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"Retrieve\"", "grpc_code=\"OK\""}),
            1);
  EXPECT_EQ(MetricValue(text, "grpc_server_handling_seconds_count", {"grpc_method=\"Retrieve\""}),
            1);
  for (const char* source :
       {"content", "itemknn", "als", "trending", "sequence", "ease", "slist"}) {
    const std::string label = absl::StrCat("source=\"", source, "\"");
    EXPECT_EQ(MetricValue(text, "recsys_retrieval_source_seconds_count", {label}), 1) << source;
    EXPECT_EQ(MetricValue(text, "recsys_retrieval_candidates_count", {label}), 1) << source;
    EXPECT_EQ(
        MetricValue(text, "recsys_retrieval_source_skipped_total", {label, "reason=\"deadline\""}),
        0);
  }
}

// Signals only when asked for: then every candidate carries ComputeSignals of
// the request's user state, and the RankSignals context names this model and user.
TEST_F(RetrievalServiceTest, SignalsWhenAskedEqualTheOfflineComputation) {
  Running r = StartServer(*toy_);
  v1::RetrieveRequest request = RequestFor(ToyUserEvents(*toy_, "u0"));
  v1::RetrieveResponse plain;
  ASSERT_TRUE(Retrieve(r, request, &plain).ok());
  EXPECT_FALSE(plain.has_signals());
  for (const v1::Candidate& c : plain.candidates()) EXPECT_EQ(c.signals_size(), 0);

  request.set_with_signals(true);
  v1::RetrieveResponse response;
  ASSERT_TRUE(Retrieve(r, request, &response).ok());
  ASSERT_TRUE(response.has_signals());
  EXPECT_EQ(response.signals().schema(), kSignalsSchema);
  EXPECT_EQ(response.signals().model_version(), toy_->version);
  EXPECT_EQ(response.signals().user_fingerprint(), UserFingerprint(request.user()));
  EXPECT_EQ(CheckRankSignals(response.signals(), toy_->version, request.user()),
            SignalsVerdict::kUse);

  auto bundle = ModelBundle::Load(toy_->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const ModelBundle& b = **bundle;
  std::vector<Interaction> h;
  for (const auto& e : request.user().history()) {
    h.push_back(Interaction{0, *b.catalogue.ids.Find(e.item_id()), e.timestamp_s(), 1});
  }
  const UserState st = BuildUserState(b, h, request.user().as_of_s(), {});
  ASSERT_EQ(response.candidates_size(), plain.candidates_size());
  for (const v1::Candidate& c : response.candidates()) {
    ASSERT_EQ(c.signals_size(), kNumSignals) << c.item_id();
    const CandidateSignals expected = ComputeSignals(b, st, *b.catalogue.ids.Find(c.item_id()));
    for (int j = 0; j < kNumSignals; ++j) {
      EXPECT_EQ(c.signals(j), expected[j]) << c.item_id() << " " << SignalNames()[j];
    }
  }
}

// Unknown history ids are ignored, counted in the response and in the metric.
TEST_F(RetrievalServiceTest, UnknownHistoryItemsAreIgnoredAndCounted) {
  Running r = StartServer(*toy_);
  v1::RetrieveRequest request = RequestFor(ToyUserEvents(*toy_, "u1"));
  for (const char* id : {"no-such-item", "m12345"}) {
    v1::HistoryEvent* e = request.mutable_user()->add_history();
    e->set_item_id(id);
    e->set_timestamp_s(1500000000);
  }
  v1::RetrieveResponse response;
  ASSERT_TRUE(Retrieve(r, request, &response).ok());
  EXPECT_EQ(response.unknown_history_items(), 2);
  EXPECT_GT(response.candidates_size(), 0);
  EXPECT_EQ(MetricValue(r.metrics->SerializeText(), "recsys_retrieval_unknown_history_items_total"),
            2);
}

// No history (or only unknown ids) is a cold start: trending only, nothing reported as skipped.
TEST_F(RetrievalServiceTest, ColdStartReturnsTrendingOnly) {
  Running r = StartServer(*toy_);
  for (bool unknown_only : {false, true}) {
    v1::RetrieveRequest request;
    if (unknown_only) request.mutable_user()->add_history()->set_item_id("never-seen");
    v1::RetrieveResponse response;
    ASSERT_TRUE(Retrieve(r, request, &response).ok());
    ASSERT_EQ(response.candidates_size(), 10);  // the toy bundle's trending quota
    for (int i = 0; i < response.candidates_size(); ++i) {
      const v1::Candidate& c = response.candidates(i);
      ASSERT_EQ(c.sources_size(), 1);
      EXPECT_EQ(c.sources(0).source(), v1::SOURCE_TRENDING);
      EXPECT_EQ(c.sources(0).rank(), i);
    }
    EXPECT_EQ(response.skipped_size(), 0);
    EXPECT_EQ(response.unknown_history_items(), unknown_only ? 1 : 0);
  }
}

// Request quotas override the bundle's per source, exclusions are honoured, max_candidates cuts.
TEST_F(RetrievalServiceTest, QuotasExclusionsAndMaxCandidates) {
  Running r = StartServer(*toy_);
  v1::RetrieveRequest request = RequestFor(ToyUserEvents(*toy_, "u2"));
  v1::RetrieveResponse full;
  ASSERT_TRUE(Retrieve(r, request, &full).ok());
  ASSERT_GT(full.candidates_size(), 5);
  const std::string excluded = full.candidates(0).item_id();

  request.add_exclude_item_ids(excluded);
  request.add_exclude_item_ids("unknown-ids-are-fine");
  v1::SourceQuota* q = request.add_quotas();
  q->set_source(v1::SOURCE_ALS);
  q->set_k(0);
  q = request.add_quotas();
  q->set_source(v1::SOURCE_CONTENT);
  q->set_k(3);
  v1::RetrieveResponse response;
  ASSERT_TRUE(Retrieve(r, request, &response).ok());
  int content = 0;
  for (const v1::Candidate& c : response.candidates()) {
    EXPECT_NE(c.item_id(), excluded);
    for (const v1::SourceScore& s : c.sources()) {
      EXPECT_NE(s.source(), v1::SOURCE_ALS);
      if (s.source() == v1::SOURCE_CONTENT) ++content;
    }
  }
  EXPECT_EQ(content, 3);

  request.set_max_candidates(4);
  ASSERT_TRUE(Retrieve(r, request, &response).ok());
  EXPECT_EQ(response.candidates_size(), 4);
}

// Search("space robots") ranks SciFi items first, with titles and categories from the catalogue.
TEST_F(RetrievalServiceTest, SearchReturnsSciFiFirst) {
  Running r = StartServer(*toy_);
  v1::SearchRequest request;
  request.set_query("space robots");
  request.set_k(10);
  v1::SearchResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = r.stub->Search(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.model_version(), toy_->version);
  ASSERT_EQ(response.items_size(), 10);
  for (int i = 0; i < response.items_size(); ++i) {
    const v1::ScoredItem& item = response.items(i);
    EXPECT_TRUE(absl::StartsWith(item.title(), "Movie ")) << item.title();
    ASSERT_EQ(item.categories_size(), 1) << item.item_id();
    EXPECT_EQ(item.categories(0), "SciFi") << item.item_id() << " at " << i;
    if (i > 0) {
      EXPECT_GE(response.items(i - 1).score(), item.score());
    }
  }
}

// Search finds title words the embedding does not rank ("part 3": the nine
// titles "Movie i, part 3" first, "Movie 3, part 3" with "3" twice at the top)
// and refuses a query of only white space.
TEST_F(RetrievalServiceTest, SearchFindsTitleWordsAndRefusesBlankQueries) {
  Running r = StartServer(*toy_);
  v1::SearchRequest request;
  request.set_query("Part 3");
  request.set_k(12);
  v1::SearchResponse response;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = r.stub->Search(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(response.items_size(), 12);
  EXPECT_EQ(response.items(0).title(), "Movie 3, part 3");
  for (int i = 0; i < 9; ++i) {
    EXPECT_TRUE(absl::EndsWith(response.items(i).title(), ", part 3"))
        << response.items(i).title() << " at " << i;
  }
  request.set_query(" \t ");
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = r.stub->Search(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "query must not be only white space");
}

// SimilarItems returns content and item-kNN neighbours; an unknown id is NOT_FOUND.
TEST_F(RetrievalServiceTest, SimilarItemsAndUnknownIdIsNotFound) {
  Running r = StartServer(*toy_);
  v1::SimilarItemsRequest request;
  request.set_item_id("m1");  // Romance
  request.set_k(5);
  v1::SimilarItemsResponse response;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = r.stub->SimilarItems(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(response.model_version(), toy_->version);
  ASSERT_EQ(response.content_size(), 5);
  for (const v1::ScoredItem& item : response.content()) {
    EXPECT_NE(item.item_id(), "m1");
    ASSERT_EQ(item.categories_size(), 1);
    EXPECT_EQ(item.categories(0), "Romance") << item.item_id();
  }
  ASSERT_GT(response.collaborative_size(), 0);
  EXPECT_LE(response.collaborative_size(), 5);
  for (const v1::ScoredItem& item : response.collaborative()) EXPECT_NE(item.item_id(), "m1");

  request.set_item_id("m999");
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = r.stub->SimilarItems(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "unknown item id m999");
}

// Sources that would start past the request deadline are skipped and reported, not waited for
// (the server's clock is injected to run an hour ahead of the client's deadline).
TEST_F(RetrievalServiceTest, SourcesPastTheDeadlineAreSkippedAndReported) {
  RetrievalServiceOptions service;
  service.clock = [] { return absl::Now() + absl::Hours(1); };
  Running r = StartServer(*toy_, /*poll=*/true, service);
  v1::RetrieveResponse response;
  grpc::Status s = Retrieve(r, RequestFor(ToyUserEvents(*toy_, "u6")), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.candidates_size(), 0);
  ASSERT_EQ(response.skipped_size(), kNumSources);
  for (int i = 0; i < kNumSources; ++i) {
    EXPECT_EQ(response.skipped(i).source(), static_cast<v1::Source>(i + 1));
    EXPECT_EQ(response.skipped(i).reason(), "deadline");
  }
  EXPECT_EQ(response.model_version(), toy_->version);
  EXPECT_EQ(MetricValue(r.metrics->SerializeText(), "recsys_retrieval_source_skipped_total",
                        {"source=\"als\"", "reason=\"deadline\""}),
            1);

  v1::SearchRequest search;
  search.set_query("space");
  search.set_k(3);
  v1::SearchResponse search_response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  EXPECT_EQ(r.stub->Search(&ctx, search, &search_response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}
}  // namespace
}  // namespace recsys::retrieval

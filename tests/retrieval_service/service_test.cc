// Integration tests: a real RetrievalServer on a loopback port (port 0), a real
// gRPC channel, and toy bundles trained and promoted into temp registries.
#include "retrieval_service/service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "common/features/features.h"
#include "common/server/rank_signals.h"
#include "recsys/v1/retrieval.grpc.pb.h"
#include "tests/retrieval_service/toy_fixture.h"

namespace recsys::retrieval {
namespace {

namespace fs = std::filesystem;
using testing::MakeToyRegistry;
using testing::OfflinePool;
using testing::ScopedLogSeverity;
using testing::ToyEvent;
using testing::ToyRegistry;
using testing::ToyUserEvents;

// One server with its metrics, a channel and stubs. Destroyed stubs first, metrics last.
struct Running {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RetrievalServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Retrieval::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

// Starts a server on the registry without a polling thread; `poll` loads the
// production bundle synchronously (PollOnce) before returning.
Running StartServer(const ToyRegistry& toy, bool poll = true,
                    RetrievalServiceOptions service = {}) {
  Running r;
  r.metrics = ServerMetrics::CreateWithoutExposer();
  RetrievalServerOptions o;
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = toy.registry_root;
  o.bundle.model_name = toy.name;
  o.bundle.poll_interval = absl::Hours(1);  // tests poll by hand
  o.service = std::move(service);
  o.start_polling = false;
  absl::StatusOr<std::unique_ptr<RetrievalServer>> server =
      RetrievalServer::Start(std::move(o), r.metrics.get());
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return r;
  r.server = *std::move(server);
  if (poll) {
    absl::Status s = r.server->holder().PollOnce();
    EXPECT_TRUE(s.ok()) << s;
  }
  r.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", r.server->port()),
                                  grpc::InsecureChannelCredentials());
  r.stub = v1::Retrieval::NewStub(r.channel);
  r.health = grpc::health::v1::Health::NewStub(r.channel);
  return r;
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
}

grpc::Status Retrieve(Running& r, const v1::RetrieveRequest& request,
                      v1::RetrieveResponse* response) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return r.stub->Retrieve(&ctx, request, response);
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(Running& r,
                                                            const std::string& service) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = r.health->Check(&ctx, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.status();
}

// The request for a toy user's leave-last-out test case: every event before the
// last one, as of the last one's time.
v1::RetrieveRequest RequestFor(const std::vector<ToyEvent>& events) {
  v1::RetrieveRequest r;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    v1::HistoryEvent* e = r.mutable_user()->add_history();
    e->set_item_id(events[i].item_id);
    e->set_timestamp_s(events[i].timestamp_s);
    e->set_weight(1.0f);
  }
  r.mutable_user()->set_as_of_s(events.back().timestamp_s);
  return r;
}

// The value of the series `name{...}` whose labels include every `k="v"` in
// `labels`; -1 if absent.
double MetricValue(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;
    bool all = true;
    for (const std::string& l : labels) all = all && absl::StrContains(rest, l);
    if (!all) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return v;
  }
  return -1;
}

class RetrievalServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_service");
    ASSERT_TRUE(toy.ok()) << toy.status();
    toy_ = new ToyRegistry(*toy);
  }
  static void TearDownTestSuite() {
    if (toy_ != nullptr) fs::remove_all(toy_->root);
    delete toy_;
    toy_ = nullptr;
  }
  static ToyRegistry* toy_;
};

ToyRegistry* RetrievalServiceTest::toy_ = nullptr;

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
                                           "sequence", "ease"}));

  const std::string text = r.metrics->SerializeText();
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"Retrieve\"", "grpc_code=\"OK\""}),
            1);
  EXPECT_EQ(MetricValue(text, "grpc_server_handling_seconds_count", {"grpc_method=\"Retrieve\""}),
            1);
  for (const char* source : {"content", "itemknn", "als", "trending", "sequence", "ease"}) {
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

// Health is NOT_SERVING and calls are UNAVAILABLE until the first bundle loads, then SERVING.
TEST_F(RetrievalServiceTest, HealthNotServingUntilFirstBundleThenServing) {
  using grpc::health::v1::HealthCheckResponse;
  Running r = StartServer(*toy_, /*poll=*/false);
  EXPECT_EQ(Health(r, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(r, kRetrievalServiceName), HealthCheckResponse::NOT_SERVING);
  v1::RetrieveResponse response;
  grpc::Status s = Retrieve(r, v1::RetrieveRequest(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "no model bundle loaded yet");
  v1::SearchRequest search;
  search.set_query("space");
  search.set_k(3);
  v1::SearchResponse search_response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  EXPECT_EQ(r.stub->Search(&ctx, search, &search_response).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(r.server->holder().PollOnce().ok());
  EXPECT_EQ(Health(r, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(r, kRetrievalServiceName), HealthCheckResponse::SERVING);
  EXPECT_TRUE(Retrieve(r, v1::RetrieveRequest(), &response).ok());
  EXPECT_EQ(response.model_version(), toy_->version);
}

// A version promoted during a stream of Retrieve calls is picked up with no failed call.
TEST_F(RetrievalServiceTest, HotSwapDuringRequestStreamHasNoFailedCall) {
  absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_hotswap");
  ASSERT_TRUE(toy.ok()) << toy.status();
  Running r = StartServer(*toy);
  const v1::RetrieveRequest request = RequestFor(ToyUserEvents(*toy, "u4"));

  constexpr int kThreads = 3;
  std::atomic<int> calls{0}, failures{0};
  std::atomic<bool> swapped{false};
  absl::Notification warmed_up;
  std::vector<std::set<std::string>> seen(kThreads);
  std::vector<std::string> last(kThreads);
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      // Runs until the swap is done and this client has been served by the new
      // version (bounded, in case the swap never shows).
      for (int i = 0; i < 20000; ++i) {
        v1::RetrieveResponse response;
        grpc::Status s = Retrieve(r, request, &response);
        if (!s.ok() || response.candidates_size() == 0) {
          failures.fetch_add(1);
        } else {
          seen[t].insert(response.model_version());
          last[t] = response.model_version();
        }
        if (calls.fetch_add(1) + 1 == 30) warmed_up.Notify();
        if (swapped.load() && last[t] != toy->version) break;
      }
    });
  }
  warmed_up.WaitForNotification();
  absl::StatusOr<offline::TrainResult> v2 = testing::TrainAnotherToyVersion(*toy);
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_NE(v2->version, toy->version);
  ASSERT_TRUE(Registry(toy->registry_root, toy->name).Promote(v2->version, /*force=*/true).ok());
  const int before_swap = calls.load();
  ASSERT_TRUE(r.server->holder().PollOnce().ok());  // while the clients keep calling
  swapped.store(true);
  for (std::thread& c : clients) c.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(before_swap, 0);
  EXPECT_EQ(r.server->holder().version(), v2->version);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(seen[t].contains(toy->version)) << "client " << t;
    EXPECT_EQ(last[t], v2->version) << "client " << t;
  }
  const std::string text = r.metrics->SerializeText();
  EXPECT_EQ(
      MetricValue(text, "recsys_bundle_info", {absl::StrCat("version=\"", v2->version, "\"")}), 1);
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"Retrieve\"", "grpc_code=\"OK\""}),
            calls.load());
  fs::remove_all(toy->root);
}

// A promoted version with a flipped byte is refused and the old version keeps serving.
TEST_F(RetrievalServiceTest, BrokenBundleIsRefusedOldKeepsServing) {
  absl::StatusOr<ToyRegistry> toy = MakeToyRegistry("retrieval_broken");
  ASSERT_TRUE(toy.ok()) << toy.status();
  Running r = StartServer(*toy);
  absl::StatusOr<offline::TrainResult> v2 = testing::TrainAnotherToyVersion(*toy);
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_TRUE(Registry(toy->registry_root, toy->name).Promote(v2->version, /*force=*/true).ok());
  // Corrupt the promoted bundle after promotion (bit rot, a bad copy).
  std::string victim;
  for (const auto& entry : fs::directory_iterator(v2->bundle_dir)) {
    if (entry.path().extension() == ".arr" && entry.file_size() > 64) {
      victim = entry.path().string();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    f.seekp(40);
    f.write(&byte, 1);
  }
  {
    ScopedLogSeverity quiet(LogSeverity::kFatal);  // the refusal logs an ERROR on purpose
    absl::Status s = r.server->holder().PollOnce();
    EXPECT_FALSE(s.ok());
  }
  EXPECT_EQ(r.server->holder().version(), toy->version);
  v1::RetrieveResponse response;
  grpc::Status s = Retrieve(r, RequestFor(ToyUserEvents(*toy, "u5")), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.model_version(), toy->version);
  EXPECT_GT(response.candidates_size(), 0);
  EXPECT_EQ(Health(r, kRetrievalServiceName), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(
      MetricValue(r.metrics->SerializeText(), "recsys_bundle_loads_total", {"result=\"error\""}),
      1);
  fs::remove_all(toy->root);
}

// Bad inputs answer INVALID_ARGUMENT with a message naming the problem.
TEST_F(RetrievalServiceTest, BadInputsAreInvalidArgumentWithMessages) {
  Running r = StartServer(*toy_);
  auto expect_invalid = [](const grpc::Status& s, const std::string& fragment) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), fragment))
        << "message: " << s.error_message() << "\nexpected: " << fragment;
  };
  v1::RetrieveResponse response;
  {
    v1::RetrieveRequest request;
    for (int i = 0; i < 1001; ++i) {
      v1::HistoryEvent* e = request.mutable_user()->add_history();
      e->set_item_id("m1");
      e->set_timestamp_s(1500000000 + i);
    }
    expect_invalid(Retrieve(r, request, &response), "user.history has 1001 events (at most 1000)");
  }
  {
    v1::RetrieveRequest request;
    request.mutable_user()->add_history()->set_item_id("m1");
    request.mutable_user()->add_history();
    expect_invalid(Retrieve(r, request, &response), "user.history[1]: empty item id");
  }
  {
    v1::RetrieveRequest request;
    v1::HistoryEvent* e = request.mutable_user()->add_history();
    e->set_item_id("m1");
    e->set_weight(-2);
    expect_invalid(Retrieve(r, request, &response), "weight must be finite and >= 0, got -2");
    e->set_weight(std::numeric_limits<float>::quiet_NaN());
    expect_invalid(Retrieve(r, request, &response), "weight must be finite and >= 0");
  }
  {
    v1::RetrieveRequest request;
    for (int i = 0; i < 10001; ++i) request.add_exclude_item_ids(absl::StrCat("m", i));
    expect_invalid(Retrieve(r, request, &response),
                   "exclude_item_ids has 10001 ids (at most 10000)");
  }
  {
    v1::RetrieveRequest request;
    v1::SourceQuota* q = request.add_quotas();
    q->set_source(v1::SOURCE_TRENDING);
    q->set_k(1001);
    expect_invalid(Retrieve(r, request, &response), "k must be in 0..1000");
  }
  v1::SearchResponse search_response;
  for (const auto& [query, k, fragment] : std::vector<std::tuple<std::string, int, std::string>>{
           {"", 5, "query must not be empty"},
           {std::string(4097, 'q'), 5, "query of 4097 bytes (at most 4096)"},
           {"space", 0, "k must be in 1..1000, got 0"},
           {"space", 1001, "k must be in 1..1000, got 1001"}}) {
    v1::SearchRequest request;
    request.set_query(query);
    request.set_k(k);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    expect_invalid(r.stub->Search(&ctx, request, &search_response), fragment);
  }
  v1::SimilarItemsResponse similar_response;
  for (const auto& [id, k, fragment] : std::vector<std::tuple<std::string, int, std::string>>{
           {"", 5, "item_id: empty item id"}, {"m1", -1, "k must be in 1..1000, got -1"}}) {
    v1::SimilarItemsRequest request;
    request.set_item_id(id);
    request.set_k(k);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    expect_invalid(r.stub->SimilarItems(&ctx, request, &similar_response), fragment);
  }
  const std::string text = r.metrics->SerializeText();
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"Retrieve\"", "grpc_code=\"INVALID_ARGUMENT\""}),
            6);
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"Search\"", "grpc_code=\"INVALID_ARGUMENT\""}),
            4);
  EXPECT_EQ(MetricValue(text, "grpc_server_handled_total",
                        {"grpc_method=\"SimilarItems\"", "grpc_code=\"INVALID_ARGUMENT\""}),
            2);
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

// Every rung of the Recommend fallback ladder, in process: fake Retrieval and
// Ranking services on a gRPC server reached through its in-process channel (no
// ports), a dead unix-socket channel for a backend that is down, and a frozen
// ladder clock. A slow backend holds its call until the test releases it, so
// "too slow" is a downstream deadline firing, never a sleep.
#include "gateway/recommend_ladder.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "common/server/metrics.h"
#include "grpcpp/grpcpp.h"

namespace recsys::gateway {
namespace {

// A fake backend's behaviour for its next calls.
class FakeBackend {
 public:
  void Answer() { Set(Behaviour::kAnswer, grpc::Status::OK); }
  void Fail(grpc::StatusCode code, const std::string& message) {
    Set(Behaviour::kFail, grpc::Status(code, message));
  }
  // Calls are neither answered nor failed until ReleaseHeld.
  void Hold() { Set(Behaviour::kHold, grpc::Status::OK); }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Finishes every held call (CANCELLED; its caller has long given up).
  void ReleaseHeld() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (grpc::ServerUnaryReactor* r : held) {
      r->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "released by the test"));
    }
  }

 protected:
  // `record` runs for every call, `fill` writes the answer; both under the lock.
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx,
                                   const std::function<void()>& record,
                                   const std::function<void()>& fill) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::MutexLock lock(&mu_);
    ++calls_;
    record();
    switch (behaviour_) {
      case Behaviour::kAnswer:
        fill();
        reactor->Finish(grpc::Status::OK);
        break;
      case Behaviour::kFail:
        reactor->Finish(status_);
        break;
      case Behaviour::kHold:
        held_.push_back(reactor);
        break;
    }
    return reactor;
  }

 private:
  enum class Behaviour { kAnswer, kFail, kHold };
  void Set(Behaviour b, grpc::Status s) {
    absl::MutexLock lock(&mu_);
    behaviour_ = b;
    status_ = std::move(s);
  }

  mutable absl::Mutex mu_;
  Behaviour behaviour_ = Behaviour::kAnswer;
  grpc::Status status_;
  int calls_ = 0;
  std::vector<grpc::ServerUnaryReactor*> held_;
};

class FakeRetrieval final : public v1::Retrieval::CallbackService, public FakeBackend {
 public:
  // Set before the calls.
  v1::RetrieveResponse answer;
  v1::RetrieveRequest last;

  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* ctx,
                                     const v1::RetrieveRequest* request,
                                     v1::RetrieveResponse* response) override {
    return Handle(ctx, [&] { last = *request; }, [&] { *response = answer; });
  }
};

class FakeRanking final : public v1::Ranking::CallbackService, public FakeBackend {
 public:
  v1::RankResponse answer;
  v1::RankRequest last;

  grpc::ServerUnaryReactor* Rank(grpc::CallbackServerContext* ctx, const v1::RankRequest* request,
                                 v1::RankResponse* response) override {
    return Handle(ctx, [&] { last = *request; }, [&] { *response = answer; });
  }
};

// A channel to nothing: every call fails UNAVAILABLE at once (connection refused).
std::shared_ptr<grpc::Channel> DeadChannel() {
  return grpc::CreateChannel("unix:/nonexistent-recsys-test-dir/backend.sock",
                             grpc::InsecureChannelCredentials());
}

// Twelve items m0..m11, titled "Title i", in category A (even i) or B (odd i);
// item i has 12 - i training events at one time, so trending is m0, m1, m2, ...
std::shared_ptr<const ModelBundle> TestBundle() {
  auto bundle = std::make_shared<ModelBundle>();
  bundle->manifest.set_name("toy");
  bundle->manifest.set_version("v1");
  Catalogue& c = bundle->catalogue;
  c.category_names = {"A", "B"};
  std::vector<Interaction> events;
  for (int i = 0; i < 12; ++i) {
    c.ids.GetOrAdd(absl::StrCat("m", i));
    c.titles.push_back(absl::StrCat("Title ", i));
    c.categories.push_back({i % 2});
    c.release_time_s.push_back(0);
    c.popularity.push_back(static_cast<float>(12 - i));
    for (int n = 0; n < 12 - i; ++n) events.push_back(Interaction{0, i, 1700000000, 1.0f});
  }
  c.popularity_total = 78;  // 12 + 11 + ... + 1
  c.IndexCategories();
  bundle->trending = TrendingModel(events, 12, /*half_life_s=*/86400.0);
  return bundle;
}

// Histories in memory; Append is not used by the ladder.
class MemoryUserStore : public UserStore {
 public:
  std::map<std::string, std::vector<UserEvent>> users;

  std::vector<UserEvent> History(absl::string_view user_id, size_t max_events) const override {
    auto it = users.find(std::string(user_id));
    if (it == users.end()) return {};
    const std::vector<UserEvent>& all = it->second;
    const size_t n = std::min(max_events, all.size());
    return std::vector<UserEvent>(all.end() - static_cast<ptrdiff_t>(n), all.end());
  }
  absl::StatusOr<uint64_t> Append(absl::string_view, UserEvent) override {
    return absl::UnimplementedError("not in this test");
  }
  int64_t num_users() const override { return static_cast<int64_t>(users.size()); }
  UserStoreStats stats() const override { return {}; }
  void SeedFrom(const ModelBundle&) override {}
};

std::vector<std::string> Ids(const v1::RecommendResponse& r) {
  std::vector<std::string> ids;
  for (const v1::ScoredItem& item : r.items()) ids.push_back(item.item_id());
  return ids;
}

using Strings = std::vector<std::string>;

class RecommendLadderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&retrieval_);
    builder.RegisterService(&ranking_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    metrics_ = ServerMetrics::CreateWithoutExposer();
    gateway_metrics_ = std::make_unique<GatewayMetrics>(metrics_.get());
    now_ = absl::Now();
    // alice has seen m0 and m11; nobody has no history.
    store_.users["alice"] = {UserEvent{"m0", 100, 1.0f, "train"},
                             UserEvent{"m11", 200, 1.0f, "click"}};
    for (const char* id : {"m3", "m5", "m7", "m9"}) retrieval_.answer.add_candidates()->set_item_id(id);
    retrieval_.answer.set_model_version("v1");
    for (const auto& [id, score] : std::vector<std::pair<std::string, float>>{
             {"m7", 0.9f}, {"m3", 0.4f}, {"not-in-catalogue", 0.2f}}) {
      v1::ScoredItem* item = ranking_.answer.add_items();
      item->set_item_id(id);
      item->set_score(score);
    }
    ranking_.answer.set_model_version("v1");
  }

  void TearDown() override {
    retrieval_.ReleaseHeld();
    ranking_.ReleaseHeld();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  std::shared_ptr<grpc::Channel> InProcess() {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }

  // A ladder over the given channels whose clock stays at now_.
  std::unique_ptr<RecommendLadder> Ladder(std::shared_ptr<grpc::ChannelInterface> retrieval,
                                          std::shared_ptr<grpc::ChannelInterface> ranking,
                                          ResponseCache* cache = nullptr, int max_history = 1000) {
    RecommendLadderOptions o;
    o.max_history = max_history;
    const absl::Time now = now_;
    o.clock = [now] { return now; };
    return std::make_unique<RecommendLadder>(o, std::move(retrieval), std::move(ranking), &store_,
                                             cache, gateway_metrics_.get());
  }
  std::unique_ptr<RecommendLadder> InProcessLadder(ResponseCache* cache = nullptr) {
    return Ladder(InProcess(), InProcess(), cache);
  }

  // Deadlines after now_ for the two stages (real time: gRPC enforces them).
  StageDeadlines Deadlines(absl::Duration retrieval = absl::Seconds(30),
                           absl::Duration ranking = absl::Seconds(60)) const {
    return StageDeadlines{now_ + ranking + absl::Seconds(1), now_ + retrieval, now_ + ranking};
  }

  static v1::RecommendRequest Request(const std::string& user, int k = 3) {
    v1::RecommendRequest r;
    r.set_user_id(user);
    r.set_k(k);
    return r;
  }

  // Runs one call to completion and waits until the call is released too (its
  // `done` is destroyed after its downstream contexts). gRPC 1.51 must not see
  // a channel's last reference dropped on its callback thread, so the channels
  // are released here, on the test's thread, with the ladder.
  v1::RecommendResponse Run(RecommendLadder& ladder, const v1::RecommendRequest& request,
                            const StageDeadlines& deadlines) {
    v1::RecommendResponse response;
    auto done = std::make_shared<absl::Notification>();
    auto released = std::make_shared<absl::Notification>();
    std::shared_ptr<void> on_release(nullptr, [released](void*) { released->Notify(); });
    ladder.Run(&request, &response, bundle_, deadlines, nullptr,
               [done, on_release = std::move(on_release)] { done->Notify(); });
    EXPECT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(60))) << "call never finished";
    EXPECT_TRUE(released->WaitForNotificationWithTimeout(absl::Seconds(60)))
        << "call never released";
    return response;
  }
  v1::RecommendResponse Run(RecommendLadder& ladder, const std::string& user) {
    return Run(ladder, Request(user), Deadlines());
  }

  bool Exposes(const std::string& line) const {
    return absl::StrContains(metrics_->SerializeText(), line);
  }
  // Every degraded series (all exist from start-up) is still 0.
  bool NoDegradedAnswers() const {
    for (absl::string_view line : absl::StrSplit(metrics_->SerializeText(), '\n')) {
      if (absl::StartsWith(line, "recsys_gateway_degraded_total{") &&
          !absl::EndsWith(line, "} 0")) {
        return false;
      }
    }
    return true;
  }
  void ExpectDegradedCount(const std::string& reason, int n) const {
    EXPECT_TRUE(Exposes(absl::StrCat("recsys_gateway_degraded_total{reason=\"", reason, "\"} ", n)))
        << metrics_->SerializeText();
  }
  void ExpectAnswerCount(const std::string& path, int n) const {
    EXPECT_TRUE(Exposes(absl::StrCat("recsys_gateway_answers_total{path=\"", path, "\"} ", n)))
        << metrics_->SerializeText();
  }

  FakeRetrieval retrieval_;
  FakeRanking ranking_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<GatewayMetrics> gateway_metrics_;
  MemoryUserStore store_;
  const std::shared_ptr<const ModelBundle> bundle_ = TestBundle();
  absl::Time now_;
};

// A served list reaches the list and exposure metrics: the full path's two
// catalogue items (m7, m3; the unknown id is left out) and a cold start's
// trending list. This bundle has no content embeddings: no diversity.
TEST_F(RecommendLadderTest, ServedListsReachTheListMetrics) {
  auto ladder = InProcessLadder();
  EXPECT_EQ(Run(*ladder, "alice").path(), v1::PATH_FULL);
  EXPECT_EQ(Run(*ladder, "nobody").path(), v1::PATH_COLD_START);
  EXPECT_TRUE(Exposes("recsys_gateway_list_novelty_count{path=\"full\"} 1\n"))
      << metrics_->SerializeText();
  EXPECT_TRUE(Exposes("recsys_gateway_list_novelty_count{path=\"cold_start\"} 1\n"));
  EXPECT_TRUE(Exposes("recsys_gateway_list_diversity_count{path=\"full\"} 0\n"));
  // m7 (5 of 78 events) and m3 (9 of 78): mean -log2 p.
  const double novelty = (std::log2(78.0 / 5) + std::log2(78.0 / 9)) / 2;
  const std::string text = metrics_->SerializeText();
  // 2 + 3 slots, the later ones weighing a hair more (decay runs on real time).
  const std::string slots = "\nrecsys_gateway_exposure_slots ";
  ASSERT_NE(text.find(slots), std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(text.find(slots) + slots.size())), 5.0, 1e-3);
  const std::string sum = "recsys_gateway_list_novelty_sum{path=\"full\"} ";
  const size_t at = text.find(sum);
  ASSERT_NE(at, std::string::npos);
  EXPECT_NEAR(std::stod(text.substr(at + sum.size())), novelty, 1e-9);
}

// Both stages answer: the ranker's order with catalogue details, not degraded;
// with debug, the stage timings and backend versions too.
TEST_F(RecommendLadderTest, FullPathServesTheRankedOrder) {
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_FULL);
  EXPECT_FALSE(r.degraded());
  EXPECT_EQ(r.model_version(), "v1");
  EXPECT_EQ(Ids(r), (Strings{"m7", "m3", "not-in-catalogue"}));
  EXPECT_EQ(r.items(0).title(), "Title 7");
  EXPECT_EQ(r.items(0).categories(0), "B");
  EXPECT_FLOAT_EQ(r.items(0).score(), 0.9f);
  EXPECT_FLOAT_EQ(r.items(2).score(), 0.2f);
  EXPECT_TRUE(r.notes().empty());
  EXPECT_EQ(retrieval_.calls(), 1);
  EXPECT_EQ(ranking_.calls(), 1);
  ExpectAnswerCount("full", 1);
  EXPECT_TRUE(NoDegradedAnswers()) << metrics_->SerializeText();
  EXPECT_EQ(ladder->backend_versions().retrieval, "v1");
  EXPECT_EQ(ladder->backend_versions().ranking, "v1");

  // debug: per-stage timings and the backends' model versions in the answer.
  v1::RecommendRequest debug = Request("alice");
  debug.set_debug(true);
  const v1::RecommendResponse d = Run(*ladder, debug, Deadlines());
  ASSERT_FALSE(d.timings().empty());
  EXPECT_EQ(d.timings(d.timings_size() - 1).stage(), "total");
  EXPECT_EQ(std::vector<std::string>(d.notes().begin(), d.notes().end()),
            (Strings{"retrieval model v1", "ranking model v1"}));
}

// What goes downstream: stored then extra history (the most recent max_history),
// exclusions, signals asked of retrieval; the pool, k and exclusions to ranking.
TEST_F(RecommendLadderTest, DownstreamRequestsCarryTheUserContext) {
  auto ladder = Ladder(InProcess(), InProcess(), nullptr, /*max_history=*/2);
  v1::RecommendRequest request = Request("alice");
  request.add_exclude_item_ids("m5");
  request.set_as_of_s(1700000000);
  v1::HistoryEvent* extra = request.add_extra_history();
  extra->set_item_id("m4");
  extra->set_timestamp_s(300);
  ASSERT_EQ(Run(*ladder, request, Deadlines()).path(), v1::PATH_FULL);
  const v1::RetrieveRequest& sent = retrieval_.last;
  EXPECT_EQ(sent.user().user_id(), "alice");
  EXPECT_EQ(sent.user().as_of_s(), 1700000000);
  ASSERT_EQ(sent.user().history_size(), 2);
  EXPECT_EQ(sent.user().history(0).item_id(), "m11");
  EXPECT_EQ(sent.user().history(1).item_id(), "m4");
  EXPECT_TRUE(sent.with_signals());
  ASSERT_EQ(sent.exclude_item_ids_size(), 1);
  EXPECT_EQ(sent.exclude_item_ids(0), "m5");
  const v1::RankRequest& ranked = ranking_.last;
  EXPECT_EQ(ranked.k(), 3);
  EXPECT_EQ(ranked.candidates_size(), 4);
  EXPECT_EQ(ranked.user().history_size(), 2);
  ASSERT_EQ(ranked.exclude_item_ids_size(), 1);

  // ignore_stored_history: only the request's own events.
  request.set_ignore_stored_history(true);
  ASSERT_EQ(Run(*ladder, request, Deadlines()).path(), v1::PATH_FULL);
  ASSERT_EQ(retrieval_.last.user().history_size(), 1);
  EXPECT_EQ(retrieval_.last.user().history(0).item_id(), "m4");
}

// Ranking fails: the pool in retrieval order, degraded "ranking:<code>".
TEST_F(RecommendLadderTest, RankingErrorServesRetrievalOrder) {
  ranking_.Fail(grpc::StatusCode::INTERNAL, "ranker broke");
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m3", "m5", "m7"}));
  EXPECT_FLOAT_EQ(r.items(0).score(), 1.0f);
  EXPECT_FLOAT_EQ(r.items(1).score(), 0.5f);
  EXPECT_EQ(r.items(0).title(), "Title 3");
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0), "ranking failed: ranking:INTERNAL ranker broke");
  ExpectAnswerCount("retrieval_only", 1);
  ExpectDegradedCount("ranking:INTERNAL", 1);
}

// Ranking down (connection refused): retrieval order, "ranking:UNAVAILABLE".
TEST_F(RecommendLadderTest, RankingDownServesRetrievalOrder) {
  auto ladder = Ladder(InProcess(), DeadChannel());
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m3", "m5", "m7"}));
  ExpectDegradedCount("ranking:UNAVAILABLE", 1);
}

// Ranking slower than its deadline: the deadline fires, retrieval order is served.
TEST_F(RecommendLadderTest, RankingTooSlowServesRetrievalOrder) {
  ranking_.Hold();
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r =
      Run(*ladder, Request("alice"), Deadlines(absl::Seconds(30), absl::Milliseconds(200)));
  EXPECT_EQ(r.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m3", "m5", "m7"}));
  ExpectDegradedCount("ranking:DEADLINE_EXCEEDED", 1);
}

// Retrieval used up the ranking stage's time: ranking is not started at all.
TEST_F(RecommendLadderTest, SpentBudgetSkipsRanking) {
  auto ladder = InProcessLadder();
  StageDeadlines d = Deadlines();
  d.ranking = now_ + absl::Microseconds(500);  // below min_ranking_time (1 ms) at now_
  const v1::RecommendResponse r = Run(*ladder, Request("alice"), d);
  EXPECT_EQ(r.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m3", "m5", "m7"}));
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0), "ranking skipped: budget spent by retrieval");
  EXPECT_EQ(ranking_.calls(), 0);
  ExpectDegradedCount("ranking:BUDGET", 1);
}

// Retrieval fails: the gateway's trending minus the history, "retrieval:<code>".
TEST_F(RecommendLadderTest, RetrievalErrorServesTrending) {
  retrieval_.Fail(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m1", "m2", "m3"}));  // m0 is in alice's history
  EXPECT_EQ(r.items(0).title(), "Title 1");
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0), "retrieval failed: retrieval:RESOURCE_EXHAUSTED queue full");
  EXPECT_EQ(ranking_.calls(), 0);
  ExpectAnswerCount("trending_fallback", 1);
  ExpectDegradedCount("retrieval:RESOURCE_EXHAUSTED", 1);
}

// Retrieval answers no candidates: trending, "retrieval:EMPTY".
TEST_F(RecommendLadderTest, EmptyPoolServesTrending) {
  retrieval_.answer.clear_candidates();
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_EQ(Ids(r), (Strings{"m1", "m2", "m3"}));
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_EQ(r.notes(0), "retrieval returned no candidates");
  EXPECT_EQ(ranking_.calls(), 0);
  ExpectDegradedCount("retrieval:EMPTY", 1);
}

// Retrieval down: trending, "retrieval:UNAVAILABLE"; ranking is never asked.
TEST_F(RecommendLadderTest, RetrievalDownServesTrending) {
  auto ladder = Ladder(DeadChannel(), InProcess());
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m1", "m2", "m3"}));
  EXPECT_EQ(ranking_.calls(), 0);
  ExpectDegradedCount("retrieval:UNAVAILABLE", 1);
}

// Retrieval slower than its share of the budget: trending, "retrieval:DEADLINE_EXCEEDED".
TEST_F(RecommendLadderTest, RetrievalTooSlowServesTrending) {
  retrieval_.Hold();
  auto ladder = InProcessLadder();
  const v1::RecommendResponse r =
      Run(*ladder, Request("alice"), Deadlines(absl::Milliseconds(200), absl::Seconds(60)));
  EXPECT_EQ(r.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m1", "m2", "m3"}));
  EXPECT_EQ(ranking_.calls(), 0);
  ExpectDegradedCount("retrieval:DEADLINE_EXCEEDED", 1);
}

// Both backends down: still an answer, from trending.
TEST_F(RecommendLadderTest, BothDownServesTrending) {
  auto ladder = Ladder(DeadChannel(), DeadChannel());
  const v1::RecommendResponse r = Run(*ladder, "alice");
  EXPECT_EQ(r.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_TRUE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m1", "m2", "m3"}));
  EXPECT_EQ(r.model_version(), "v1");
  ExpectAnswerCount("trending_fallback", 1);
  ExpectDegradedCount("retrieval:UNAVAILABLE", 1);
}

// No history: trending at once (category hints first), not degraded, no backend
// call; a user the store does not know is noted (not when stored history is ignored).
TEST_F(RecommendLadderTest, ColdStartServesTrendingWithoutBackends) {
  auto ladder = Ladder(DeadChannel(), DeadChannel());
  v1::RecommendResponse r = Run(*ladder, "nobody");
  EXPECT_EQ(r.path(), v1::PATH_COLD_START);
  EXPECT_FALSE(r.degraded());
  EXPECT_EQ(Ids(r), (Strings{"m0", "m1", "m2"}));
  EXPECT_EQ(std::vector<std::string>(r.notes().begin(), r.notes().end()),
            (Strings{kUnknownUserNote}));
  v1::RecommendRequest ignoring = Request("nobody");
  ignoring.set_ignore_stored_history(true);
  EXPECT_TRUE(Run(*ladder, ignoring, Deadlines()).notes().empty());

  v1::RecommendRequest hinted = Request("nobody");
  hinted.add_context_categories("B");
  hinted.add_exclude_item_ids("m3");
  r = Run(*ladder, hinted, Deadlines());
  EXPECT_EQ(r.path(), v1::PATH_COLD_START);
  EXPECT_EQ(Ids(r), (Strings{"m1", "m5", "m7"}));
  ExpectAnswerCount("cold_start", 3);
  EXPECT_TRUE(NoDegradedAnswers()) << metrics_->SerializeText();
  EXPECT_EQ(retrieval_.calls(), 0);
}

// A complete answer is cached: the same call again is answered without the
// backends. Degraded answers are not cached.
TEST_F(RecommendLadderTest, CompleteAnswersAreCachedDegradedOnesNot) {
  ResponseCache cache(ResponseCacheOptions{});
  auto ladder = InProcessLadder(&cache);
  const v1::RecommendResponse first = Run(*ladder, "alice");
  ASSERT_EQ(first.path(), v1::PATH_FULL);
  const v1::RecommendResponse again = Run(*ladder, "alice");
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(retrieval_.calls(), 1);
  EXPECT_TRUE(Exposes("recsys_gateway_cache_lookups_total{result=\"hit\"} 1"));
  EXPECT_TRUE(Exposes("recsys_gateway_cache_lookups_total{result=\"miss\"} 1"));

  store_.users["bob"] = {UserEvent{"m2", 100, 1.0f, "train"}};
  ranking_.Fail(grpc::StatusCode::UNAVAILABLE, "down");
  EXPECT_EQ(Run(*ladder, "bob").path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_EQ(Run(*ladder, "bob").path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_EQ(retrieval_.calls(), 3);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace recsys::gateway

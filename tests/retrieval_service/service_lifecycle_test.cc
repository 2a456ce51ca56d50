// Integration tests of the retrieval server's lifecycle and edges: health before
// the first bundle, hot swap under load, a refused broken bundle, bad input.
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
#include "retrieval_service/service.h"
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
    for (int i = 0; i < 5001; ++i) {
      v1::HistoryEvent* e = request.mutable_user()->add_history();
      e->set_item_id("m1");
      e->set_timestamp_s(1500000000 + i);
    }
    expect_invalid(Retrieve(r, request, &response), "user.history: more than 5000 entries");
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
                   "exclude_item_ids: more than 10000 entries");
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

}  // namespace
}  // namespace recsys::retrieval

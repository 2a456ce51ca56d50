#include "gateway/gateway_metrics.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "common/eval/list_metrics.h"
#include "common/log.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

// A store whose figures are fixed (or set by the test).
class FixedStatsStore : public UserStore {
 public:
  FixedStatsStore() {
    stats_.appends = 7;
    stats_.fsyncs = 3;
    stats_.last_fsync_micros = 1500;
    stats_.total_fsync_micros = 4500;
    stats_.users = 11;
    stats_.events = 42;
    stats_.refused_new_users = 2;
    stats_.refused_events = 1;
    stats_.corrupt_regions = 3;
    stats_.skipped_bytes = 120;
    stats_.truncated_bytes = 9;
  }
  std::vector<UserEvent> History(absl::string_view, size_t) const override { return {}; }
  absl::StatusOr<uint64_t> Append(absl::string_view, UserEvent) override { return 0; }
  int64_t num_users() const override { return 0; }
  UserStoreStats stats() const override { return stats_; }
  void SeedFrom(const ModelBundle&) override {}

  UserStoreStats stats_;
};

// The value of the sample `series` (name and labels) in a text exposition; NaN
// when absent.
double SampleValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return std::nan("");
}

// Every family is exposed under its name, help text and labels.
TEST(GatewayMetricsTest, FamiliesNamesLabelsAndHelp) {
  auto server_metrics = ServerMetrics::CreateWithoutExposer();
  GatewayMetrics m(server_metrics.get());
  m.CountAnswer(v1::PATH_FULL, false, "");
  m.CountAnswer(v1::PATH_RETRIEVAL_ONLY, true, "ranking:DEADLINE_EXCEEDED");
  m.CountAnswer(v1::PATH_TRENDING_FALLBACK, true, "retrieval:UNAVAILABLE");
  m.CountAnswer(v1::PATH_COLD_START, false, "");
  m.ObserveStage("retrieval", absl::Milliseconds(3));
  m.CountCacheLookup(true);
  m.CountCacheLookup(false);
  m.CountCacheLookup(false);
  m.CountRejected();
  m.InflightStarted();
  m.InflightStarted();
  m.InflightFinished();
  m.RecordStore(FixedStatsStore());
  m.ObserveFeedbackDurable(absl::Milliseconds(1));
  m.CountAskGenerator(GeneratorOutcome::kOk);
  m.CountAskGenerator(GeneratorOutcome::kTimeout);
  m.CountAskGenerator(GeneratorOutcome::kTimeout);
  const std::string text = server_metrics->SerializeText();
  for (const char* line : {
           "# HELP recsys_gateway_answers_total Recommend answers by the path that produced them",
           "recsys_gateway_answers_total{path=\"full\"} 1",
           "recsys_gateway_answers_total{path=\"retrieval_only\"} 1",
           "recsys_gateway_answers_total{path=\"trending_fallback\"} 1",
           "recsys_gateway_answers_total{path=\"cold_start\"} 1",
           "# HELP recsys_gateway_degraded_total Degraded Recommend answers by reason (stage and "
           "status code)",
           "recsys_gateway_degraded_total{reason=\"ranking:DEADLINE_EXCEEDED\"} 1",
           "recsys_gateway_degraded_total{reason=\"retrieval:UNAVAILABLE\"} 1",
           "# HELP recsys_gateway_stage_seconds Time spent per Recommend stage (retrieval, "
           "ranking, total)",
           "recsys_gateway_stage_seconds_count{stage=\"retrieval\"} 1",
           "recsys_gateway_stage_seconds_bucket{stage=\"retrieval\",le=\"0.005\"} 1",
           "recsys_gateway_cache_lookups_total{result=\"hit\"} 1",
           "recsys_gateway_cache_lookups_total{result=\"miss\"} 2",
           "# HELP recsys_gateway_rejected_total Calls refused by admission control "
           "(RESOURCE_EXHAUSTED)",
           "recsys_gateway_rejected_total 1",
           "# HELP recsys_gateway_inflight Recommend calls in flight",
           "recsys_gateway_inflight 1",
           "# TYPE recsys_wal_appends_total counter",
           "recsys_wal_appends_total 7",
           "# TYPE recsys_wal_fsyncs_total counter",
           "recsys_wal_fsyncs_total 3",
           "# TYPE recsys_wal_fsync_seconds histogram",
           "recsys_wal_fsync_seconds_count 3",
           "recsys_wal_fsync_seconds_bucket{le=\"0.002\"} 3",
           "# HELP recsys_wal_durable_seconds Feedback: time from receipt until the event is "
           "durable (fsynced)",
           "recsys_wal_durable_seconds_count 1",
           "recsys_user_store_users 11",
           "recsys_user_store_events 42",
           "recsys_user_store_refused_total{reason=\"max_users\"} 2",
           "recsys_user_store_refused_total{reason=\"max_events\"} 1",
           "recsys_wal_recovery_corrupt_regions 3",
           "recsys_wal_recovery_skipped_bytes 120",
           "recsys_wal_recovery_truncated_bytes 9",
           "# HELP recsys_gateway_ask_generator_total Ask generator calls by outcome (ok; any "
           "other outcome answers extractively)",
           "recsys_gateway_ask_generator_total{outcome=\"ok\"} 1",
           "recsys_gateway_ask_generator_total{outcome=\"timeout\"} 2",
       }) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
  EXPECT_FALSE(absl::StrContains(text, "path=\"unspecified\""));
  EXPECT_FALSE(absl::StrContains(text, "recsys_wal{"));
}

// A fresh GatewayMetrics exposes every series alerts and the dashboard use, at 0.
TEST(GatewayMetricsTest, EverySeriesAlertsUseExistsAtZeroFromStart) {
  auto server_metrics = ServerMetrics::CreateWithoutExposer();
  GatewayMetrics m(server_metrics.get());
  const std::string text = server_metrics->SerializeText();
  std::vector<std::string> lines;
  for (const char* path : {"full", "retrieval_only", "trending_fallback", "cold_start"}) {
    lines.push_back(absl::StrCat("recsys_gateway_answers_total{path=\"", path, "\"} 0"));
  }
  for (const char* stage : {"retrieval", "ranking"}) {
    for (const char* code : {"DEADLINE_EXCEEDED", "UNAVAILABLE", "CANCELLED", "INTERNAL",
                             "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", "UNKNOWN"}) {
      lines.push_back(
          absl::StrCat("recsys_gateway_degraded_total{reason=\"", stage, ":", code, "\"} 0"));
    }
  }
  lines.push_back("recsys_gateway_degraded_total{reason=\"retrieval:EMPTY\"} 0");
  lines.push_back("recsys_gateway_degraded_total{reason=\"ranking:BUDGET\"} 0");
  lines.push_back("recsys_gateway_degraded_total{reason=\"user_store:UNAVAILABLE\"} 0");
  lines.push_back("recsys_gateway_degraded_total{reason=\"user_store:RESOURCE_EXHAUSTED\"} 0");
  for (const char* outcome :
       {"ok", "connect_error", "timeout", "http_status", "too_large", "bad_reply"}) {
    lines.push_back(
        absl::StrCat("recsys_gateway_ask_generator_total{outcome=\"", outcome, "\"} 0"));
  }
  for (const char* stage : {"retrieval", "ranking", "total"}) {
    lines.push_back(absl::StrCat("recsys_gateway_stage_seconds_count{stage=\"", stage, "\"} 0"));
  }
  for (const char* l :
       {"recsys_gateway_cache_lookups_total{result=\"hit\"} 0",
        "recsys_gateway_cache_lookups_total{result=\"miss\"} 0", "recsys_gateway_rejected_total 0",
        "recsys_wal_appends_total 0", "recsys_wal_fsyncs_total 0", "recsys_wal_fsync_seconds_count 0",
        "recsys_wal_durable_seconds_count 0",
        "recsys_user_store_refused_total{reason=\"max_users\"} 0",
        "recsys_user_store_refused_total{reason=\"max_events\"} 0",
        "recsys_wal_recovery_corrupt_regions 0",
        "grpc_server_handled_total{grpc_code=\"INTERNAL\",grpc_method=\"Recommend\","
        "grpc_service=\"recsys.v1.Recommender\",grpc_type=\"unary\"} 0",
        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Feedback\","
        "grpc_service=\"recsys.v1.Recommender\",grpc_type=\"unary\"} 0",
        "grpc_server_started_total{grpc_method=\"GetModelInfo\","
        "grpc_service=\"recsys.v1.Recommender\",grpc_type=\"unary\"} 0",
        "grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\",grpc_method=\"Ask\","
        "grpc_service=\"recsys.v1.Recommender\",grpc_type=\"unary\"} 0"}) {
    lines.push_back(l);
  }
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StrContains(text, line + "\n")) << line << "\n" << text;
  }
  // 16 non-OK codes for each stage, plus EMPTY, BUDGET and the two user-store reasons.
  EXPECT_EQ(DegradedReasons().size(), 36u);
}

// The WAL counters follow the store's figures; each new fsync is observed once.
TEST(GatewayMetricsTest, WalCountersAdvanceByStoreDeltas) {
  auto server_metrics = ServerMetrics::CreateWithoutExposer();
  GatewayMetrics m(server_metrics.get());
  FixedStatsStore store;
  m.RecordStore(store);
  m.RecordStore(store);  // nothing new: no change
  store.stats_.appends = 9;
  store.stats_.fsyncs = 4;
  store.stats_.last_fsync_micros = 30000;  // 30 ms
  store.stats_.total_fsync_micros = 34500;
  m.RecordStore(store);
  const std::string text = server_metrics->SerializeText();
  for (const char* line : {"recsys_wal_appends_total 9\n", "recsys_wal_fsyncs_total 4\n",
                           "recsys_wal_fsync_seconds_count 4\n",
                           "recsys_wal_fsync_seconds_bucket{le=\"0.02\"} 3\n",
                           "recsys_wal_fsync_seconds_bucket{le=\"0.05\"} 4\n"}) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
}

// A served list of a real (toy) bundle, loaded with the gateway's parts: the
// content embeddings are there, and the list's diversity, novelty and
// exposure reach the scrape (the unknown id is left out).
TEST(GatewayMetricsTest, ServedListFiguresOnTheScrape) {
  const std::string root = recsys::testing::FreshTempDir("gateway_metrics_list");
  const LogSeverity old_severity = MinLogSeverity();
  SetMinLogSeverity(LogSeverity::kWarning);  // training's progress lines
  absl::StatusOr<offline::TrainResult> trained = recsys::testing::TrainToyBundle(root);
  SetMinLogSeverity(old_severity);
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto bundle = ModelBundle::Load(trained->bundle_dir, BundleParts::kGateway);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const ModelBundle& b = **bundle;
  ASSERT_GT(b.content.dim(), 0);
  ASSERT_EQ(b.content.num_items(), b.num_items());
  ASSERT_GT(b.catalogue.popularity_total, 0.0);

  auto server_metrics = ServerMetrics::CreateWithoutExposer();
  GatewayMetrics m(server_metrics.get());
  v1::RecommendResponse response;
  response.set_path(v1::PATH_FULL);
  std::vector<ItemIndex> items;
  for (ItemIndex i : {0, 1, 2}) {
    response.add_items()->set_item_id(b.catalogue.ids.Name(i));
    items.push_back(i);
  }
  response.add_items()->set_item_id("not-in-catalogue");
  m.ObserveServedList(b, response);
  m.ObserveServedList(b, v1::RecommendResponse());  // empty: not observed

  const ListQuality quality(b.content.item_embeddings(), b.content.dim(), b.catalogue.popularity,
                            b.catalogue.popularity_total);
  const std::optional<double> diversity = quality.Diversity(items);
  const std::optional<double> novelty = quality.Novelty(items);
  ASSERT_TRUE(diversity.has_value());
  ASSERT_TRUE(novelty.has_value());
  const std::string text = server_metrics->SerializeText();
  for (const char* line : {"recsys_gateway_list_diversity_count{path=\"full\"} 1\n",
                           "recsys_gateway_list_novelty_count{path=\"full\"} 1\n",
                           "recsys_gateway_list_novelty_count{path=\"cold_start\"} 0\n",
                           "recsys_gateway_exposure_tracked_items 3\n",
                           "recsys_gateway_exposure_slots 3\n"}) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
  EXPECT_NEAR(SampleValue(text, "recsys_gateway_list_diversity_sum{path=\"full\"}"), *diversity,
              1e-9);
  EXPECT_NEAR(SampleValue(text, "recsys_gateway_list_novelty_sum{path=\"full\"}"), *novelty, 1e-9);
  // 3 of the catalogue's items once each; the top 1% rounds up to one item.
  EXPECT_NEAR(SampleValue(text, "recsys_gateway_exposure_gini"),
              GiniCoefficient(std::vector<double>{1, 1, 1}, b.num_items()), 1e-9);
  EXPECT_NEAR(SampleValue(text, "recsys_gateway_exposure_top1pct_share"),
              std::ceil(0.01 * b.num_items()) / 3.0, 1e-9);
  EXPECT_TRUE(absl::StrContains(text, "# TYPE recsys_gateway_exposure_top1pct_share gauge"));
}

// Without a registry every call is a no-op.
TEST(GatewayMetricsTest, NullMetricsIsNoOp) {
  GatewayMetrics m(nullptr);
  m.CountAnswer(v1::PATH_FULL, true, "x");
  m.ObserveStage("total", absl::Seconds(1));
  m.CountCacheLookup(true);
  m.CountRejected();
  m.InflightStarted();
  m.InflightFinished();
  m.RecordStore(FixedStatsStore());
  m.ObserveFeedbackDurable(absl::Seconds(1));
  m.CountAskGenerator(GeneratorOutcome::kBadReply);
  EXPECT_STREQ(PathName(v1::PATH_COLD_START), "cold_start");
}

}  // namespace
}  // namespace recsys::gateway

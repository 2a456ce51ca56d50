#include "gateway/gateway_metrics.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace recsys::gateway {
namespace {

// A store whose figures are fixed.
class FixedStatsStore : public UserStore {
 public:
  std::vector<UserEvent> History(absl::string_view, size_t) const override { return {}; }
  absl::StatusOr<uint64_t> Append(absl::string_view, UserEvent) override { return 0; }
  int64_t num_users() const override { return 0; }
  UserStoreStats stats() const override {
    UserStoreStats s;
    s.appends = 7;
    s.fsyncs = 3;
    s.last_fsync_micros = 1500;
    return s;
  }
  void SeedFrom(const ModelBundle&) override {}
};

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
           "recsys_wal{figure=\"appends\"} 7",
           "recsys_wal{figure=\"fsyncs\"} 3",
           "recsys_wal{figure=\"last_fsync_seconds\"} 0.0015",
           "# HELP recsys_wal_durable_seconds Feedback: time from receipt until the event is "
           "durable (fsynced)",
           "recsys_wal_durable_seconds_count 1",
       }) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
  EXPECT_FALSE(absl::StrContains(text, "path=\"unspecified\""));
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
  EXPECT_STREQ(PathName(v1::PATH_COLD_START), "cold_start");
}

}  // namespace
}  // namespace recsys::gateway

#include "gateway/gateway_metrics.h"

namespace recsys::gateway {

const char* PathName(v1::Path path) {
  switch (path) {
    case v1::PATH_FULL: return "full";
    case v1::PATH_RETRIEVAL_ONLY: return "retrieval_only";
    case v1::PATH_TRENDING_FALLBACK: return "trending_fallback";
    case v1::PATH_COLD_START: return "cold_start";
    default: return "unspecified";
  }
}

GatewayMetrics::GatewayMetrics(ServerMetrics* metrics) {
  if (metrics == nullptr) return;
  prometheus::Registry& r = metrics->registry();
  answers_ = &prometheus::BuildCounter()
                  .Name("recsys_gateway_answers_total")
                  .Help("Recommend answers by the path that produced them")
                  .Register(r);
  degraded_ = &prometheus::BuildCounter()
                   .Name("recsys_gateway_degraded_total")
                   .Help("Degraded Recommend answers by reason (stage and status code)")
                   .Register(r);
  stage_seconds_ = &prometheus::BuildHistogram()
                        .Name("recsys_gateway_stage_seconds")
                        .Help("Time spent per Recommend stage (retrieval, ranking, total)")
                        .Register(r);
  auto& cache = prometheus::BuildCounter()
                    .Name("recsys_gateway_cache_lookups_total")
                    .Help("Recommend answer-cache lookups by result (hit, miss); requests "
                          "that cannot be cached (debug, cold start, cache off) are not counted")
                    .Register(r);
  cache_hits_ = &cache.Add({{"result", "hit"}});
  cache_misses_ = &cache.Add({{"result", "miss"}});
  rejected_ = &prometheus::BuildCounter()
                   .Name("recsys_gateway_rejected_total")
                   .Help("Calls refused by admission control (RESOURCE_EXHAUSTED)")
                   .Register(r)
                   .Add({});
  inflight_ = &prometheus::BuildGauge()
                   .Name("recsys_gateway_inflight")
                   .Help("Recommend calls in flight")
                   .Register(r)
                   .Add({});
  auto& wal = prometheus::BuildGauge()
                  .Name("recsys_wal")
                  .Help("User-store write-ahead log figures (appends, fsyncs, last fsync seconds)")
                  .Register(r);
  wal_appends_ = &wal.Add({{"figure", "appends"}});
  wal_fsyncs_ = &wal.Add({{"figure", "fsyncs"}});
  wal_last_fsync_seconds_ = &wal.Add({{"figure", "last_fsync_seconds"}});
  feedback_durable_seconds_ =
      &prometheus::BuildHistogram()
           .Name("recsys_wal_durable_seconds")
           .Help("Feedback: time from receipt until the event is durable (fsynced)")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.002, 0.005,
                                                            0.01, 0.02, 0.05, 0.1, 0.5, 1});
}

void GatewayMetrics::CountAnswer(v1::Path path, bool degraded, const std::string& reason) {
  if (answers_ == nullptr) return;
  answers_->Add({{"path", PathName(path)}}).Increment();
  if (degraded) degraded_->Add({{"reason", reason}}).Increment();
}

void GatewayMetrics::ObserveStage(const char* stage, absl::Duration d) {
  if (stage_seconds_ == nullptr) return;
  stage_seconds_
      ->Add({{"stage", stage}},
            prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                    0.1, 0.25, 0.5, 1, 5})
      .Observe(absl::ToDoubleSeconds(d));
}

void GatewayMetrics::CountCacheLookup(bool hit) {
  if (cache_hits_ == nullptr) return;
  (hit ? cache_hits_ : cache_misses_)->Increment();
}

void GatewayMetrics::CountRejected() {
  if (rejected_ != nullptr) rejected_->Increment();
}

void GatewayMetrics::InflightStarted() {
  if (inflight_ != nullptr) inflight_->Increment();
}

void GatewayMetrics::InflightFinished() {
  if (inflight_ != nullptr) inflight_->Decrement();
}

void GatewayMetrics::RecordStore(const UserStore& store) {
  if (wal_appends_ == nullptr) return;
  const UserStoreStats stats = store.stats();
  wal_appends_->Set(static_cast<double>(stats.appends));
  wal_fsyncs_->Set(static_cast<double>(stats.fsyncs));
  wal_last_fsync_seconds_->Set(static_cast<double>(stats.last_fsync_micros) / 1e6);
}

void GatewayMetrics::ObserveFeedbackDurable(absl::Duration d) {
  if (feedback_durable_seconds_ != nullptr) {
    feedback_durable_seconds_->Observe(absl::ToDoubleSeconds(d));
  }
}

}  // namespace recsys::gateway

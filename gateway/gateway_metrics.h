// The gateway's own metric families, registered once on the server's registry
// (besides the RED families RpcRecorder records and recsys_bundle_*):
//   recsys_gateway_answers_total{path}           counter, Recommend answers by path
//                                                ("full", "retrieval_only",
//                                                "trending_fallback", "cold_start")
//   recsys_gateway_degraded_total{reason}        counter, degraded answers by reason
//                                                "<stage>:<code>", e.g.
//                                                "ranking:DEADLINE_EXCEEDED",
//                                                "retrieval:EMPTY", "ranking:BUDGET"
//   recsys_gateway_stage_seconds{stage}          histogram, "retrieval", "ranking", "total"
//   recsys_gateway_cache_lookups_total{result}   counter, "hit" | "miss"
//   recsys_gateway_rejected_total                counter, admission control refusals
//   recsys_gateway_inflight                      gauge, Recommend calls in flight
//   recsys_wal{figure}                           gauge, "appends", "fsyncs",
//                                                "last_fsync_seconds"
//   recsys_wal_durable_seconds                   histogram, Feedback receipt → durable
//
// Built on a null ServerMetrics every method is a no-op (tests without metrics).
// Threading: every method is safe to call concurrently.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "common/server/metrics.h"
#include "gateway/user_store.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

// The path label of recsys_gateway_answers_total ("full", ...).
const char* PathName(v1::Path path);

class GatewayMetrics {
 public:
  // `metrics` (not owned, may be null) must outlive this object.
  explicit GatewayMetrics(ServerMetrics* metrics);
  GatewayMetrics(const GatewayMetrics&) = delete;
  GatewayMetrics& operator=(const GatewayMetrics&) = delete;

  // One Recommend answer; `reason` labels the degraded counter when `degraded`.
  void CountAnswer(v1::Path path, bool degraded, const std::string& reason);
  // Time spent in one Recommend stage ("retrieval", "ranking", "total").
  void ObserveStage(const char* stage, absl::Duration d);
  void CountCacheLookup(bool hit);
  void CountRejected();
  // Recommend calls in flight: one started when admitted, finished when answered.
  void InflightStarted();
  void InflightFinished();
  // Copies the store's log figures into recsys_wal (reads store.stats() only
  // when there are metrics).
  void RecordStore(const UserStore& store);
  // A Feedback call's time from receipt until its event was durable.
  void ObserveFeedbackDurable(absl::Duration d);

 private:
  prometheus::Family<prometheus::Counter>* answers_ = nullptr;
  prometheus::Family<prometheus::Counter>* degraded_ = nullptr;
  prometheus::Family<prometheus::Histogram>* stage_seconds_ = nullptr;
  prometheus::Counter* cache_hits_ = nullptr;
  prometheus::Counter* cache_misses_ = nullptr;
  prometheus::Counter* rejected_ = nullptr;
  prometheus::Gauge* inflight_ = nullptr;
  prometheus::Gauge* wal_appends_ = nullptr;
  prometheus::Gauge* wal_fsyncs_ = nullptr;
  prometheus::Gauge* wal_last_fsync_seconds_ = nullptr;
  prometheus::Histogram* feedback_durable_seconds_ = nullptr;
};

}  // namespace recsys::gateway

// The gateway's own metric families, registered once on the server's registry
// (besides the RED families RpcRecorder records and recsys_bundle_*):
//   recsys_gateway_answers_total{path}           counter, Recommend answers by path
//                                                ("full", "retrieval_only",
//                                                "trending_fallback", "cold_start")
//   recsys_gateway_degraded_total{reason}        counter, degraded answers by reason
//                                                "<stage>:<code>", e.g.
//                                                "ranking:DEADLINE_EXCEEDED",
//                                                "retrieval:EMPTY", "ranking:BUDGET",
//                                                "user_store:UNAVAILABLE" (a stage's
//                                                reason wins when both degraded)
//   recsys_gateway_stage_seconds{stage}          histogram, "retrieval", "ranking", "total"
//   recsys_gateway_cache_lookups_total{result}   counter, "hit" | "miss"
//   recsys_gateway_rejected_total                counter, admission control refusals
//   recsys_gateway_inflight                      gauge, Recommend calls in flight
//   recsys_gateway_list_diversity{path}          histogram, intra-list diversity of each
//                                                served list (mean 1 - cosine of its
//                                                first kDiversityItems items' content
//                                                embeddings; lists with fewer than two
//                                                embedded items are not observed)
//   recsys_gateway_list_novelty{path}            histogram, mean self-information
//                                                (bits, -log2 of the item's share of
//                                                the bundle's training interactions)
//                                                of each served list
//   recsys_gateway_exposure_top1pct_share        gauge, share of the served slots the
//                                                top 1% of the catalogue's items took
//                                                (decaying window, exposure_tracker.h)
//   recsys_gateway_exposure_gini                 gauge, Gini coefficient of the served
//                                                slots over the catalogue's items
//   recsys_gateway_exposure_tracked_items        gauge, items the exposure table holds
//                                                (below its capacity: both figures exact)
//   recsys_gateway_exposure_slots                gauge, decayed served slots in the window
//   recsys_gateway_ask_generator_total{outcome}  counter, Ask generator calls by outcome
//                                                ("ok", "connect_error", "timeout",
//                                                "http_status", "too_large", "bad_reply";
//                                                all but "ok" answer extractively)
//   recsys_wal_appends_total                     counter, durable log appends
//   recsys_wal_fsyncs_total                      counter, log fdatasyncs (fewer than
//                                                appends = group commit)
//   recsys_wal_fsync_seconds                     histogram, duration of each fdatasync
//   recsys_wal_durable_seconds                   histogram, Feedback receipt → durable
//   recsys_user_store_users                      gauge, users held in memory
//   recsys_user_store_events                     gauge, events held in memory
//   recsys_user_store_refused_total{reason}      counter, Feedback refused because the store
//                                                is full: "max_users" | "max_events"
//   recsys_wal_recovery_corrupt_regions          gauge, log corruption found at start-up
//                                                (non-zero only with --wal_recovery=skip:
//                                                refuse does not start)
//   recsys_wal_recovery_skipped_bytes            gauge, damaged log bytes skipped at start-up
//   recsys_wal_recovery_truncated_bytes          gauge, torn log tail cut off at start-up
//
// The list figures are observed for every non-empty Recommend answer (cache
// hits included); the exposure gauges are computed at each scrape.
// Every label value an alert or dashboard uses exists at 0 from construction
// (rate() and ratios work before the first event): every path, every degraded
// reason the ladder can produce (DegradedReasons()), every stage, both cache
// results, every generator outcome, and every recsys.v1.Recommender method of
// grpc_server_*.
//
// Built on a null ServerMetrics every method is a no-op (tests without metrics).
// Threading: every method is safe to call concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/server/metrics.h"
#include "gateway/ask_generator.h"
#include "gateway/exposure_tracker.h"
#include "gateway/user_store.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {

// The path label of recsys_gateway_answers_total ("full", ...).
const char* PathName(v1::Path path);

// The degraded reasons of an answer whose stored history could not be read
// in full: the store was unreachable (the seeded part was used), or its read
// queue was full (no stored history was used).
inline constexpr char kUserStoreUnavailableReason[] = "user_store:UNAVAILABLE";
inline constexpr char kUserStoreBusyReason[] = "user_store:RESOURCE_EXHAUSTED";

// Every reason label the Recommend ladder (recommend_ladder.h) can give a
// degraded answer: "<stage>:<code>" for stage retrieval and ranking and every
// non-OK gRPC code name, plus "retrieval:EMPTY", "ranking:BUDGET" and the two
// user-store reasons.
std::vector<std::string> DegradedReasons();

class ExposureCollector;  // gateway_metrics.cc

// Served lists' diversity is measured on their first this many items: the
// cost is O(n^2 * dim), ~50k multiply-adds at 32 items of 96 dimensions.
inline constexpr int kDiversityItems = 32;

class GatewayMetrics {
 public:
  // `metrics` (not owned, may be null) must outlive this object.
  explicit GatewayMetrics(ServerMetrics* metrics, ExposureTrackerOptions exposure = {});
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
  // One served Recommend answer's list (its items and path), from `bundle`:
  // observes its diversity and novelty and adds its items to the exposure
  // table. Items the catalogue does not know are left out; an empty list is
  // not observed. Cost: O(k) id lookups, O(min(k, kDiversityItems)^2 * dim)
  // for diversity, one short mutex hold for exposure.
  void ObserveServedList(const ModelBundle& bundle, const v1::RecommendResponse& response);
  // One Ask generator call's outcome.
  void CountAskGenerator(GeneratorOutcome outcome);
  // Advances the recsys_wal_* counters to the store's figures and observes the
  // fsyncs since the previous call in recsys_wal_fsync_seconds (reads
  // store.stats() only when there are metrics). Each fsync's own duration is
  // observed when one happened since the last call (the usual case: every
  // Feedback calls this after its append); when several did, their mean
  // duration is observed once for each.
  void RecordStore(const UserStore& store);
  // (RecordStore also sets the recsys_user_store_* series and the
  // recsys_wal_recovery_* gauges; call it once at start-up too.)
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
  prometheus::Family<prometheus::Counter>* ask_generator_ = nullptr;
  // Per path, in kPaths order (gateway_metrics.cc): no label lookup per list.
  std::array<prometheus::Histogram*, 4> list_diversity_{};
  std::array<prometheus::Histogram*, 4> list_novelty_{};
  // The exposure table and its scrape-time gauges (shared with the
  // registry's weak reference; see the .cc).
  std::shared_ptr<ExposureCollector> exposure_;
  prometheus::Counter* wal_appends_ = nullptr;
  prometheus::Counter* wal_fsyncs_ = nullptr;
  prometheus::Histogram* wal_fsync_seconds_ = nullptr;
  // The store figures the WAL series have reached.
  absl::Mutex wal_mu_;
  uint64_t wal_seen_appends_ ABSL_GUARDED_BY(wal_mu_) = 0;
  uint64_t wal_seen_fsyncs_ ABSL_GUARDED_BY(wal_mu_) = 0;
  uint64_t wal_seen_fsync_micros_ ABSL_GUARDED_BY(wal_mu_) = 0;
  prometheus::Histogram* feedback_durable_seconds_ = nullptr;
  prometheus::Gauge* store_users_ = nullptr;
  prometheus::Gauge* store_events_ = nullptr;
  prometheus::Counter* refused_users_ = nullptr;
  prometheus::Counter* refused_events_ = nullptr;
  prometheus::Gauge* recovery_corrupt_ = nullptr;
  prometheus::Gauge* recovery_skipped_ = nullptr;
  prometheus::Gauge* recovery_truncated_ = nullptr;
  uint64_t seen_refused_users_ ABSL_GUARDED_BY(wal_mu_) = 0;
  uint64_t seen_refused_events_ ABSL_GUARDED_BY(wal_mu_) = 0;
};

}  // namespace recsys::gateway

#include "gateway/gateway_metrics.h"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/eval/list_metrics.h"
#include "common/server/grpc_status.h"
#include "google/protobuf/descriptor.h"

namespace recsys::gateway {

// The exposure table and the gauges computed from it at each scrape (a
// Collectable the ServerMetrics holds weakly: it stops being scraped once the
// GatewayMetrics that owns it is gone).
class ExposureCollector : public prometheus::Collectable {
 public:
  explicit ExposureCollector(ExposureTrackerOptions options) : tracker_(options) {}
  ExposureTracker& tracker() { return tracker_; }

  std::vector<prometheus::MetricFamily> Collect() const override {
    const ExposureSummary s = tracker_.Summarize(0.01);
    return {Gauge("recsys_gateway_exposure_top1pct_share",
                  "Share of the served slots taken by the top 1% of the catalogue's items "
                  "(decaying window; a lower bound once the table is full)",
                  s.top_share),
            Gauge("recsys_gateway_exposure_gini",
                  "Gini coefficient of served slots over the catalogue's items (decaying "
                  "window; 0 = equal exposure, near 1 = a few items take everything)",
                  s.gini),
            Gauge("recsys_gateway_exposure_tracked_items",
                  "Items the bounded exposure table holds (below its capacity the exposure "
                  "figures are exact)",
                  static_cast<double>(s.tracked_items)),
            Gauge("recsys_gateway_exposure_slots",
                  "Served slots in the exposure window (exponentially decayed count)", s.slots)};
  }

 private:
  static prometheus::MetricFamily Gauge(const char* name, const char* help, double value) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.gauge.value = value;
    family.metric.push_back(std::move(m));
    return family;
  }

  ExposureTracker tracker_;
};

namespace {

// The RPC service whose grpc_server_* series exist from start-up.
constexpr char kRecommenderService[] = "recsys.v1.Recommender";
constexpr const char* kStages[] = {"retrieval", "ranking", "total"};
constexpr v1::Path kPaths[] = {v1::PATH_FULL, v1::PATH_RETRIEVAL_ONLY, v1::PATH_TRENDING_FALLBACK,
                               v1::PATH_COLD_START};

prometheus::Histogram::BucketBoundaries StageBuckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5};
}
// 1 - cosine lies in [0, 2]; LSA content embeddings of unrelated items sit near 1.
prometheus::Histogram::BucketBoundaries DiversityBuckets() {
  return {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5};
}
// Bits: log2 of the training interactions bounds it (~17 at 100k events,
// ~26 at 50M).
prometheus::Histogram::BucketBoundaries NoveltyBuckets() {
  return {2, 4, 6, 7, 8, 9, 10, 11, 12, 14, 16, 20, 24, 28};
}

}  // namespace

const char* PathName(v1::Path path) {
  switch (path) {
    case v1::PATH_FULL: return "full";
    case v1::PATH_RETRIEVAL_ONLY: return "retrieval_only";
    case v1::PATH_TRENDING_FALLBACK: return "trending_fallback";
    case v1::PATH_COLD_START: return "cold_start";
    default: return "unspecified";
  }
}

std::vector<std::string> DegradedReasons() {
  std::vector<std::string> reasons;
  for (const char* stage : {"retrieval", "ranking"}) {
    for (int code = 1; code < kNumGrpcCodes; ++code) {
      reasons.push_back(
          absl::StrCat(stage, ":", GrpcCodeName(static_cast<grpc::StatusCode>(code))));
    }
  }
  reasons.push_back("retrieval:EMPTY");
  reasons.push_back("ranking:BUDGET");
  reasons.push_back(kUserStoreUnavailableReason);
  reasons.push_back(kUserStoreBusyReason);
  return reasons;
}

GatewayMetrics::GatewayMetrics(ServerMetrics* metrics, ExposureTrackerOptions exposure) {
  if (metrics == nullptr) return;
  prometheus::Registry& r = metrics->registry();
  answers_ = &prometheus::BuildCounter()
                  .Name("recsys_gateway_answers_total")
                  .Help("Recommend answers by the path that produced them")
                  .Register(r);
  for (v1::Path path : kPaths) answers_->Add({{"path", PathName(path)}});
  degraded_ = &prometheus::BuildCounter()
                   .Name("recsys_gateway_degraded_total")
                   .Help("Degraded Recommend answers by reason (stage and status code)")
                   .Register(r);
  for (const std::string& reason : DegradedReasons()) degraded_->Add({{"reason", reason}});
  stage_seconds_ = &prometheus::BuildHistogram()
                        .Name("recsys_gateway_stage_seconds")
                        .Help("Time spent per Recommend stage (retrieval, ranking, total)")
                        .Register(r);
  for (const char* stage : kStages) stage_seconds_->Add({{"stage", stage}}, StageBuckets());
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
  auto& diversity = prometheus::BuildHistogram()
                        .Name("recsys_gateway_list_diversity")
                        .Help("Intra-list diversity of served Recommend lists: mean 1 - cosine "
                              "of the items' content embeddings, by path")
                        .Register(r);
  auto& novelty = prometheus::BuildHistogram()
                      .Name("recsys_gateway_list_novelty")
                      .Help("Novelty of served Recommend lists: mean -log2 of the items' "
                            "share of training interactions (bits), by path")
                      .Register(r);
  static_assert(std::size(kPaths) == std::tuple_size_v<decltype(list_diversity_)>);
  for (size_t i = 0; i < std::size(kPaths); ++i) {
    list_diversity_[i] = &diversity.Add({{"path", PathName(kPaths[i])}}, DiversityBuckets());
    list_novelty_[i] = &novelty.Add({{"path", PathName(kPaths[i])}}, NoveltyBuckets());
  }
  exposure_ = std::make_shared<ExposureCollector>(exposure);
  metrics->AddCollectable(exposure_);
  ask_generator_ = &prometheus::BuildCounter()
                        .Name("recsys_gateway_ask_generator_total")
                        .Help("Ask generator calls by outcome (ok; any other outcome answers "
                              "extractively)")
                        .Register(r);
  for (GeneratorOutcome o : kGeneratorOutcomes) {
    ask_generator_->Add({{"outcome", GeneratorOutcomeName(o)}});
  }
  wal_appends_ = &prometheus::BuildCounter()
                      .Name("recsys_wal_appends_total")
                      .Help("User-store log records made durable")
                      .Register(r)
                      .Add({});
  wal_fsyncs_ = &prometheus::BuildCounter()
                     .Name("recsys_wal_fsyncs_total")
                     .Help("User-store log fdatasync calls (one per group commit)")
                     .Register(r)
                     .Add({});
  wal_fsync_seconds_ =
      &prometheus::BuildHistogram()
           .Name("recsys_wal_fsync_seconds")
           .Help("Duration of user-store log fdatasync calls")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.00005, 0.0001, 0.0005, 0.001, 0.002,
                                                            0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1});
  feedback_durable_seconds_ =
      &prometheus::BuildHistogram()
           .Name("recsys_wal_durable_seconds")
           .Help("Feedback: time from receipt until the event is durable (fsynced)")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.002, 0.005,
                                                            0.01, 0.02, 0.05, 0.1, 0.5, 1});
  auto gauge = [&r](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  store_users_ = gauge("recsys_user_store_users", "Users held by the user store");
  store_events_ = gauge("recsys_user_store_events", "Events held by the user store (seeded + "
                                                    "logged)");
  auto& refused = prometheus::BuildCounter()
                      .Name("recsys_user_store_refused_total")
                      .Help("Feedback refused (RESOURCE_EXHAUSTED) because the user store is "
                            "full, by the bound reached (max_users, max_events)")
                      .Register(r);
  refused_users_ = &refused.Add({{"reason", "max_users"}});
  refused_events_ = &refused.Add({{"reason", "max_events"}});
  recovery_corrupt_ = gauge("recsys_wal_recovery_corrupt_regions",
                            "Corrupt places found in the user-store log at start-up (skipped "
                            "under --wal_recovery=skip)");
  recovery_skipped_ = gauge("recsys_wal_recovery_skipped_bytes",
                            "Damaged user-store log bytes skipped at start-up (kept in copies "
                            "aside)");
  recovery_truncated_ = gauge("recsys_wal_recovery_truncated_bytes",
                              "Torn user-store log tail cut off at start-up (a crash mid-write)");
  // grpc_server_handled_total of every method and code, before the first call.
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kRecommenderService);
  if (service != nullptr) {
    for (int i = 0; i < service->method_count(); ++i) {
      metrics->Method(kRecommenderService, service->method(i)->name());
    }
  }
}

void GatewayMetrics::CountAnswer(v1::Path path, bool degraded, const std::string& reason) {
  if (answers_ == nullptr) return;
  answers_->Add({{"path", PathName(path)}}).Increment();
  if (degraded) degraded_->Add({{"reason", reason}}).Increment();
}

void GatewayMetrics::ObserveStage(const char* stage, absl::Duration d) {
  if (stage_seconds_ == nullptr) return;
  stage_seconds_->Add({{"stage", stage}}, StageBuckets()).Observe(absl::ToDoubleSeconds(d));
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

void GatewayMetrics::ObserveServedList(const ModelBundle& bundle,
                                       const v1::RecommendResponse& response) {
  if (exposure_ == nullptr || response.items().empty()) return;
  const auto path = std::find(std::begin(kPaths), std::end(kPaths), response.path());
  if (path == std::end(kPaths)) return;
  const size_t p = static_cast<size_t>(path - std::begin(kPaths));
  absl::InlinedVector<ItemIndex, kDiversityItems> items;
  for (const v1::ScoredItem& item : response.items()) {
    if (std::optional<int32_t> i = bundle.catalogue.ids.Find(item.item_id())) items.push_back(*i);
  }
  if (items.empty()) return;
  const Catalogue& c = bundle.catalogue;
  const ListQuality quality(bundle.content.item_embeddings(), bundle.content.dim(), c.popularity,
                            c.popularity_total);
  const std::span<const ItemIndex> list(items.data(), items.size());
  if (auto d = quality.Diversity(list.first(std::min<size_t>(list.size(), kDiversityItems)))) {
    list_diversity_[p]->Observe(*d);
  }
  if (auto n = quality.Novelty(list)) list_novelty_[p]->Observe(*n);
  exposure_->tracker().Add(list, bundle.num_items(), absl::Now());
}

void GatewayMetrics::CountAskGenerator(GeneratorOutcome outcome) {
  if (ask_generator_ != nullptr) {
    ask_generator_->Add({{"outcome", GeneratorOutcomeName(outcome)}}).Increment();
  }
}

void GatewayMetrics::RecordStore(const UserStore& store) {
  if (wal_appends_ == nullptr) return;
  const UserStoreStats stats = store.stats();
  store_users_->Set(static_cast<double>(stats.users));
  store_events_->Set(static_cast<double>(stats.events));
  recovery_corrupt_->Set(static_cast<double>(stats.corrupt_regions));
  recovery_skipped_->Set(static_cast<double>(stats.skipped_bytes));
  recovery_truncated_->Set(static_cast<double>(stats.truncated_bytes));
  absl::MutexLock lock(&wal_mu_);
  if (stats.refused_new_users > seen_refused_users_) {
    refused_users_->Increment(static_cast<double>(stats.refused_new_users - seen_refused_users_));
    seen_refused_users_ = stats.refused_new_users;
  }
  if (stats.refused_events > seen_refused_events_) {
    refused_events_->Increment(static_cast<double>(stats.refused_events - seen_refused_events_));
    seen_refused_events_ = stats.refused_events;
  }
  // The store's figures only grow; a smaller one (another store) is ignored.
  if (stats.appends > wal_seen_appends_) {
    wal_appends_->Increment(static_cast<double>(stats.appends - wal_seen_appends_));
    wal_seen_appends_ = stats.appends;
  }
  if (stats.fsyncs > wal_seen_fsyncs_ && stats.total_fsync_micros >= wal_seen_fsync_micros_) {
    const uint64_t n = stats.fsyncs - wal_seen_fsyncs_;
    wal_fsyncs_->Increment(static_cast<double>(n));
    const double mean_seconds =
        n == 1 ? static_cast<double>(stats.last_fsync_micros) / 1e6
               : static_cast<double>(stats.total_fsync_micros - wal_seen_fsync_micros_) / 1e6 /
                     static_cast<double>(n);
    for (uint64_t i = 0; i < n; ++i) wal_fsync_seconds_->Observe(mean_seconds);
    wal_seen_fsyncs_ = stats.fsyncs;
    wal_seen_fsync_micros_ = stats.total_fsync_micros;
  }
}

void GatewayMetrics::ObserveFeedbackDurable(absl::Duration d) {
  if (feedback_durable_seconds_ != nullptr) {
    feedback_durable_seconds_->Observe(absl::ToDoubleSeconds(d));
  }
}

}  // namespace recsys::gateway

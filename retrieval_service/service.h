// recsys.v1.Retrieval over gRPC (callback API), and the wiring of one retrieval
// server process: bundle holder -> service (worker pool + candidate pool) ->
// gRPC server with health and reflection.
//
//   ASSIGN_OR_RETURN(auto metrics, ServerMetrics::Create("0.0.0.0:9092"));
//   RetrievalServerOptions o;
//   o.server.address = "0.0.0.0:50052";
//   o.bundle.registry_root = "registry"; o.bundle.model_name = "movielens";
//   ASSIGN_OR_RETURN(auto server, RetrievalServer::Start(std::move(o), metrics.get()));
//   WaitForTerminationSignal();
//   server->Shutdown(absl::Seconds(10));
//
// Threading: no handler blocks a gRPC callback thread. Retrieve validates, takes
// the bundle snapshot once and maps ids (O(history + exclusions) hash lookups) on
// the callback thread, then hands the work to the bounded worker pool and returns;
// the reactor is finished by the last source to complete. Search / SimilarItems
// run entirely on a worker. A full worker queue answers RESOURCE_EXHAUSTED at once.
// Deadlines are checked when a source starts: a source already running is not
// abandoned (sources take milliseconds; FAISS cannot be interrupted).
//
// Metrics (on the ServerMetrics registry, besides RED and recsys_bundle_*):
//   recsys_retrieval_source_seconds{source}             histogram, one source's Retrieve
//   recsys_retrieval_candidates{source}                 histogram, candidates a source
//                                                       returned for one request
//   recsys_retrieval_source_skipped_total{source,reason} counter, reason "deadline" |
//                                                       "queue_full" | "error"
//   recsys_retrieval_unknown_history_items_total        counter, history ids the bundle
//                                                       did not know (ignored)
//   recsys_retrieval_unknown_categories_total           counter, category hints no
//                                                       catalogue category has (ignored)
#pragma once

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/server/arena_allocator.h"
#include "common/server/bundle_holder.h"
#include "common/server/bundle_server.h"
#include "common/server/metrics.h"
#include "common/server/request_limits.h"
#include "common/server/server_main_util.h"
#include "common/server/wire_limits.h"
#include "recsys/v1/retrieval.grpc.pb.h"
#include "retrieval_service/candidate_pool.h"
#include "retrieval_service/requests.h"
#include "common/server/worker_pool.h"

namespace recsys::retrieval {

inline constexpr char kRetrievalServiceName[] = "recsys.v1.Retrieval";

// Upper bounds of recsys_retrieval_source_seconds.
inline const std::vector<double> kSourceSecondsBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
// Upper bounds of recsys_retrieval_candidates.
inline const std::vector<double> kCandidateCountBuckets = {0,   1,   5,   10,  25,  50,
                                                           100, 200, 300, 500, 1000};

// The retrieval families on a ServerMetrics registry; every series exists (at 0)
// from construction. Safe to use concurrently.
class RetrievalMetrics {
 public:
  explicit RetrievalMetrics(ServerMetrics& metrics);
  // Per-source latency, candidate counts and skips of one request.
  void RecordPool(const PoolResult& result);
  void RecordUnknownHistoryItems(int count);
  void RecordUnknownCategories(int count);

 private:
  std::array<prometheus::Histogram*, kNumSources> source_seconds_{};
  std::array<prometheus::Histogram*, kNumSources> candidates_{};
  std::array<std::array<prometheus::Counter*, kNumSkipReasons>, kNumSources> skipped_{};
  prometheus::Counter* unknown_history_ = nullptr;
  prometheus::Counter* unknown_categories_ = nullptr;
};

struct RetrievalServiceOptions {
  RequestLimits limits;
  // Worker threads running user-state, source, Search and SimilarItems tasks.
  int workers = 4;
  // Tasks that may wait for a worker; beyond it sources are skipped ("queue_full")
  // and new requests get RESOURCE_EXHAUSTED. A Retrieve queues up to 1 + sources.
  int queue_capacity = 256;
  // A source does not start later than the request deadline minus this.
  absl::Duration deadline_margin = absl::Milliseconds(1);
  // Clock of the deadline checks; empty = absl::Now (tests inject one).
  std::function<absl::Time()> clock;
  // Key shared with ranking (--signals_key_file): signals sent are signed
  // (RankSignals.mac, see rank_signals.h). Empty = unsigned.
  std::string signals_key;
};

// Every method is a raw callback method: its bytes are checked against the
// wire limits (counts and sizes; at most 64 fields the schema does not know)
// before they are parsed.
class RetrievalService final
    : public v1::Retrieval::WithRawCallbackMethod_Retrieve<
          v1::Retrieval::WithRawCallbackMethod_Search<
              v1::Retrieval::WithRawCallbackMethod_SimilarItems<v1::Retrieval::Service>>> {
 public:
  // `metrics` (not owned, may be null) must outlive the service.
  RetrievalService(BundleSource bundles, RetrievalServiceOptions options, ServerMetrics* metrics);
  // Runs every queued task to completion (finishing their calls), then joins the
  // workers. IMPORTANT: shut the gRPC server down first.
  ~RetrievalService() override;

  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

  // The core of Retrieve without a network: validation, bundle (UNAVAILABLE when
  // none is loaded), id conversion, pooled retrieval, response, metrics. `done`
  // runs exactly once: inline for a request refused up front (invalid,
  // unavailable, overloaded), else on a worker thread after `response` is filled.
  // `request` and `response` must stay valid until then.
  void RetrieveAsync(const v1::RetrieveRequest& request, v1::RetrieveResponse* response,
                     absl::Time deadline, std::function<void(absl::Status)> done);
  // RetrieveAsync and wait. Tests and tools only: blocks the caller.
  absl::Status RetrieveBlocking(const v1::RetrieveRequest& request, v1::RetrieveResponse* response,
                                absl::Time deadline = absl::InfiniteFuture());
  // The cores of Search / SimilarItems, run inline on the caller's thread.
  absl::Status SearchOnce(const v1::SearchRequest& request, v1::SearchResponse* response) const;
  absl::Status SimilarItemsOnce(const v1::SimilarItemsRequest& request,
                                v1::SimilarItemsResponse* response) const;

  const WorkerPool& workers() const { return *workers_; }

 private:
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  // Runs `work` on a worker and finishes the call with its status (RED recorded):
  // DEADLINE_EXCEEDED if the deadline passed while queued, RESOURCE_EXHAUSTED if
  // the queue is full.
  grpc::ServerUnaryReactor* RunOnWorker(grpc::CallbackServerContext* context, const char* method,
                                        std::function<absl::Status()> work);

  // Each Retrieve call's request and response on one arena. Declared first:
  // gRPC holds the pointer until the server is gone.
  const BundleSource bundles_;
  const RetrievalServiceOptions options_;
  // What a Retrieve request may hold, checked before parsing.
  UserContextWireRules user_rules_;
  WireLimits retrieve_limits_;
  WireLimits search_limits_, similar_limits_;  // size and unknown fields
  ServerMetrics* const server_metrics_;
  std::unique_ptr<RetrievalMetrics> metrics_;  // null without server_metrics_
  // Reset first by the destructor (drained and joined) while the rest is alive.
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<CandidatePool> pool_;
};

struct RetrievalServerOptions {
  // health_service is forced to kRetrievalServiceName.
  ServerOptions server;
  // registry_root, model_name, poll_interval (and, for tests, loader /
  // production_version). on_change, if set, runs after health flips to SERVING;
  // metrics is set by Start. An empty loader loads BundleParts::kRetrieval
  // (the models plus Search's lexical index).
  BundleHolderOptions bundle;
  RetrievalServiceOptions service;
  // false: no polling thread; the caller drives holder().PollOnce() (tests).
  bool start_polling = true;
};

// One retrieval server: owns the bundle holder, the service and the gRPC server.
// Health is NOT_SERVING until the first bundle loads, then SERVING.
class RetrievalServer : public BundleServer<RetrievalService> {
 public:
  // `metrics` (not owned, may be null) must outlive the server. Unavailable if
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RetrievalServer>> Start(RetrievalServerOptions options,
                                                                ServerMetrics* metrics);

 private:
  RetrievalServer() = default;
};

}  // namespace recsys::retrieval

// Prometheus metrics of one server process, served over HTTP at /metrics.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ServerMetrics> metrics,
//                    ServerMetrics::Create("0.0.0.0:9092"));
//   ...in a handler:
//   RpcRecorder rec(metrics.get(), "recsys.v1.Retrieval", "Retrieve");
//   grpc::Status status = ToGrpcStatus(DoWork());
//   rec.Finish(status);          // IMPORTANT: before reactor->Finish(status),
//   reactor->Finish(status);     // which may free the reactor owning `rec`
//
// Families (grpc-ecosystem names, so stock dashboards and alerts work):
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}           counter
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code} counter
//       grpc_code is the canonical upper-case name ("OK", "INVALID_ARGUMENT"); all 17
//       codes are created (at 0) the first time a method is seen, so rate() and ratios
//       work before the first error.
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}        histogram
//       buckets 0.5 ms … 5 s (kHandlingSecondsBuckets)
//   recsys_bundle_info{name,version}             gauge, 1 for the serving version only
//   recsys_bundle_created_timestamp_seconds      gauge, manifest created_at (Unix s);
//                                                age = time() - this
//   recsys_bundle_load_seconds                   gauge, wall time of the last good load
//   recsys_bundle_loads_total{result="ok"|"error"} counter
//   recsys_build_info{version,commit,build_type} gauge, always 1 (common/build_info.h)
//   process_cpu_seconds_total, process_resident_memory_bytes,
//   process_virtual_memory_bytes, process_open_fds, process_max_fds,
//   process_start_time_seconds    read from /proc at each scrape
//                                 (common/server/process_metrics.h)
// grpc_type is always "unary" (recsys has no streaming RPCs).
// Services add their own families to registry().
//
// The endpoint (common/server/http_server.h) answers GET and HEAD of /metrics; every
// other path is 404, other methods on /metrics 405. It also serves its own
// exposer_scrapes_total, exposer_transferred_bytes_total (counters) and
// exposer_request_latencies (summary, microseconds), the names prometheus-cpp's
// Exposer used.
// Shutdown: destroying a ServerMetrics stops the HTTP server at once; destroy it
// after the gRPC server.
// Threading: every method is safe to call concurrently. Cost of an RPC record: one
// reader-lock map lookup at RpcRecorder construction, then atomic increments.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/server/http_server.h"
#include "common/server/process_metrics.h"

namespace recsys {

// Upper bounds (seconds) of grpc_server_handling_seconds.
inline const std::vector<double> kHandlingSecondsBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// Number of canonical gRPC codes (OK = 0 … UNAUTHENTICATED = 16).
inline constexpr int kNumGrpcCodes = 17;

// The series of one RPC method; pointers stay valid for the ServerMetrics' life.
struct RpcMethodMetrics {
  prometheus::Counter* started = nullptr;
  std::array<prometheus::Counter*, kNumGrpcCodes> handled{};  // by grpc::StatusCode
  prometheus::Histogram* handling_seconds = nullptr;
};

class ServerMetrics {
 public:
  // Creates the registry and binds the HTTP endpoint serving /metrics on
  // `bind_address` ("0.0.0.0:9092", "127.0.0.1:9092", "[::]:9092"; port 0 picks a
  // free port, see port()). `http` sets the endpoint's threads, limits and
  // timeouts (its address field is ignored). InvalidArgument for a malformed
  // address, Unavailable if it cannot be bound.
  static absl::StatusOr<std::unique_ptr<ServerMetrics>> Create(const std::string& bind_address,
                                                               HttpServerOptions http = {});
  // Registry only, no HTTP endpoint (library tests).
  static std::unique_ptr<ServerMetrics> CreateWithoutExposer();

  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;
  ~ServerMetrics();

  // The bound HTTP port, 0 without an exposer.
  int port() const { return port_; }

  // For services' own families: prometheus::BuildCounter()...Register(registry()).
  prometheus::Registry& registry() { return *registry_; }
  // A family source computed at each scrape (after the registry's families),
  // for figures that cost too much to keep current on every call. Held
  // weakly: once its owner drops it, scrapes skip it. Its Collect must be
  // safe to call concurrently with its owner's other methods.
  void AddCollectable(std::weak_ptr<prometheus::Collectable> collectable);

  // The series of one method, created on first use (all codes at 0).
  const RpcMethodMetrics& Method(absl::string_view service, absl::string_view method);

  // One bundle load attempt (`load_time` is recorded for successes only).
  void RecordBundleLoad(bool ok, absl::Duration load_time);
  // The serving bundle changed: moves recsys_bundle_info to `version` and sets the
  // creation timestamp (skipped if `created_at` is InfinitePast(), i.e. unknown).
  void SetBundle(const std::string& name, const std::string& version, absl::Time created_at);

  // The text exposition of the process figures and the registry (what /metrics
  // serves, without the exposer_* families); for tests and debugging.
  std::string SerializeText() const;

 private:
  ServerMetrics();

  // The body of GET /metrics: the scrape families, then registry_.
  std::string RenderScrape();

  // The process figures, then registry_.
  std::vector<prometheus::MetricFamily> CollectOwn() const;

  std::shared_ptr<prometheus::Registry> registry_;
  ProcessCollector process_;
  // The endpoint's own families (exposer_*), served before registry_'s.
  prometheus::Registry scrape_registry_;
  prometheus::Counter& scrapes_;
  prometheus::Counter& transferred_bytes_;
  prometheus::Summary& scrape_microseconds_;
  // Declared after the registries: destroyed first, so no scrape sees a dead one.
  std::unique_ptr<HttpServer> http_server_;
  int port_ = 0;

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Gauge>& bundle_info_;
  prometheus::Gauge& bundle_created_;
  prometheus::Gauge& bundle_load_seconds_;
  prometheus::Family<prometheus::Counter>& bundle_loads_;
  prometheus::Counter& bundle_loads_ok_;
  prometheus::Counter& bundle_loads_error_;

  absl::Mutex methods_mu_;
  // Key "<service>/<method>"; values never move (unique_ptr).
  absl::flat_hash_map<std::string, std::unique_ptr<RpcMethodMetrics>> methods_
      ABSL_GUARDED_BY(methods_mu_);

  absl::Mutex bundle_mu_;
  prometheus::Gauge* bundle_info_current_ ABSL_GUARDED_BY(bundle_mu_) = nullptr;

  mutable absl::Mutex collectables_mu_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_
      ABSL_GUARDED_BY(collectables_mu_);
};

// Records one unary RPC: started at construction, handled + latency at Finish().
// If Finish() is never called the destructor records code UNKNOWN, so started and
// handled always balance. A null `metrics` makes every call a no-op (tests).
// Not thread-safe: one recorder per call, owned by the call (e.g. a reactor member).
class RpcRecorder {
 public:
  RpcRecorder(ServerMetrics* metrics, absl::string_view service, absl::string_view method);
  RpcRecorder(ServerMetrics& metrics, absl::string_view service, absl::string_view method)
      : RpcRecorder(&metrics, service, method) {}
  RpcRecorder(const RpcRecorder&) = delete;
  RpcRecorder& operator=(const RpcRecorder&) = delete;
  ~RpcRecorder();

  // Records the outcome; calls after the first are ignored.
  void Finish(const grpc::Status& status) { Finish(status.error_code()); }
  void Finish(grpc::StatusCode code);

  // Time since construction.
  absl::Duration Elapsed() const;

 private:
  const RpcMethodMetrics* method_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

}  // namespace recsys

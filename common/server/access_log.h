// One access-log line per RPC, for every service, from a gRPC server
// interceptor (AccessLogInterceptorFactory, registered by BundleServer):
//   msg "access", fields method, code, latency_ms, request_id, trace_id,
//   span_id, parent_span_id (when the caller sent a traceparent), peer, and
//   whatever the handler attached with AnnotateCall (the gateway's Recommend:
//   path, degraded_reason).
// The interceptor also owns the call's RequestContext (request_context.h):
// created from the call's metadata, registered for the handler, and the
// request id is returned to the caller as `x-request-id` initial metadata.
//
// Volume: two token buckets per process. Calls that succeeded undegraded
// spend from `ok_per_second`; failed calls (any code but OK) and degraded
// answers spend from `notable_per_second`, so a flood of successes cannot hide
// errors and a flood of errors cannot fill a disk. Lines over budget are
// counted, and the next line written at least `summary_interval` after the
// last summary is preceded by "access log: N lines suppressed". Health checks
// that succeed are not logged (probes would drown everything else).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace recsys {

// Tokens refill at `rate` per second up to `burst`; starts full. rate <= 0
// admits nothing. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst);
  // Takes one token if there is one at time `now` (monotonic in practice;
  // an earlier `now` than the last refill adds nothing).
  bool TryTake(absl::Time now);

 private:
  const double rate_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

struct AccessLogOptions {
  // Lines per second (burst: the same number, at least 1); 0 = none.
  double ok_per_second = 100;
  double notable_per_second = 100;
  absl::Duration summary_interval = absl::Seconds(10);
};

class AccessLogLimiter {
 public:
  explicit AccessLogLimiter(const AccessLogOptions& options);
  // True if a line may be written at `now`. *report_suppressed is set to the
  // number of lines to report as suppressed before it (0 = no summary now).
  bool Admit(bool notable, absl::Time now, int64_t* report_suppressed);
  int64_t suppressed_total() const;

 private:
  const absl::Duration summary_interval_;
  TokenBucket ok_;
  TokenBucket notable_;
  mutable absl::Mutex mu_;
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;  // suppressed, not yet reported
  int64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_summary_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Replaces the process-wide limiter (e.g. from flags at start-up, before
// servers start). Default: AccessLogOptions{}.
void SetAccessLogOptions(const AccessLogOptions& options);
AccessLogLimiter& ProcessAccessLogLimiter();

class AccessLogInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace recsys

#include "common/server/access_log.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/server/grpc_status.h"
#include "common/server/request_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/interceptor.h"

namespace recsys {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Set once at start-up (or lazily to the defaults); read on every call.
std::atomic<AccessLogLimiter*> g_limiter{nullptr};

std::string MetadataValue(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                          const char* key) {
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

class AccessLogInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit AccessLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : ctx_(info->server_context()),
        method_(info->method() != nullptr ? info->method() : ""),
        start_(absl::Now()) {}

  ~AccessLogInterceptor() override {
    if (registered_) CallRegistry::Unregister(ctx_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto* md = methods->GetRecvInitialMetadata();
      context_ = md == nullptr ? MakeRequestContext("", "")
                               : MakeRequestContext(MetadataValue(*md, kRequestIdMetadata),
                                                    MetadataValue(*md, kTraceparentMetadata));
      peer_ = ctx_->peer();
      CallRegistry::Register(ctx_, context_);
      registered_ = true;
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        registered_) {
      methods->GetSendInitialMetadata()->emplace(kRequestIdMetadata, context_.request_id);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Log(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Log(const grpc::Status& status) {
    const bool health = absl::StartsWith(method_, "/grpc.health.v1.Health/");
    if (health && status.ok()) return;
    std::vector<LogField> annotations;
    if (registered_) annotations = CallRegistry::Annotations(ctx_);
    bool degraded = false;
    for (const LogField& f : annotations) {
      if (f.key == "degraded_reason" && !f.value.empty()) degraded = true;
    }
    const bool notable = !status.ok() || degraded;
    const absl::Time now = absl::Now();
    int64_t suppressed = 0;
    const bool admitted = ProcessAccessLogLimiter().Admit(notable, now, &suppressed);
    if (suppressed > 0) {
      LogWithFields(LogSeverity::kWarning, __FILE__, __LINE__,
                    absl::StrCat("access log: ", suppressed, " lines suppressed"),
                    {LogField::Integer("suppressed", suppressed)});
    }
    if (!admitted) return;
    std::vector<LogField> fields;
    fields.reserve(10 + annotations.size());
    fields.push_back(LogField::String("method", method_));
    fields.push_back(LogField::String("code", GrpcCodeName(status.error_code())));
    fields.push_back(
        LogField::Number("latency_ms", absl::ToDoubleMilliseconds(now - start_)));
    fields.push_back(LogField::String("request_id", context_.request_id));
    fields.push_back(LogField::String("trace_id", context_.trace_id));
    fields.push_back(LogField::String("span_id", context_.span_id));
    if (!context_.parent_span_id.empty()) {
      fields.push_back(LogField::String("parent_span_id", context_.parent_span_id));
    }
    fields.push_back(LogField::String("peer", peer_));
    if (!status.ok() && !status.error_message().empty()) {
      fields.push_back(LogField::String("error", status.error_message()));
    }
    for (LogField& f : annotations) fields.push_back(std::move(f));
    LogWithFields(notable ? LogSeverity::kWarning : LogSeverity::kInfo, __FILE__, __LINE__,
                  "access", fields);
  }

  grpc::ServerContextBase* const ctx_;
  const std::string method_;
  const absl::Time start_;
  // Interception hooks of one call run one at a time.
  bool registered_ = false;
  RequestContext context_;
  std::string peer_;
};

}  // namespace

TokenBucket::TokenBucket(double rate, double burst)
    : rate_(rate), burst_(burst), tokens_(burst) {}

bool TokenBucket::TryTake(absl::Time now) {
  if (rate_ <= 0) return false;
  absl::MutexLock lock(&mu_);
  if (last_ != absl::InfinitePast() && now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
  }
  if (now > last_) last_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

AccessLogLimiter::AccessLogLimiter(const AccessLogOptions& options)
    : summary_interval_(options.summary_interval),
      ok_(options.ok_per_second, std::max(1.0, options.ok_per_second)),
      notable_(options.notable_per_second, std::max(1.0, options.notable_per_second)) {}

bool AccessLogLimiter::Admit(bool notable, absl::Time now, int64_t* report_suppressed) {
  *report_suppressed = 0;
  const bool admitted = notable ? notable_.TryTake(now) : ok_.TryTake(now);
  absl::MutexLock lock(&mu_);
  if (!admitted) {
    ++pending_;
    ++total_;
    return false;
  }
  if (pending_ > 0 && now - last_summary_ >= summary_interval_) {
    *report_suppressed = pending_;
    pending_ = 0;
    last_summary_ = now;
  }
  return true;
}

int64_t AccessLogLimiter::suppressed_total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

void SetAccessLogOptions(const AccessLogOptions& options) {
  // The previous limiter is leaked: a call in flight may still hold it.
  g_limiter.store(new AccessLogLimiter(options), std::memory_order_release);
}

AccessLogLimiter& ProcessAccessLogLimiter() {
  AccessLogLimiter* limiter = g_limiter.load(std::memory_order_acquire);
  if (limiter != nullptr) return *limiter;
  auto* fresh = new AccessLogLimiter(AccessLogOptions{});
  if (g_limiter.compare_exchange_strong(limiter, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;  // another thread won; `limiter` holds its value
  return *limiter;
}

grpc::experimental::Interceptor* AccessLogInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new AccessLogInterceptor(info);
}

}  // namespace recsys

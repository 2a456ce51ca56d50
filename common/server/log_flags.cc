#include "common/server/log_flags.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/server/access_log.h"
#include "grpc/support/log.h"

ABSL_FLAG(std::string, log_format, "text",
          "Log line format on stderr: text (human-readable) or json (one JSON object per "
          "line: ts, level, msg, file, line and structured fields)");
ABSL_FLAG(double, access_log_rate, 100,
          "Most access-log lines per second for successful RPCs (0 = none)");
ABSL_FLAG(double, access_log_error_rate, 100,
          "Most access-log lines per second for failed RPCs and degraded answers (0 = none); "
          "lines over either rate are counted and reported");

namespace recsys {
namespace {

// gRPC logs one line per undecodable or refused message: a caller sending
// garbage must not be able to flood the log. A token bucket (kGrpcLinesPerSecond,
// burst kGrpcLineBurst) passes lines; the ones dropped are counted and the count
// is attached to the next line that passes.
constexpr double kGrpcLinesPerSecond = 5;
constexpr double kGrpcLineBurst = 20;

struct GrpcLogThrottle {
  absl::Mutex mu;
  double tokens ABSL_GUARDED_BY(mu) = kGrpcLineBurst;
  absl::Time refilled ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  int64_t dropped ABSL_GUARDED_BY(mu) = 0;
};

GrpcLogThrottle& Throttle() {
  static auto* throttle = new GrpcLogThrottle();
  return *throttle;
}

void GrpcLogToRecsysLog(gpr_log_func_args* args) {
  int64_t dropped_before = 0;
  {
    GrpcLogThrottle& t = Throttle();
    absl::MutexLock lock(&t.mu);
    const absl::Time now = absl::Now();
    if (t.refilled != absl::InfinitePast()) {
      t.tokens = std::min(kGrpcLineBurst,
                          t.tokens + absl::ToDoubleSeconds(now - t.refilled) * kGrpcLinesPerSecond);
    }
    t.refilled = now;
    if (t.tokens < 1) {
      ++t.dropped;
      return;
    }
    t.tokens -= 1;
    dropped_before = t.dropped;
    t.dropped = 0;
  }
  const LogSeverity severity =
      args->severity == GPR_LOG_SEVERITY_ERROR ? LogSeverity::kError : LogSeverity::kInfo;
  std::vector<LogField> fields = {LogField::String("component", "grpc")};
  if (dropped_before > 0) fields.push_back(LogField::Integer("grpc_lines_dropped", dropped_before));
  LogWithFields(severity, args->file != nullptr ? args->file : "grpc", args->line,
                args->message != nullptr ? args->message : "", fields);
}

}  // namespace

void RouteGrpcLogsToRecsysLog() { gpr_set_log_function(GrpcLogToRecsysLog); }

void ConfigureLoggingFromFlags() {
  LogFormat format;
  const std::string name = absl::GetFlag(FLAGS_log_format);
  const bool format_ok = ParseLogFormat(name, &format);
  if (format_ok) SetLogFormat(format);
  RouteGrpcLogsToRecsysLog();
  if (!format_ok) {
    LOG(ERROR) << "--log_format must be text or json, not \"" << name << "\"";
    std::exit(2);
  }
  AccessLogOptions access;
  access.ok_per_second = absl::GetFlag(FLAGS_access_log_rate);
  access.notable_per_second = absl::GetFlag(FLAGS_access_log_error_rate);
  if (!(access.ok_per_second >= 0) || !(access.notable_per_second >= 0)) {
    LOG(ERROR) << "--access_log_rate and --access_log_error_rate must be >= 0";
    std::exit(2);
  }
  SetAccessLogOptions(access);
}

}  // namespace recsys

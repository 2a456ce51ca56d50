#include "common/server/log_flags.h"

#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
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

void GrpcLogToRecsysLog(gpr_log_func_args* args) {
  const LogSeverity severity =
      args->severity == GPR_LOG_SEVERITY_ERROR ? LogSeverity::kError : LogSeverity::kInfo;
  LogWithFields(severity, args->file != nullptr ? args->file : "grpc", args->line,
                args->message != nullptr ? args->message : "",
                {LogField::String("component", "grpc")});
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

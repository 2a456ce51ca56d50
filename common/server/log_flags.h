// The logging flags every service binary shares, and the one call that applies
// them:
//   --log_format=text|json   (see common/log.h for both formats)
//   --access_log_rate=100    access lines per second for successful calls; 0 = none
//   --access_log_error_rate=100  access lines per second for failed or degraded
//                                calls; 0 = none (see access_log.h)
#pragma once

namespace recsys {

// Call in main() right after absl::ParseCommandLine, before servers start.
// Applies the flags, and routes gRPC's own log lines (gpr_log) through
// common/log.h so they share the format (gpr DEBUG and INFO -> INFO, ERROR ->
// ERROR, with field "component":"grpc"). On an invalid flag value, logs why
// and exits the process with status 2.
void ConfigureLoggingFromFlags();

// Only the gRPC routing (no flags); used by ConfigureLoggingFromFlags.
void RouteGrpcLogsToRecsysLog();

}  // namespace recsys

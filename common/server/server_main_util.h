// What every recsys server main() does around its service: build and start a gRPC
// server with health + reflection and production channel settings, drive health
// from the model bundle, and drain gracefully on SIGTERM. All three services
// start the same way (see BundleServer in bundle_server.h): listen at once,
// NOT_SERVING until the first bundle is loaded, SERVING after.
//
//   ABSL_FLAG(...);  // --registry, --name, --port, --metrics_port, --poll_interval, --drain, ...
//   int main(int argc, char** argv) {
//     recsys::BlockTerminationSignals();          // IMPORTANT: before any thread starts
//     recsys::ConfigureServingProcess();
//     recsys::ParseFlags(argc, argv, "recsys-ranking", "...");  // common/cli_flags.h
//     RankingServerOptions o;  ... from the flags ...
//     std::string bad = recsys::CommonServiceFlagError(name, port, metrics_port,
//                                                      poll_interval, drain);
//     if (bad.empty()) bad = ...service-specific checks...;
//     std::unique_ptr<recsys::ServerMetrics> metrics;
//     if (auto code = recsys::FinishStartupChecks(bad, o.bundle.registry_root,
//                                                 metrics_port, &metrics)) {
//       return *code;
//     }
//     o.server.address = absl::StrCat("0.0.0.0:", port);
//     auto server = RankingServer::Start(std::move(o), metrics.get());  // listening, NOT_SERVING
//     if (!server.ok()) { LOG(ERROR) << server.status(); return 1; }
//     LOG(INFO) << "recsys-ranking: gRPC on port " << (*server)->port() << ...;
//     return recsys::ServeUntilTerminated(*std::move(server), std::move(metrics), drain,
//                                         "recsys-ranking");
//   }
//
// Kubernetes: the pod's readiness probe should use grpc.health.v1 Check for
// health_service (or ""); SIGTERM flips both to NOT_SERVING and then drains.
// SIGHUP re-reads the registry's production alias at once and logs the result;
// the process keeps serving.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/metrics.h"
#include "common/server/tls_credentials.h"

namespace recsys {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (returned in StartedServer).
  std::string address = "0.0.0.0:0";
  // Largest request / response accepted, bytes.
  int max_receive_message_bytes = 16 << 20;
  int max_send_message_bytes = 16 << 20;
  // gRPC's memory quota for the server's transport buffers, bytes (0 = none).
  // Without it, 16 clients sending 16 MiB requests made gRPC buffer ~100-200 MB
  // before the size limit refused them; under the quota it slows reading
  // instead. 16 x 16 MiB per method (bench/scripts/hostile_requests.py):
  // +67 MB at most with 24 MiB, 112-161 MB with 48 MiB; legitimate requests
  // (KBs, at most the 1 MiB ranking limit) are unaffected (recsys-load c=64:
  // no errors). Parsed requests are not counted: see the per-method wire limits.
  int64_t memory_quota_bytes = 24 << 20;
  // A connection is sent GOAWAY after this age (±10 % jitter added by gRPC), so
  // clients holding long-lived HTTP/2 connections reconnect and spread over new
  // replicas; in-flight calls get max_connection_age_grace to finish.
  absl::Duration max_connection_age = absl::Minutes(5);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  // Idle connections (no calls) are closed after this.
  absl::Duration max_connection_idle = absl::Minutes(15);
  // The server pings a connection idle for keepalive_time and drops it if no ack
  // arrives within keepalive_timeout (dead peers behind NAT / load balancers).
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Client keepalive pings closer together than this are strikes (GOAWAY
  // "too_many_pings" after 2). Clients must use a keepalive time >= this.
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  // The service name whose health (with the overall "") starts NOT_SERVING,
  // e.g. "recsys.v1.Retrieval". Empty = only "".
  std::string health_service;
  // TLS of the listening port (all empty = plaintext) and the per-call check
  // of tokens (null = none; e.g. a TokenAuthProcessor). With `auth` but no
  // TLS the port accepts loopback peers only (see MakeServerCredentials).
  TlsServerFiles tls;
  std::shared_ptr<grpc::AuthMetadataProcessor> auth;
};

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port (the selected one when options.address had port 0)
};

// Enables the default health service and the reflection plugin (both process-wide,
// so they precede the ServerBuilder's construction), applies `options`, registers
// `services` (not owned; they must outlive the server), runs `customize` (extra
// builder settings, may be empty), starts the server and sets health NOT_SERVING
// for "" and options.health_service. Unavailable if the address cannot be bound;
// the errors of MakeServerCredentials when options.tls cannot be used.
// gRPC's health service starts with "" SERVING, so a check of "" that lands
// between the start and this call reads SERVING for an instant: readiness
// checks must name the service (the Kubernetes probes, demo and tests do).
absl::StatusOr<StartedServer> BuildAndStartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services,
    const std::function<void(grpc::ServerBuilder&)>& customize = {});

// Sets the health of the overall service "" and of `service` (if not empty).
// No-op after ShutdownGracefully (the health service then ignores updates).
void SetServing(grpc::Server* server, const std::string& service, bool serving);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads created
// afterwards inherit the mask, so the signals stay pending until a sigwait
// (WaitForTerminationSignal, WaitForServiceSignalFor) takes them.
// IMPORTANT: call first thing in main(), before gRPC, prometheus or the bundle
// holder start threads; a thread created earlier could take the signal and die.
void BlockTerminationSignals();

// The flag checks every registry-backed service binary shares: --name is a
// plain non-empty name, --port and --metrics_port in 0..65535, --poll_interval
// positive, --drain not negative. Returns what is wrong ("" when all hold);
// main() logs it and exits 2.
std::string CommonServiceFlagError(const std::string& name, int port, int metrics_port,
                                   absl::Duration poll_interval, absl::Duration drain);
// --keep_previous_bundle (shared by the three services), for
// BundleHolderOptions::keep_previous.
bool KeepPreviousBundleFlag();
// True if --registry is an existing directory; logs why not (main exits 1).
bool RegistryDirectoryExists(const std::string& registry);

// Where a service's /metrics endpoint listens: --metrics_address (shared by
// every service binary; default 0.0.0.0, every IPv4 interface) with
// `metrics_port`, e.g. "0.0.0.0:9092" or "[::1]:9092". For ServerMetrics::Create.
std::string MetricsListenAddress(int metrics_port);

// The end of every service main's checks: a non-empty `bad_flag` is logged and
// answers exit code 2; a --registry that is not a directory answers 1; then the
// /metrics endpoint is started on MetricsListenAddress(metrics_port) into
// `*metrics` (1 when it cannot be). nullopt: all good, go on.
std::optional<int> FinishStartupChecks(const std::string& bad_flag, const std::string& registry,
                                       int metrics_port, std::unique_ptr<ServerMetrics>* metrics);


// Process settings for serving, called at the start of each service main():
// turns off absl::Mutex deadlock detection, which Debian's Abseil build leaves
// on — it updates a global lock graph on every acquisition (a measurable share
// of the gateway's CPU under load). Tests keep detection on.
void ConfigureServingProcess();

// Blocks until SIGTERM or SIGINT is delivered (sigwait; nothing runs in a signal
// handler) and returns the signal number. Requires BlockTerminationSignals().
int WaitForTerminationSignal();
// As WaitForTerminationSignal, but returns 0 once `timeout` has passed without
// one (an infinite timeout waits for ever).
int WaitForTerminationSignalFor(absl::Duration timeout);

// As WaitForTerminationSignalFor, but SIGHUP also ends the wait (and is returned).
int WaitForServiceSignalFor(absl::Duration timeout);

// What a service does on SIGHUP: re-reads the registry's production alias at
// once through `poll` (BundleHolder::PollOnce: loads and swaps if it moved; a
// load blocks the caller) and logs one INFO line naming `binary` and the result:
// "reloaded VERSION", "unchanged, serving VERSION" or "refused: REASON".
// `version` returns the serving version ("" = none). Logs go to stderr only, so
// there are no log files to reopen (the line says so).
void ReloadOnHangup(const std::string& binary, const std::function<std::string()>& version,
                    const std::function<absl::Status()>& poll);

// Sets every health status NOT_SERVING (and freezes them: later SetServing calls
// are ignored), stops accepting calls and waits up to `drain` for in-flight calls,
// then cancels the rest. Returns when the server has shut down.
void ShutdownGracefully(grpc::Server* server, absl::Duration drain);

// WaitForTerminationSignal() then ShutdownGracefully(); returns the signal. main()
// then stops its own threads and returns 0.
int WaitForTerminationAndShutdown(grpc::Server* server, absl::Duration drain);

// Used by ServeUntilTerminated.
void LogTerminationSignal(int sig, absl::Duration drain);
void LogStartupTimeout(const std::string& binary, absl::Duration startup_timeout);
void LogStopped(const std::string& binary);

// A service main()'s end: waits for SIGTERM/SIGINT, drains `server` (a
// BundleServer) for up to `drain`, destroys it before the metrics it records
// into, logs "`binary` stopped" and returns main's exit code: 0, or 1 when the
// server had no bundle `startup_timeout` after this call (it is then shut
// down without a drain; the default never gives up). SIGHUP never ends the
// wait: each one runs ReloadOnHangup on server->holder() (this thread) and the
// wait goes on. `on_hangup` (may be empty) runs after each reload (e.g.
// ReloadTokensOnHangup). `after_drain` (may be empty) runs once the server has
// drained and before it is destroyed (e.g. to stop a transport that calls it
// in-process).
template <typename Server, typename Metrics>
int ServeUntilTerminated(std::unique_ptr<Server> server, std::unique_ptr<Metrics> metrics,
                         absl::Duration drain, const std::string& binary,
                         absl::Duration startup_timeout = absl::InfiniteDuration(),
                         const std::function<void()>& on_hangup = {},
                         const std::function<void()>& after_drain = {}) {
  int exit_code = 0;
  const absl::Time give_up = startup_timeout == absl::InfiniteDuration()
                                 ? absl::InfiniteFuture()
                                 : absl::Now() + startup_timeout;
  while (true) {
    const absl::Duration wait =
        server->has_bundle() ? absl::InfiniteDuration() : give_up - absl::Now();
    const int sig = WaitForServiceSignalFor(wait);
    if (sig == SIGHUP) {
      auto& holder = server->holder();
      ReloadOnHangup(
          binary, [&holder] { return holder.version(); },
          [&holder] { return holder.PollOnce(); });
      if (on_hangup) on_hangup();
      continue;
    }
    if (sig == 0) {
      if (server->has_bundle()) continue;  // loaded just at the timeout: serve on
      LogStartupTimeout(binary, startup_timeout);
      exit_code = 1;
      drain = absl::ZeroDuration();
      break;
    }
    LogTerminationSignal(sig, drain);
    break;
  }
  server->Shutdown(drain);
  if (after_drain) after_drain();
  server.reset();  // the gRPC server (and its workers) before the metrics
  metrics.reset();
  LogStopped(binary);
  return exit_code;
}

}  // namespace recsys

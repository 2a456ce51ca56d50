#include "common/server/server_main_util.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "common/server/health_service.h"
#include "common/server/http_server.h"

ABSL_FLAG(std::string, metrics_address, "0.0.0.0",
          "Address the Prometheus /metrics endpoint listens on (its port is --metrics_port): "
          "0.0.0.0 = every IPv4 interface, 127.0.0.1 = this host only, :: = every IPv6 and "
          "IPv4 interface, or one interface's address or a host name. Paths other than "
          "/metrics answer 404.");
ABSL_FLAG(bool, keep_previous_bundle, true,
          "Keep the bundle a swap replaced, so that moving the production alias back to it "
          "(a rollback) swaps without a load; costs the memory of a second bundle");

namespace recsys {

bool KeepPreviousBundleFlag() { return absl::GetFlag(FLAGS_keep_previous_bundle); }
namespace {

// Channel args are int milliseconds; infinite or huge durations saturate.
int Millis(absl::Duration d) {
  if (d >= absl::Milliseconds(INT_MAX)) return INT_MAX;
  if (d <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// What a service main() waits for: termination plus SIGHUP (reload).
sigset_t ServiceSignals() {
  sigset_t set = TerminationSignals();
  sigaddset(&set, SIGHUP);
  return set;
}

// sigtimedwait on `set` for up to `timeout`: the signal, or 0 after the timeout.
int WaitForSignalInFor(const sigset_t& set, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = std::max(absl::ZeroDuration(), end - absl::Now());
    const timespec wait = absl::ToTimespec(left);
    const int sig = sigtimedwait(&set, nullptr, &wait);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    if (errno != EINTR) {
      LOG(FATAL) << "sigtimedwait: " << std::strerror(errno);
    }
  }
}

int WaitForSignalIn(const sigset_t& set) {
  int sig = 0;
  while (true) {
    int rc = sigwait(&set, &sig);
    if (rc == 0) return sig;
    if (rc != EINTR) {
      LOG(FATAL) << "sigwait: " << std::strerror(rc);
    }
  }
}

}  // namespace

absl::StatusOr<StartedServer> BuildAndStartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services,
    const std::function<void(grpc::ServerBuilder&)>& customize) {
  // Both are process-wide switches read when a ServerBuilder is constructed
  // (plugins) or built (health): they must come first.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.tls, options.auth);
  if (!credentials.ok()) return credentials.status();

  grpc::ServerBuilder builder;
  // Our health service (health_service.h): NOT_SERVING from the first instant,
  // where gRPC's default reports "" SERVING until told otherwise. The server
  // owns it (the option) and serves it (registered like any service).
  auto health = std::make_unique<HealthService>();
  builder.RegisterService(health.get());
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(
      std::unique_ptr<grpc::HealthCheckServiceInterface>(health.release())));
  int port = 0;
  builder.AddListeningPort(options.address, *credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  if (options.memory_quota_bytes > 0) {
    grpc::ResourceQuota quota("recsys-server");
    quota.Resize(static_cast<size_t>(options.memory_quota_bytes));
    builder.SetResourceQuota(quota);
  }
  // Milliseconds.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(options.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(options.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(options.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Millis(options.min_client_ping_interval));
  // Clients may keep idle connections alive with pings (boolean).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC sets SO_REUSEPORT by default, which lets a second process silently share
  // our port; a port clash must fail start-up instead (boolean).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (customize) customize(builder);

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot start a gRPC server on ", options.address,
                                               " (address in use or invalid?)"));
  }
  SetServing(server.get(), options.health_service, false);
  LOG(INFO) << "gRPC server listening on " << options.address << " (port " << port << ")";
  return StartedServer{std::move(server), port};
}

void SetServing(grpc::Server* server, const std::string& service, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  if (!service.empty()) health->SetServingStatus(service, serving);
}

std::string CommonServiceFlagError(const std::string& name, int port, int metrics_port,
                                   absl::Duration poll_interval, absl::Duration drain) {
  if (const absl::Status s = ValidateModelName(name); !s.ok()) {
    return absl::StrCat("--name: ", s.message());
  }
  if (port < 0 || port > 65535 || metrics_port < 0 || metrics_port > 65535) {
    return "--port and --metrics_port must be in 0..65535";
  }
  if (poll_interval <= absl::ZeroDuration()) return "--poll_interval must be positive";
  if (drain < absl::ZeroDuration()) return "--drain must not be negative";
  return "";
}

bool RegistryDirectoryExists(const std::string& registry) {
  std::error_code ec;
  if (std::filesystem::is_directory(registry, ec)) return true;
  LOG(ERROR) << "--registry " << registry << " is not a directory";
  return false;
}

std::string MetricsListenAddress(int metrics_port) {
  return JoinHostPort(absl::GetFlag(FLAGS_metrics_address), metrics_port);
}

std::optional<int> FinishStartupChecks(const std::string& bad_flag, const std::string& registry,
                                       int metrics_port, std::unique_ptr<ServerMetrics>* metrics) {
  if (!bad_flag.empty()) {
    LOG(ERROR) << bad_flag;
    return 2;
  }
  if (!RegistryDirectoryExists(registry)) return 1;
  auto created = ServerMetrics::Create(MetricsListenAddress(metrics_port));
  if (!created.ok()) {
    LOG(ERROR) << "cannot start the metrics endpoint: " << created.status();
    return 1;
  }
  *metrics = *std::move(created);
  return std::nullopt;
}

void LogTerminationSignal(int sig, absl::Duration drain) {
  LOG(INFO) << "received signal " << sig << ", draining for up to " << drain;
}

void LogStartupTimeout(const std::string& binary, absl::Duration startup_timeout) {
  LOG(ERROR) << binary << ": no loadable production bundle within " << startup_timeout
             << " (--startup_timeout); giving up";
}

void LogStopped(const std::string& binary) { LOG(INFO) << binary << " stopped"; }

void ConfigureServingProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

namespace {

// The thread that called BlockTerminationSignals (main), for the forwarder.
pid_t g_signal_thread = 0;

// Runs on a thread that does not block the service signals: one started
// before main() (OpenBLAS starts its workers from a library constructor), so
// without this a SIGHUP or SIGTERM picked by the kernel for such a thread
// would take its default action and end the process. Forwards the signal to
// the main thread, which blocks it, so its sigwait sees it. Async-signal-safe
// (raw syscalls only).
void ForwardToMainThread(int sig) {
  const int saved_errno = errno;
  syscall(SYS_tgkill, getpid(), g_signal_thread, sig);
  errno = saved_errno;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = ServiceSignals();
  int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) {
    LOG(FATAL) << "pthread_sigmask: " << std::strerror(rc);
  }
  g_signal_thread = static_cast<pid_t>(syscall(SYS_gettid));
  struct sigaction forward = {};
  forward.sa_handler = ForwardToMainThread;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    if (sigismember(&set, sig) == 1 && sigaction(sig, &forward, nullptr) != 0) {
      LOG(FATAL) << "sigaction: " << std::strerror(errno);
    }
  }
}

int WaitForTerminationSignal() { return WaitForSignalIn(TerminationSignals()); }

int WaitForTerminationSignalFor(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return WaitForTerminationSignal();
  return WaitForSignalInFor(TerminationSignals(), timeout);
}

int WaitForServiceSignalFor(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return WaitForSignalIn(ServiceSignals());
  return WaitForSignalInFor(ServiceSignals(), timeout);
}

void ReloadOnHangup(const std::string& binary, const std::function<std::string()>& version,
                    const std::function<absl::Status()>& poll) {
  const std::string before = version();
  const absl::Status status = poll();
  const std::string after = version();
  std::string result;
  if (!status.ok()) {
    result = absl::StrCat(
        "refused: ", status.ToString(), "; ",
        before.empty() ? "no bundle serving yet" : absl::StrCat("still serving ", before));
  } else if (after != before) {
    result =
        absl::StrCat("reloaded ", after, before.empty() ? "" : absl::StrCat(" (was ", before, ")"));
  } else {
    result = absl::StrCat("unchanged, serving ", after);
  }
  LOG(INFO) << binary << ": SIGHUP: re-read the registry's production alias: " << result
            << " (logs go to stderr only: no log files to reopen)";
}

void ShutdownGracefully(grpc::Server* server, absl::Duration drain) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  // Every status NOT_SERVING, and later updates (a bundle swap) are ignored.
  if (health != nullptr) health->Shutdown();
  LOG(INFO) << "draining the gRPC server for up to " << drain;
  const absl::Time start = absl::Now();
  server->Shutdown(absl::ToChronoTime(start + drain));
  LOG(INFO) << "gRPC server stopped after " << absl::Now() - start;
}

int WaitForTerminationAndShutdown(grpc::Server* server, absl::Duration drain) {
  int sig = WaitForTerminationSignal();
  LOG(INFO) << "received "
            << (sig == SIGTERM  ? "SIGTERM"
                : sig == SIGINT ? "SIGINT"
                                : "signal")
            << ", shutting down";
  ShutdownGracefully(server, drain);
  return sig;
}

}  // namespace recsys

// recsys-gateway: the public recsys.v1.Recommender endpoint.
//   recsys-gateway --registry registry --name movielens \
//     --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 \
//     --port 50051 --metrics_port 9091 --state_dir state/
#include <algorithm>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/cli_flags.h"
#include "common/log.h"
#include "common/server/metrics.h"
#include "common/server/security_flags.h"
#include "common/server/server_main_util.h"
#include "common/server/tls_credentials.h"
#include "gateway/backend_channel.h"
#include "gateway/budget.h"
#include "gateway/gateway_server.h"
#include "gateway/requests.h"
#include "gateway/user_store.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(std::string, retrieval, "dns:///localhost:50052", "Retrieval service target");
ABSL_FLAG(std::string, ranking, "dns:///localhost:50053", "Ranking service target");
ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one)");
ABSL_FLAG(int, metrics_port, 9091, "Prometheus /metrics port");
ABSL_FLAG(std::string, state_dir, "state", "Directory of the user store's write-ahead log");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(10),
          "How often to read the production alias (SIGHUP reads it at once)");
ABSL_FLAG(absl::Duration, startup_timeout, absl::Minutes(5),
          "How long to wait for the first bundle before giving up");
ABSL_FLAG(absl::Duration, default_deadline, absl::Milliseconds(50),
          "Budget of a Recommend call whose caller sent no deadline");
ABSL_FLAG(double, retrieval_share, 0.6, "Share of the usable budget given to retrieval");
ABSL_FLAG(absl::Duration, margin, recsys::gateway::BudgetOptions{}.margin,
          "Budget kept for the gateway's own work after ranking (fallback, assembly, the "
          "answer's way back): min(--margin, 25% of the call's deadline), so small "
          "deadlines keep time for retrieval and ranking");
ABSL_FLAG(int, max_inflight, 512, "Concurrent Recommend calls before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_k, 100, "Largest k a caller may ask for");
ABSL_FLAG(int, max_history, recsys::gateway::RequestLimits{}.max_history,
          "Most recent history events sent downstream (stored ones, then extra_history; "
          "also the most extra_history events a request may carry). Retrieval's and "
          "ranking's --max_history must be at least this");
ABSL_FLAG(int, feedback_workers, 32,
          "Threads waiting on durable Feedback appends; appends waiting together share one fsync");
ABSL_FLAG(int, cache_mb, 128,
          "Memory for the exact answer cache of Recommend, MiB (0 disables it)");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Seconds(60),
          "Longest a cached answer is served (the key already covers history, options "
          "and model version)");
ABSL_FLAG(bool, fsync, true, "fsync the write-ahead log before acknowledging (off: tests only)");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(10), "Graceful-shutdown drain deadline");
ABSL_FLAG(std::string, backend_tls_ca, "",
          "PEM CA the retrieval and ranking certificates must chain to: the gateway reaches "
          "them over TLS. Empty = plaintext");
ABSL_FLAG(std::string, backend_tls_cert, "",
          "PEM client certificate the gateway presents to retrieval and ranking (mTLS; with "
          "--backend_tls_key)");
ABSL_FLAG(std::string, backend_tls_key, "", "PEM private key of --backend_tls_cert");
ABSL_FLAG(std::string, backend_tls_server_name, "",
          "Name checked against the backends' certificates instead of the host in "
          "--retrieval / --ranking (e.g. when they are reached by IP). Empty = that host");
ABSL_FLAG(std::string, backend_token_file, "",
          "File whose first line is the token sent to retrieval and ranking (when they run "
          "with --auth_tokens). Empty = none");

int main(int argc, char** argv) {
  recsys::BlockTerminationSignals();  // before any thread exists
  recsys::ConfigureServingProcess();
  recsys::ParseFlags(argc, argv, "recsys-gateway", "the public recsys.v1.Recommender API");
  recsys::ConfigureLoggingFromFlags();

  namespace gateway = recsys::gateway;
  gateway::GatewayServerOptions o;
  o.bundle.registry_root = absl::GetFlag(FLAGS_registry);
  o.bundle.model_name = absl::GetFlag(FLAGS_name);
  o.bundle.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  o.service.budget.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  o.service.budget.retrieval_share = absl::GetFlag(FLAGS_retrieval_share);
  o.service.budget.margin = absl::GetFlag(FLAGS_margin);
  o.service.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  o.service.limits.max_k = absl::GetFlag(FLAGS_max_k);
  o.service.limits.max_history = absl::GetFlag(FLAGS_max_history);
  o.service.feedback_workers = absl::GetFlag(FLAGS_feedback_workers);
  o.service.cache.max_bytes = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_cache_mb))) << 20;
  o.service.cache.ttl = absl::GetFlag(FLAGS_cache_ttl);
  gateway::EmbeddedUserStoreOptions store_options;
  store_options.state_dir = absl::GetFlag(FLAGS_state_dir);
  store_options.wal.fsync = absl::GetFlag(FLAGS_fsync);
  const int port = absl::GetFlag(FLAGS_port);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  const absl::Duration startup_timeout = absl::GetFlag(FLAGS_startup_timeout);
  std::string bad_flag = recsys::CommonServiceFlagError(o.bundle.model_name, port, metrics_port,
                                                        o.bundle.poll_interval, drain);
  if (!bad_flag.empty()) {
    // reported below
  } else if (startup_timeout <= absl::ZeroDuration()) {
    bad_flag = "--startup_timeout must be positive";
  } else if (o.service.budget.default_deadline <= absl::ZeroDuration()) {
    bad_flag = "--default_deadline must be positive";
  } else if (o.service.max_inflight < 1 || o.service.feedback_workers < 1) {
    bad_flag = "--max_inflight and --feedback_workers must be >= 1";
  } else if (o.service.limits.max_k < 1 || o.service.limits.max_history < 0) {
    bad_flag = "--max_k must be >= 1 and --max_history >= 0";
  }
  gateway::BackendSecurity backend;
  backend.tls.ca_file = absl::GetFlag(FLAGS_backend_tls_ca);
  backend.tls.cert_file = absl::GetFlag(FLAGS_backend_tls_cert);
  backend.tls.key_file = absl::GetFlag(FLAGS_backend_tls_key);
  backend.tls.server_name = absl::GetFlag(FLAGS_backend_tls_server_name);
  if (bad_flag.empty()) bad_flag = recsys::ServerSecurityFlagError();
  if (bad_flag.empty()) {
    if (std::string bad = recsys::TlsClientFilesError(backend.tls); !bad.empty()) {
      bad_flag = absl::StrCat("--backend_tls_*: ", bad);
    }
  }
  std::unique_ptr<recsys::ServerMetrics> metrics;
  if (auto code =
          recsys::FinishStartupChecks(bad_flag, o.bundle.registry_root, metrics_port, &metrics)) {
    return *code;
  }
  // Every acknowledged Feedback is replayed now; the training histories are
  // seeded under them once the first bundle loads. Outlives the server.
  auto store = gateway::EmbeddedUserStore::Open(store_options);
  if (!store.ok()) {
    LOG(ERROR) << "user store in " << store_options.state_dir << ": " << store.status();
    return 1;
  }
  std::shared_ptr<recsys::TokenAuthProcessor> auth;
  if (absl::Status s =
          recsys::ApplyServerSecurityFlags(recsys::AuthPolicy::Gateway(), metrics.get(),
                                           &o.server, &auth);
      !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_backend_token_file); !path.empty()) {
    auto token = recsys::ReadSecretFile(path);
    if (!token.ok()) {
      LOG(ERROR) << "--backend_token_file: " << token.status();
      return 1;
    }
    backend.token = *std::move(token);
  }
  auto retrieval = gateway::MakeBackendChannel(absl::GetFlag(FLAGS_retrieval), backend);
  auto ranking = gateway::MakeBackendChannel(absl::GetFlag(FLAGS_ranking), backend);
  if (!retrieval.ok() || !ranking.ok()) {
    LOG(ERROR) << "backend channels: " << (retrieval.ok() ? ranking.status() : retrieval.status());
    return 1;
  }
  LOG(INFO) << "backends: " << (backend.tls.enabled() ? "TLS" : "plaintext")
            << (backend.tls.cert_file.empty() ? "" : " with a client certificate")
            << (backend.token.empty() ? "" : ", with a token");
  o.retrieval = *std::move(retrieval);
  o.ranking = *std::move(ranking);
  o.server.address = absl::StrCat("0.0.0.0:", port);
  auto server = gateway::GatewayServer::Start(std::move(o), store->get(), metrics.get());
  if (!server.ok()) {
    LOG(ERROR) << "cannot start the gateway server: " << server.status();
    return 1;
  }
  LOG(INFO) << "recsys-gateway: gRPC on port " << (*server)->port() << ", /metrics on port "
            << metrics->port() << ", " << (*store)->stats().replayed_records
            << " logged events replayed; NOT_SERVING until a bundle loads";

  return recsys::ServeUntilTerminated(*std::move(server), std::move(metrics), drain,
                                      "recsys-gateway", startup_timeout,
                                      [&auth] { recsys::ReloadTokensOnHangup(auth.get()); });
}

// recsys-retrieval: serves recsys.v1.Retrieval from the registry's production bundle.
//   recsys-retrieval --registry registry --name movielens --port 50052 --metrics_port 9092
#include <omp.h>

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
#include "retrieval_service/requests.h"
#include "retrieval_service/service.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(int, port, 50052, "gRPC port (0 picks a free one)");
ABSL_FLAG(int, metrics_port, 9092, "Port of the Prometheus /metrics endpoint");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(10),
          "How often the registry's production alias is read for a new bundle (SIGHUP reads "
          "it at once)");
ABSL_FLAG(int, workers, 4, "Worker threads running retrieval sources, Search and SimilarItems");
ABSL_FLAG(int, queue_capacity, 256,
          "Tasks that may wait for a worker; beyond it sources are skipped and new requests "
          "get RESOURCE_EXHAUSTED");
ABSL_FLAG(absl::Duration, deadline_margin, absl::Milliseconds(1),
          "A source does not start later than the request deadline minus this");
ABSL_FLAG(int, max_k, 1000, "Largest k of Search / SimilarItems and of a per-source quota");
ABSL_FLAG(int, max_history, recsys::retrieval::RequestLimits{}.max_history,
          "Most history events one Retrieve request may carry (at least the gateway's "
          "--max_history)");
ABSL_FLAG(int64_t, grpc_memory_mb, recsys::ServerOptions{}.memory_quota_bytes >> 20,
          "gRPC memory quota for transport buffers, MiB (0 = unlimited)");
ABSL_FLAG(int64_t, max_request_bytes, recsys::retrieval::RequestLimits{}.max_request_bytes,
          "Largest request, bytes (Retrieve: checked with the count limits before parsing)");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls may finish before they are cancelled");
ABSL_FLAG(std::string, signals_key_file, "",
          "File whose first line is the key shared with ranking's --signals_key_file (at least "
          "16 bytes, e.g. `openssl rand -hex 32`): candidate signals sent to ranking are "
          "signed with HMAC-SHA256. Empty = unsigned");
ABSL_FLAG(std::string, shard, "",
          "Serve one catalogue shard, i/N (e.g. 0/2): only items whose id hashes to shard i "
          "are returned by Retrieve, for a gateway that fans out to all N (its "
          "--retrieval_shards). Empty = the whole catalogue");
ABSL_FLAG(int, omp_threads, 1,
          "OpenMP threads FAISS may use per search (requests already run in parallel on "
          "the workers; more threads oversubscribe the cores)");

int main(int argc, char** argv) {
  recsys::BlockTerminationSignals();  // before any thread exists
  recsys::ConfigureServingProcess();
  recsys::ParseFlags(argc, argv, "recsys-retrieval",
                     "Serve recsys.v1.Retrieval from a model registry");
  recsys::ConfigureLoggingFromFlags();

  namespace retrieval = recsys::retrieval;
  retrieval::RetrievalServerOptions o;
  o.bundle.registry_root = absl::GetFlag(FLAGS_registry);
  o.bundle.model_name = absl::GetFlag(FLAGS_name);
  o.bundle.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  o.bundle.keep_previous = recsys::KeepPreviousBundleFlag();
  o.service.workers = absl::GetFlag(FLAGS_workers);
  o.service.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  o.service.deadline_margin = absl::GetFlag(FLAGS_deadline_margin);
  o.service.limits.max_k = absl::GetFlag(FLAGS_max_k);
  o.service.limits.max_history = absl::GetFlag(FLAGS_max_history);
  o.service.limits.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  const int port = absl::GetFlag(FLAGS_port);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  const int omp_threads = absl::GetFlag(FLAGS_omp_threads);
  const absl::StatusOr<recsys::ShardSpec> shard = recsys::ParseShardSpec(absl::GetFlag(FLAGS_shard));
  std::string bad_flag = recsys::CommonServiceFlagError(o.bundle.model_name, port, metrics_port,
                                                        o.bundle.poll_interval, drain);
  if (!bad_flag.empty()) {
    // reported below
  } else if (o.service.workers < 1 || o.service.workers > 1024) {
    bad_flag = "--workers must be in 1..1024";
  } else if (o.service.queue_capacity < 1) {
    bad_flag = "--queue_capacity must be >= 1";
  } else if (o.service.deadline_margin < absl::ZeroDuration()) {
    bad_flag = "--deadline_margin must not be negative";
  } else if (o.service.limits.max_k < 1 || o.service.limits.max_history < 0) {
    bad_flag = "--max_k must be >= 1 and --max_history >= 0";
  } else if (o.service.limits.max_request_bytes < 1024 ||
             o.service.limits.max_request_bytes > (1 << 30)) {
    bad_flag = "--max_request_bytes must be in 1024..2^30";
  } else if (omp_threads < 1) {
    bad_flag = "--omp_threads must be >= 1";
  } else if (!shard.ok()) {
    bad_flag = absl::StrCat("--shard: ", shard.status().message());
  } else {
    bad_flag = recsys::ServerSecurityFlagError();
  }
  std::unique_ptr<recsys::ServerMetrics> metrics;
  if (auto code =
          recsys::FinishStartupChecks(bad_flag, o.bundle.registry_root, metrics_port, &metrics)) {
    return *code;
  }
  std::shared_ptr<recsys::TokenAuthProcessor> auth;
  const recsys::AuthPolicy policy =
      recsys::AuthPolicy::WholeService("recsys.v1.Retrieval", recsys::Role::kRead);
  if (absl::Status s = recsys::ApplyServerSecurityFlags(policy, metrics.get(), &o.server, &auth);
      !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  auto signals_key =
      recsys::LoadSignalsKey(absl::GetFlag(FLAGS_signals_key_file), "recsys-retrieval");
  if (!signals_key.ok()) {
    LOG(ERROR) << signals_key.status();
    return 1;
  }
  o.service.signals_key = *std::move(signals_key);
  omp_set_num_threads(omp_threads);
  o.bundle.loader = [spec = *shard](const std::string& dir) {
    return recsys::ModelBundle::Load(dir, recsys::BundleParts::kRetrieval, spec);
  };
  o.server.address = absl::StrCat("0.0.0.0:", port);
  o.server.memory_quota_bytes = std::max<int64_t>(0, absl::GetFlag(FLAGS_grpc_memory_mb)) << 20;
  o.server.max_receive_message_bytes = static_cast<int>(o.service.limits.max_request_bytes);
  auto server = retrieval::RetrievalServer::Start(std::move(o), metrics.get());
  if (!server.ok()) {
    LOG(ERROR) << "cannot start the retrieval server: " << server.status();
    return 1;
  }
  LOG(INFO) << "recsys-retrieval: gRPC on port " << (*server)->port() << ", /metrics on port "
            << metrics->port() << ", " << absl::GetFlag(FLAGS_workers) << " workers, "
            << omp_threads << " OpenMP thread(s)"
            << (shard->sharded() ? ", catalogue shard " + shard->ToString() : "")
            << "; NOT_SERVING until a bundle loads";

  return recsys::ServeUntilTerminated(*std::move(server), std::move(metrics), drain,
                                      "recsys-retrieval", absl::InfiniteDuration(),
                                      [&auth] { recsys::ReloadTokensOnHangup(auth.get()); });
}

// recsys-ranking: serves recsys.v1.Ranking from the registry's production bundle.
//   recsys-ranking --registry registry --name movielens --port 50053 --metrics_port 9093
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
#include "ranking_service/ranker.h"
#include "ranking_service/service.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(int, port, 50053, "gRPC port (0 picks a free one)");
ABSL_FLAG(int, metrics_port, 9093, "Port of the Prometheus /metrics endpoint");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(10),
          "How often the registry's production alias is read for a new bundle (SIGHUP reads "
          "it at once)");
ABSL_FLAG(int, max_k, 1000, "Largest k a Rank request may ask for");
ABSL_FLAG(int, max_candidates, 2000, "Most candidates one Rank request may carry");
ABSL_FLAG(int, max_history, recsys::ranking::RankerOptions{}.max_history,
          "Most history events one Rank request may carry (at least the gateway's "
          "--max_history)");
ABSL_FLAG(int, max_inflight, recsys::ranking::RankerOptions{}.max_inflight,
          "Rank calls computed at once; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_exclusions, recsys::ranking::RankerOptions{}.max_exclusions,
          "Most exclude_item_ids one Rank request may carry");
ABSL_FLAG(int64_t, grpc_memory_mb, recsys::ServerOptions{}.memory_quota_bytes >> 20,
          "gRPC memory quota for transport buffers, MiB (0 = unlimited)");
ABSL_FLAG(int64_t, max_request_bytes, recsys::ranking::RankerOptions{}.max_request_bytes,
          "Largest Rank request, bytes (checked with the count limits before parsing)");
ABSL_FLAG(std::string, signals_key_file, "",
          "File whose first line is the key shared with retrieval's --signals_key_file: "
          "candidate signals are used only when their HMAC-SHA256 verifies (else recomputed). "
          "Empty = signals under a matching context are trusted unauthenticated");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls may finish before they are cancelled");

int main(int argc, char** argv) {
  recsys::BlockTerminationSignals();  // before any thread exists
  recsys::ConfigureServingProcess();
  recsys::ParseFlags(argc, argv, "recsys-ranking", "Serve recsys.v1.Ranking from a model registry");
  recsys::ConfigureLoggingFromFlags();

  namespace ranking = recsys::ranking;
  ranking::RankingServerOptions o;
  o.bundle.registry_root = absl::GetFlag(FLAGS_registry);
  o.bundle.model_name = absl::GetFlag(FLAGS_name);
  o.bundle.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  o.bundle.keep_previous = recsys::KeepPreviousBundleFlag();
  o.ranker.max_k = absl::GetFlag(FLAGS_max_k);
  o.ranker.max_candidates = absl::GetFlag(FLAGS_max_candidates);
  o.ranker.max_history = absl::GetFlag(FLAGS_max_history);
  o.ranker.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  o.ranker.max_exclusions = absl::GetFlag(FLAGS_max_exclusions);
  o.ranker.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  const int port = absl::GetFlag(FLAGS_port);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  std::string bad_flag = recsys::CommonServiceFlagError(o.bundle.model_name, port, metrics_port,
                                                        o.bundle.poll_interval, drain);
  if (bad_flag.empty() &&
      (o.ranker.max_k < 1 || o.ranker.max_candidates < 1 || o.ranker.max_history < 0 ||
       o.ranker.max_inflight < 1 || o.ranker.max_exclusions < 0 ||
       o.ranker.max_request_bytes < 1024 || o.ranker.max_request_bytes > (1 << 30))) {
    bad_flag =
        "--max_k, --max_candidates and --max_inflight must be >= 1, --max_history and "
        "--max_exclusions >= 0, --max_request_bytes in 1024..2^30";
  }
  if (bad_flag.empty()) bad_flag = recsys::ServerSecurityFlagError();
  std::unique_ptr<recsys::ServerMetrics> metrics;
  if (auto code =
          recsys::FinishStartupChecks(bad_flag, o.bundle.registry_root, metrics_port, &metrics)) {
    return *code;
  }
  std::shared_ptr<recsys::TokenAuthProcessor> auth;
  const recsys::AuthPolicy policy =
      recsys::AuthPolicy::WholeService("recsys.v1.Ranking", recsys::Role::kRead);
  if (absl::Status s = recsys::ApplyServerSecurityFlags(policy, metrics.get(), &o.server, &auth);
      !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  auto signals_key =
      recsys::LoadSignalsKey(absl::GetFlag(FLAGS_signals_key_file), "recsys-ranking");
  if (!signals_key.ok()) {
    LOG(ERROR) << signals_key.status();
    return 1;
  }
  o.ranker.signals_key = *std::move(signals_key);
  o.server.address = absl::StrCat("0.0.0.0:", port);
  o.server.memory_quota_bytes = std::max<int64_t>(0, absl::GetFlag(FLAGS_grpc_memory_mb)) << 20;
  // gRPC refuses larger messages before reading them; Rank checks its own
  // (equal) limit and counts on the bytes before parsing.
  o.server.max_receive_message_bytes = static_cast<int>(o.ranker.max_request_bytes);
  auto server = ranking::RankingServer::Start(std::move(o), metrics.get());
  if (!server.ok()) {
    LOG(ERROR) << "cannot start the ranking server: " << server.status();
    return 1;
  }
  LOG(INFO) << "recsys-ranking: gRPC on port " << (*server)->port() << ", /metrics on port "
            << metrics->port() << "; NOT_SERVING until a bundle loads";

  return recsys::ServeUntilTerminated(*std::move(server), std::move(metrics), drain,
                                      "recsys-ranking", absl::InfiniteDuration(),
                                      [&auth] { recsys::ReloadTokensOnHangup(auth.get()); });
}

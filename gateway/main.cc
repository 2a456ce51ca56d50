// recsys-gateway: the public recsys.v1.Recommender endpoint.
//   recsys-gateway --registry registry --name movielens \
//     --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 \
//     --port 50051 --metrics_port 9091 --state_dir state/
#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/server/bundle_holder.h"
#include "common/server/metrics.h"
#include "common/server/server_main_util.h"
#include "gateway/gateway_service.h"
#include "gateway/user_store.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(std::string, retrieval, "dns:///localhost:50052", "Retrieval service target");
ABSL_FLAG(std::string, ranking, "dns:///localhost:50053", "Ranking service target");
ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one)");
ABSL_FLAG(int, metrics_port, 9091, "Prometheus /metrics port");
ABSL_FLAG(std::string, state_dir, "state", "Directory of the user store's write-ahead log");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(10), "How often to read the production alias");
ABSL_FLAG(absl::Duration, startup_timeout, absl::Minutes(5),
          "How long to wait for the first bundle before giving up");
ABSL_FLAG(absl::Duration, default_deadline, absl::Milliseconds(50),
          "Budget of a Recommend call whose caller sent no deadline");
ABSL_FLAG(double, retrieval_share, 0.6, "Share of the usable budget given to retrieval");
ABSL_FLAG(absl::Duration, margin, absl::Milliseconds(8),
          "Budget kept for the gateway's own work after ranking");
ABSL_FLAG(int, max_inflight, 512, "Concurrent Recommend calls before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_k, 100, "Largest k a caller may ask for");
ABSL_FLAG(int, max_history, 1000, "Most recent history events sent downstream");
ABSL_FLAG(int, feedback_workers, 32,
          "Threads waiting on durable Feedback appends; appends waiting together share one fsync");
ABSL_FLAG(int, cache_mb, 128,
          "Memory for the exact answer cache of Recommend, MiB (0 disables it)");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Seconds(60),
          "Longest a cached answer is served (the key already covers history, options "
          "and model version)");
ABSL_FLAG(bool, fsync, true, "fsync the write-ahead log before acknowledging (off: tests only)");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(10), "Graceful-shutdown drain deadline");

int main(int argc, char** argv) {
  recsys::BlockTerminationSignals();  // before any thread starts
  recsys::ConfigureServingProcess();
  absl::SetProgramUsageMessage("recsys gateway: the public Recommender API");
  absl::ParseCommandLine(argc, argv);
  using namespace recsys;  // NOLINT: a thin main

  auto metrics = ServerMetrics::Create(MetricsListenAddress(absl::GetFlag(FLAGS_metrics_port)));
  if (!metrics.ok()) {
    LOG(ERROR) << "metrics endpoint: " << metrics.status();
    return 1;
  }
  BundleHolderOptions holder_options;
  holder_options.registry_root = absl::GetFlag(FLAGS_registry);
  holder_options.model_name = absl::GetFlag(FLAGS_name);
  holder_options.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  holder_options.metrics = metrics->get();
  holder_options.loader = [](const std::string& dir) {
    return ModelBundle::Load(dir, BundleParts::kGateway);
  };
  BundleHolder holder(holder_options);
  if (auto s = holder.Start(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  if (!holder.WaitForBundle(absl::GetFlag(FLAGS_startup_timeout))) {
    LOG(ERROR) << "no loadable production bundle for '" << holder_options.model_name << "' in "
               << holder_options.registry_root << " within --startup_timeout";
    return 1;
  }
  // The store is seeded from the first bundle's training histories, then the
  // write-ahead log (every acknowledged Feedback) is replayed on top.
  std::shared_ptr<const ModelBundle> first = holder.Current();
  gateway::EmbeddedUserStoreOptions store_options;
  store_options.state_dir = absl::GetFlag(FLAGS_state_dir);
  store_options.wal.fsync = absl::GetFlag(FLAGS_fsync);
  auto store = gateway::EmbeddedUserStore::Open(
      store_options, [&first](gateway::EmbeddedUserStore::SeedSink& sink) {
        const UserHistories& h = first->histories;
        for (int32_t u = 0; u < h.users.size(); ++u) {
          std::vector<gateway::UserEvent> events;
          for (int64_t k = h.offsets[u]; k < h.offsets[u + 1]; ++k) {
            events.push_back(gateway::UserEvent{first->catalogue.ids.Name(h.items[k]), h.times_s[k],
                                                1.0f, "train"});
          }
          sink.Seed(h.users.Name(u), std::move(events));
        }
      });
  if (!store.ok()) {
    LOG(ERROR) << "user store in " << store_options.state_dir << ": " << store.status();
    return 1;
  }
  first.reset();

  gateway::GatewayOptions options;
  options.budget.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  options.budget.retrieval_share = absl::GetFlag(FLAGS_retrieval_share);
  options.budget.margin = absl::GetFlag(FLAGS_margin);
  options.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  options.max_k = absl::GetFlag(FLAGS_max_k);
  options.max_history = absl::GetFlag(FLAGS_max_history);
  options.feedback_workers = absl::GetFlag(FLAGS_feedback_workers);
  options.cache.max_bytes = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_cache_mb))) << 20;
  options.cache.ttl = absl::GetFlag(FLAGS_cache_ttl);
  gateway::GatewayService service(options, &holder, store->get(),
                                  gateway::MakeBackendChannel(absl::GetFlag(FLAGS_retrieval)),
                                  gateway::MakeBackendChannel(absl::GetFlag(FLAGS_ranking)),
                                  metrics->get());
  ServerOptions server_options;
  server_options.address = absl::StrCat("0.0.0.0:", absl::GetFlag(FLAGS_port));
  server_options.health_service = "recsys.v1.Recommender";
  auto started = BuildAndStartServer(server_options, {&service});
  if (!started.ok()) {
    LOG(ERROR) << started.status();
    return 1;
  }
  SetServing(started->server.get(), server_options.health_service, true);
  LOG(INFO) << "gateway serving on port " << started->port << " (bundle " << holder.version()
            << ", " << (*store)->num_users() << " users in the store)";
  WaitForTerminationAndShutdown(started->server.get(), absl::GetFlag(FLAGS_drain));
  holder.Stop();
  LOG(INFO) << "gateway stopped";
  return 0;
}

#include "bench/bench_util.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "offline/trainer.h"

namespace recsys::bench {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

absl::StatusOr<BenchBundle> PrepareBundle(const std::string& temp_registry_name) {
  BenchBundle b;
  b.data_dir = EnvOr("RECSYS_BENCH_DATA", "data/ml-latest-small");
  b.registry_root = EnvOr("RECSYS_BENCH_REGISTRY", "");
  b.model_name = EnvOr("RECSYS_BENCH_MODEL", "movielens");
  if (b.registry_root.empty()) {
    b.registry_root = (std::filesystem::temp_directory_path() / temp_registry_name).string();
    std::filesystem::remove_all(b.registry_root);
    offline::TrainOptions o;
    o.data_dir = b.data_dir;
    o.registry = b.registry_root;
    o.name = b.model_name;
    o.tune_budget = absl::ZeroDuration();
    ASSIGN_OR_RETURN(offline::TrainResult trained, offline::Train(o));
    RETURN_IF_ERROR(
        Registry(b.registry_root, b.model_name).Promote(trained.version, /*force=*/true));
  }
  return b;
}

std::shared_ptr<grpc::Channel> LoopbackChannel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

void ReportPercentiles(benchmark::State& state, std::vector<double>* micros, const char* prefix,
                       bool p90) {
  if (micros->empty()) return;
  std::sort(micros->begin(), micros->end());
  auto at = [&](double q) {
    return (*micros)[std::min(micros->size() - 1, static_cast<size_t>(q * micros->size()))];
  };
  state.counters[absl::StrCat(prefix, "p50_us")] = at(0.50);
  if (p90) state.counters[absl::StrCat(prefix, "p90_us")] = at(0.90);
  state.counters[absl::StrCat(prefix, "p99_us")] = at(0.99);
}

int RunBenchmarks(int argc, char** argv, const std::function<absl::Status()>& set_up,
                  const std::function<void()>& tear_down) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (absl::Status s = set_up(); !s.ok()) {
    LOG(ERROR) << "benchmark set-up failed: " << s;
    return 1;
  }
  SetMinLogSeverity(LogSeverity::kWarning);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  tear_down();
  return 0;
}

}  // namespace recsys::bench

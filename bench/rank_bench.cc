// Rank latency on the ml-latest-small bundle: one request = one test user's
// history (external ids, timestamps, as_of = the held-out event's time) plus a
// retrieval pool of exactly N candidates, k = 10, re-ranking off.
//   BM_RankInProcess/N  Ranker::Rank (validation, user state, features, model, top-k)
//   BM_RankGrpc/N       the same request through a loopback gRPC call (client
//                       and RankingServer in this process; one call at a time)
// Counters: p50_us / p90_us / p99_us of the per-call wall time; for in-process
// also state_p50_us / state_p99_us (request → UserState) and scoring_p50_us /
// scoring_p99_us (ScorePool: features + model over the pool).
//
// The bundle: RECSYS_BENCH_REGISTRY=<registry root> (+ RECSYS_BENCH_MODEL, default
// "movielens") serves that registry's production version; otherwise the bundle
// is trained here (no tuning, ~15 s) into a temp registry. The data set for the
// users' histories: RECSYS_BENCH_DATA (default data/ml-latest-small).
//   ./build/bin/recsys_bench_rank   (from the repository root)
#include <benchmark/benchmark.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/log.h"
#include "common/status.h"
#include "offline/trainer.h"
#include "ranking_service/service.h"

namespace recsys::ranking {
namespace {

constexpr int kK = 10;
constexpr int kUsers = 200;  // distinct requests per pool size, cycled

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

struct Env {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RankingServer> server;
  std::shared_ptr<const ModelBundle> bundle;
  std::unique_ptr<v1::Ranking::Stub> stub;
  std::map<int, std::vector<v1::RankRequest>> requests;  // by pool size
};

Env* g_env = nullptr;

v1::RankRequest MakeRequest(const ModelBundle& b, std::span<const Interaction> history,
                            int64_t as_of, std::span<const PooledCandidate> pool) {
  v1::RankRequest request;
  request.set_k(kK);
  request.mutable_user()->set_as_of_s(as_of);
  for (const Interaction& e : history) {
    v1::HistoryEvent* h = request.mutable_user()->add_history();
    h->set_item_id(b.catalogue.ids.Name(e.item));
    h->set_timestamp_s(e.timestamp_s);
    h->set_weight(e.weight);
  }
  for (const PooledCandidate& p : pool) {
    v1::Candidate* c = request.add_candidates();
    c->set_item_id(b.catalogue.ids.Name(p.item));
    for (int s = 0; s < kNumSources; ++s) {
      if (p.rank[s] < 0) continue;
      v1::SourceScore* out = c->add_sources();
      out->set_source(static_cast<v1::Source>(s + 1));
      out->set_score(p.score[s]);
      out->set_rank(p.rank[s]);
    }
  }
  return request;
}

absl::Status SetUp(Env* env) {
  const std::string data_dir = EnvOr("RECSYS_BENCH_DATA", "data/ml-latest-small");
  std::string registry = EnvOr("RECSYS_BENCH_REGISTRY", "");
  std::string name = EnvOr("RECSYS_BENCH_MODEL", "movielens");
  if (registry.empty()) {
    registry = (std::filesystem::temp_directory_path() / "recsys_rank_bench").string();
    std::filesystem::remove_all(registry);
    offline::TrainOptions o;
    o.data_dir = data_dir;
    o.registry = registry;
    o.name = name;
    o.tune_budget = absl::ZeroDuration();
    ASSIGN_OR_RETURN(offline::TrainResult trained, offline::Train(o));
    RETURN_IF_ERROR(Registry(registry, name).Promote(trained.version, /*force=*/true));
  }
  env->metrics = ServerMetrics::CreateWithoutExposer();
  RankingServerOptions so;
  so.server.address = "127.0.0.1:0";
  so.bundle.registry_root = registry;
  so.bundle.model_name = name;
  so.ranker.max_history = 1 << 20;  // heavy MovieLens users have thousands of events
  so.start_polling = false;
  ASSIGN_OR_RETURN(env->server, RankingServer::Start(std::move(so), env->metrics.get()));
  RETURN_IF_ERROR(env->server->holder().PollOnce());
  env->bundle = env->server->holder().Current();
  env->stub = v1::Ranking::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", env->server->port()), grpc::InsecureChannelCredentials()));

  ASSIGN_OR_RETURN(Dataset data, LoadDataset(data_dir, LoadOptions{}));
  LeaveLastOutSplit split(data);
  const ModelBundle& b = *env->bundle;
  std::array<int, kNumSources> quotas = {250, 250, 250, 150, 250, 250};
  for (const EvalCase& c : split.cases(SplitName::kTest)) {
    if (static_cast<int>(env->requests[500].size()) >= kUsers) break;
    const Interaction& target = split.target(c);
    auto h = split.history(c);
    std::vector<Interaction> history;
    for (const Interaction& e : h) {  // the bundle's ids (a production bundle may differ)
      auto item = b.catalogue.ids.Find(data.items.Name(e.item));
      if (item) history.push_back(Interaction{0, *item, e.timestamp_s, e.weight});
    }
    const UserState st = BuildUserState(b, history, target.timestamp_s, {});
    for (int n : {300, 500}) {
      const auto pool = RetrievePool(b, st, quotas, n, nullptr);
      if (static_cast<int>(pool.size()) < n) continue;
      env->requests[n].push_back(MakeRequest(b, history, target.timestamp_s, pool));
    }
  }
  for (int n : {300, 500}) {
    if (env->requests[n].empty()) return absl::FailedPreconditionError("no user has a full pool");
    int64_t events = 0;
    for (const auto& r : env->requests[n]) events += r.user().history_size();
    LOG(INFO) << env->requests[n].size() << " requests of " << n << " candidates; mean history "
              << events / env->requests[n].size() << " events";
  }
  return absl::OkStatus();
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

void BM_RankInProcess(benchmark::State& state) {
  const auto& requests = g_env->requests.at(static_cast<int>(state.range(0)));
  Ranker ranker(RankerOptions{.max_history = 1 << 20});
  std::vector<double> total, user_state, scoring;
  size_t i = 0;
  v1::RankResponse response;
  for (auto _ : state) {
    const v1::RankRequest& request = requests[i++ % requests.size()];
    RankStats stats;
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = ranker.Rank(*g_env->bundle, request, &response, &stats);
    const auto end = std::chrono::steady_clock::now();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    total.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    user_state.push_back(absl::ToDoubleMicroseconds(stats.user_state));
    scoring.push_back(absl::ToDoubleMicroseconds(stats.scoring));
  }
  ReportPercentiles(state, &total, "", /*p90=*/true);
  ReportPercentiles(state, &user_state, "state_", /*p90=*/false);
  ReportPercentiles(state, &scoring, "scoring_", /*p90=*/false);
}

void BM_RankGrpc(benchmark::State& state) {
  const auto& requests = g_env->requests.at(static_cast<int>(state.range(0)));
  std::vector<double> total;
  size_t i = 0;
  for (auto _ : state) {
    const v1::RankRequest& request = requests[i++ % requests.size()];
    v1::RankResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = g_env->stub->Rank(&ctx, request, &response);
    const auto end = std::chrono::steady_clock::now();
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      break;
    }
    total.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  ReportPercentiles(state, &total, "", /*p90=*/true);
}

BENCHMARK(BM_RankInProcess)->Arg(300)->Arg(500)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RankGrpc)->Arg(300)->Arg(500)->Iterations(2000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace recsys::ranking

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  recsys::ranking::Env env;
  recsys::ranking::g_env = &env;
  if (absl::Status s = recsys::ranking::SetUp(&env); !s.ok()) {
    LOG(ERROR) << "benchmark set-up failed: " << s;
    return 1;
  }
  recsys::SetMinLogSeverity(recsys::LogSeverity::kWarning);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  env.server->Shutdown(absl::Seconds(1));
  return 0;
}

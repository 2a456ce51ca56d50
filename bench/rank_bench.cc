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
// The bundle and the data set: RECSYS_BENCH_REGISTRY / RECSYS_BENCH_MODEL /
// RECSYS_BENCH_DATA, see bench/bench_util.h (without a registry the bundle is
// trained here, ~15 s, into a temp registry).
//   ./build/bin/recsys_bench_rank   (from the repository root)
#include <benchmark/benchmark.h>

#include <map>
#include <optional>

#include "bench/bench_util.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/log.h"
#include "common/server/candidate_proto.h"
#include "common/status.h"
#include "ranking_service/service.h"

namespace recsys::ranking {
namespace {

constexpr int kK = 10;
constexpr int kUsers = 200;  // distinct requests per pool size, cycled

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
  for (const PooledCandidate& p : pool) ToProtoCandidate(b, p, request.add_candidates());
  return request;
}

absl::Status SetUp(Env* env) {
  ASSIGN_OR_RETURN(const bench::BenchBundle bundle, bench::PrepareBundle("recsys_rank_bench"));
  env->metrics = ServerMetrics::CreateWithoutExposer();
  RankingServerOptions so;
  so.ranker.max_history = 1 << 20;  // heavy MovieLens users have thousands of events
  ASSIGN_OR_RETURN(env->server, bench::StartLoopbackServer<RankingServer>(std::move(so), bundle,
                                                                          env->metrics.get()));
  env->bundle = env->server->holder().Current();
  env->stub = v1::Ranking::NewStub(bench::LoopbackChannel(env->server->port()));

  ASSIGN_OR_RETURN(Dataset data, LoadDataset(bundle.data_dir, LoadOptions{}));
  LeaveLastOutSplit split(data);
  const ModelBundle& b = *env->bundle;
  std::array<int, kNumSources> quotas = {250, 250, 250, 150, 250, 250, 250};
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
      const auto pool =
          retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st, quotas, n, nullptr);
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

void BM_RankInProcess(benchmark::State& state) {
  const auto& requests = g_env->requests.at(static_cast<int>(state.range(0)));
  Ranker ranker(RankerOptions{.max_history = 1 << 20});
  std::vector<double> total, user_state, scoring;
  size_t i = 0;
  v1::RankResponse response;
  for (auto _ : state) {
    const v1::RankRequest& request = requests[i++ % requests.size()];
    RankStats stats;
    const std::optional<double> micros = bench::TimedCall(
        state, [&] { return ranker.Rank(*g_env->bundle, request, &response, &stats); });
    if (!micros) break;
    total.push_back(*micros);
    user_state.push_back(absl::ToDoubleMicroseconds(stats.user_state));
    scoring.push_back(absl::ToDoubleMicroseconds(stats.scoring));
  }
  bench::ReportPercentiles(state, &total, "", /*p90=*/true);
  bench::ReportPercentiles(state, &user_state, "state_", /*p90=*/false);
  bench::ReportPercentiles(state, &scoring, "scoring_", /*p90=*/false);
}

void BM_RankGrpc(benchmark::State& state) {
  const auto& requests = g_env->requests.at(static_cast<int>(state.range(0)));
  std::vector<double> total;
  size_t i = 0;
  for (auto _ : state) {
    const v1::RankRequest& request = requests[i++ % requests.size()];
    v1::RankResponse response;
    const std::optional<double> micros =
        bench::TimedRpc(state, *g_env->stub, &v1::Ranking::Stub::Rank, request, &response);
    if (!micros) break;
    total.push_back(*micros);
  }
  bench::ReportPercentiles(state, &total, "", /*p90=*/true);
}

BENCHMARK(BM_RankInProcess)->Arg(300)->Arg(500)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RankGrpc)->Arg(300)->Arg(500)->Iterations(2000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace recsys::ranking

int main(int argc, char** argv) {
  recsys::ranking::Env env;
  recsys::ranking::g_env = &env;
  return recsys::bench::RunBenchmarks(
      argc, argv, [&] { return recsys::ranking::SetUp(&env); },
      [&] { env.server->Shutdown(absl::Seconds(1)); });
}

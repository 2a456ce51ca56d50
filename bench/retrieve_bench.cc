// Retrieve and Search latency on the ml-latest-small bundle. One Retrieve
// request = one test user's leave-last-out history (external ids, timestamps,
// weights; as_of = the held-out event's time) with the bundle's default quotas
// and pool size; requests cycle over every test user.
//   BM_RetrieveInProcess/p RetrievalService::RetrieveBlocking: validation, id
//                         mapping, the user state and the sources on the
//                         service's worker pool, the merged pool, the response
//                         (the path the gRPC handler runs, without gRPC);
//                         p = 0: the served bundle (flat indexes searched by
//                         ExactScan), p = 1: the same bundle with FAISS's
//                         IndexFlatIP search (the path before ExactScan)
//   BM_RetrieveGrpc       the same request through a loopback gRPC call (client
//                         and RetrievalServer in this process; one call at a time)
//   BM_SearchInProcess/k  RetrievalService::SearchOnce (text -> lexical matches and
//                         embedding -> kNN, fused)
//   BM_SearchGrpc/k       the same over gRPC
//   BM_IndexSearch/i/p    the bundle's nearest-neighbour step alone: index i
//                         (0 content, 1 ALS), path p (0 ExactScan as served, 1
//                         FAISS IndexFlatIP loaded from the same file), k = 100,
//                         queries = item vectors
// Counters: p50_us / p90_us / p99_us of the per-call wall time, load1 = 1-minute
// load average when the benchmark started; in-process Retrieve also
// state_p50_us (user state) and the mean pool size.
//
// OpenMP is capped at 1 thread, as recsys-retrieval does by default
// (--omp_threads).
//
// The bundle and the data set: RECSYS_BENCH_REGISTRY / RECSYS_BENCH_MODEL /
// RECSYS_BENCH_DATA, see bench/bench_util.h (without a registry the bundle is
// trained here, ~15 s, into a temp registry).
//   ./build/bin/recsys_bench_retrieve   (from the repository root)
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/index/vector_index.h"
#include "common/log.h"
#include "common/status.h"
#include "retrieval_service/service.h"

namespace recsys::retrieval {
namespace {

const char* const kSearchQueries[] = {
    "comedy",         "drama romance",  "star wars",         "toy story",  "horror",
    "animation kids", "thriller crime", "documentary",       "war",        "musical",
    "space sci-fi",   "batman",         "lord of the rings", "love story", "christmas",
    "zombie",
};

double Load1() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

struct Env {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RetrievalServer> server;
  std::shared_ptr<const ModelBundle> bundle;
  std::unique_ptr<v1::Retrieval::Stub> stub;
  std::vector<v1::RetrieveRequest> requests;
  // The bundle's flat indexes loaded again with the FAISS search path.
  VectorIndex content_faiss;
  VectorIndex als_faiss;
  // The same bundle loaded again with both flat indexes searched by FAISS (the
  // search path before ExactScan), and a service (no gRPC) over it.
  std::shared_ptr<const ModelBundle> faiss_bundle;
  std::unique_ptr<RetrievalService> faiss_service;
};

Env* g_env = nullptr;

absl::Status SetUp(Env* env) {
  ASSIGN_OR_RETURN(const bench::BenchBundle bundle, bench::PrepareBundle("recsys_retrieve_bench"));
  env->metrics = ServerMetrics::CreateWithoutExposer();
  RetrievalServerOptions so;
  so.service.limits.max_history = 1 << 20;  // heavy MovieLens users have thousands of events
  ASSIGN_OR_RETURN(env->server, bench::StartLoopbackServer<RetrievalServer>(std::move(so), bundle,
                                                                            env->metrics.get()));
  env->bundle = env->server->holder().Current();
  env->stub = v1::Retrieval::NewStub(bench::LoopbackChannel(env->server->port()));

  ASSIGN_OR_RETURN(const std::string bundle_dir,
                   Registry(bundle.registry_root, bundle.model_name).ProductionDir());
  VectorIndexOptions faiss_flat;
  faiss_flat.flat_search = FlatSearch::kFaiss;
  ASSIGN_OR_RETURN(env->content_faiss,
                   VectorIndex::Load(bundle_dir + "/content.faiss", faiss_flat));
  ASSIGN_OR_RETURN(env->als_faiss, VectorIndex::Load(bundle_dir + "/als.faiss", faiss_flat));

  {
    ASSIGN_OR_RETURN(std::shared_ptr<const ModelBundle> again, ModelBundle::Load(bundle_dir));
    // Not yet shared, and created non-const by Load (make_shared<ModelBundle>).
    ModelBundle& mutable_bundle = const_cast<ModelBundle&>(*again);
    ASSIGN_OR_RETURN(mutable_bundle.content_index,
                     VectorIndex::Load(bundle_dir + "/content.faiss", faiss_flat));
    ASSIGN_OR_RETURN(mutable_bundle.als_index,
                     VectorIndex::Load(bundle_dir + "/als.faiss", faiss_flat));
    env->faiss_bundle = std::move(again);
    RetrievalServiceOptions options;
    options.limits.max_history = 1 << 20;
    env->faiss_service = std::make_unique<RetrievalService>([b = env->faiss_bundle] { return b; },
                                                            options, /*metrics=*/nullptr);
  }

  ASSIGN_OR_RETURN(Dataset data, LoadDataset(bundle.data_dir, LoadOptions{}));
  LeaveLastOutSplit split(data);
  int64_t events = 0;
  std::vector<std::string> targets;  // held-out item id per request
  for (const EvalCase& c : split.cases(SplitName::kTest)) {
    targets.push_back(data.items.Name(split.target(c).item));
    v1::RetrieveRequest request;
    request.mutable_user()->set_user_id(data.users.Name(c.user));
    request.mutable_user()->set_as_of_s(split.target(c).timestamp_s);
    for (const Interaction& e : split.history(c)) {
      v1::HistoryEvent* h = request.mutable_user()->add_history();
      h->set_item_id(data.items.Name(e.item));
      h->set_timestamp_s(e.timestamp_s);
      h->set_weight(e.weight);
    }
    events += request.user().history_size();
    env->requests.push_back(std::move(request));
  }
  if (env->requests.empty()) return absl::FailedPreconditionError("no test users");
  // How often the FAISS flat path and ExactScan give a different pool (only the
  // order of equal or rounding-close scores can differ), and whether the held-out
  // item is in the pool either way (recall@pool).
  int same_order = 0, same_set = 0, hits_scan = 0, hits_faiss = 0;
  for (size_t u = 0; u < env->requests.size(); ++u) {
    const v1::RetrieveRequest& request = env->requests[u];
    v1::RetrieveResponse a, b;
    RETURN_IF_ERROR(env->server->service().RetrieveBlocking(request, &a));
    RETURN_IF_ERROR(env->faiss_service->RetrieveBlocking(request, &b));
    std::vector<std::string> ids_a, ids_b;
    for (const v1::Candidate& c : a.candidates()) ids_a.push_back(c.item_id());
    for (const v1::Candidate& c : b.candidates()) ids_b.push_back(c.item_id());
    same_order += ids_a == ids_b;
    hits_scan += std::count(ids_a.begin(), ids_a.end(), targets[u]) > 0;
    hits_faiss += std::count(ids_b.begin(), ids_b.end(), targets[u]) > 0;
    std::sort(ids_a.begin(), ids_a.end());
    std::sort(ids_b.begin(), ids_b.end());
    same_set += ids_a == ids_b;
  }
  LOG(INFO) << "ExactScan vs FAISS flat search over " << env->requests.size()
            << " test users: identical pools " << same_order << ", same candidate sets " << same_set
            << "; held-out item in the pool " << hits_scan << " vs " << hits_faiss;
  const ModelBundle& b = *env->bundle;
  LOG(INFO) << env->requests.size() << " Retrieve requests, mean history "
            << events / static_cast<int64_t>(env->requests.size()) << " events; catalogue "
            << b.catalogue.ids.size() << " items; content index " << b.content_index.dim() << "-d "
            << b.content_index.search_kind() << ", ALS index " << b.als_index.dim() << "-d "
            << b.als_index.search_kind();
  return absl::OkStatus();
}

// The loop every benchmark here runs: `call(i)` makes the i-th call (i = 0, 1,
// ...) and returns its wall time in us (bench::TimedCall / TimedRpc), or
// nullopt to end a failed run. Sets the counters p50_us / p90_us / p99_us of
// those times and load1 (the 1-minute load average when the run started).
// Returns the number of calls made.
template <typename Call>
size_t MeasureCalls(benchmark::State& state, Call&& call) {
  const double load1 = Load1();
  std::vector<double> total;
  size_t i = 0;
  for (auto _ : state) {
    const std::optional<double> micros = call(i++);
    if (!micros) break;
    total.push_back(*micros);
  }
  bench::ReportPercentiles(state, &total, "", /*p90=*/true);
  state.counters["load1"] = load1;
  return i;
}

// The "user_state" stage timing the service reports in the response, in us.
double UserStateMicros(const v1::RetrieveResponse& response) {
  for (const v1::StageTiming& t : response.timings()) {
    if (t.stage() == "user_state") return static_cast<double>(t.micros());
  }
  return 0;
}

void BM_RetrieveInProcess(benchmark::State& state) {
  RetrievalService& service =
      state.range(0) == 0 ? g_env->server->service() : *g_env->faiss_service;
  state.SetLabel(state.range(0) == 0 ? "served bundle (ExactScan)" : "FAISS flat search");
  std::vector<double> user_state;
  int64_t candidates = 0;
  const size_t calls = MeasureCalls(state, [&](size_t i) -> std::optional<double> {
    const v1::RetrieveRequest& request = g_env->requests[i % g_env->requests.size()];
    v1::RetrieveResponse response;
    const std::optional<double> micros =
        bench::TimedCall(state, [&] { return service.RetrieveBlocking(request, &response); });
    if (!micros) return std::nullopt;
    if (response.skipped_size() > 0) {
      state.SkipWithError("a source was skipped");
      return std::nullopt;
    }
    user_state.push_back(UserStateMicros(response));
    candidates += response.candidates_size();
    return micros;
  });
  bench::ReportPercentiles(state, &user_state, "state_", /*p90=*/false);
  state.counters["pool"] = static_cast<double>(candidates) / std::max<size_t>(1, calls);
}

void BM_RetrieveGrpc(benchmark::State& state) {
  MeasureCalls(state, [&](size_t i) {
    const v1::RetrieveRequest& request = g_env->requests[i % g_env->requests.size()];
    v1::RetrieveResponse response;
    return bench::TimedRpc(state, *g_env->stub, &v1::Retrieval::Stub::Retrieve, request, &response);
  });
}

v1::SearchRequest SearchRequest(size_t i, int k) {
  v1::SearchRequest request;
  request.set_query(kSearchQueries[i % std::size(kSearchQueries)]);
  request.set_k(k);
  return request;
}

void BM_SearchInProcess(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  MeasureCalls(state, [&](size_t i) {
    const v1::SearchRequest request = SearchRequest(i, k);
    v1::SearchResponse response;
    return bench::TimedCall(
        state, [&] { return g_env->server->service().SearchOnce(request, &response); });
  });
}

void BM_SearchGrpc(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  MeasureCalls(state, [&](size_t i) {
    const v1::SearchRequest request = SearchRequest(i, k);
    v1::SearchResponse response;
    return bench::TimedRpc(state, *g_env->stub, &v1::Retrieval::Stub::Search, request, &response);
  });
}

void BM_IndexSearch(benchmark::State& state) {
  const ModelBundle& b = *g_env->bundle;
  const bool content = state.range(0) == 0;
  const bool faiss = state.range(1) == 1;
  const VectorIndex& index = content ? (faiss ? g_env->content_faiss : b.content_index)
                                     : (faiss ? g_env->als_faiss : b.als_index);
  state.SetLabel(absl::StrCat(content ? "content " : "als ", index.size(), "x", index.dim(), " ",
                              index.search_kind()));
  const int64_t n = index.size();
  int64_t row = 0;
  MeasureCalls(state, [&](size_t) {
    row = (row + 7919) % n;  // item vectors as queries, spread over the catalogue
    const float* query = content ? b.content.item_embedding(static_cast<ItemIndex>(row))
                                 : b.als.item_factor(static_cast<ItemIndex>(row));
    return bench::TimedCall(state, [&] { return index.Search(query, 100, {}); });
  });
}

BENCHMARK(BM_RetrieveInProcess)->Arg(0)->Arg(1)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RetrieveGrpc)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SearchInProcess)->Arg(10)->Arg(100)->Iterations(5000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SearchGrpc)->Arg(10)->Arg(100)->Iterations(5000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_IndexSearch)
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Iterations(5000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace recsys::retrieval

int main(int argc, char** argv) {
  omp_set_num_threads(1);  // before set-up, which trains and loads the bundle
  recsys::retrieval::Env env;
  recsys::retrieval::g_env = &env;
  return recsys::bench::RunBenchmarks(
      argc, argv, [&] { return recsys::retrieval::SetUp(&env); },
      [&] {
        env.server->Shutdown(absl::Seconds(1));
        env.faiss_service.reset();
      });
}

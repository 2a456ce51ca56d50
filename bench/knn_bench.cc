// Nearest-neighbour step on a synthetic catalogue: 1M x 64 floats (Gaussian,
// seed 20240601, rows L2-normalised), queries from another seed, k = 200.
//   BM_Floor                 memory-bandwidth floor: one AVX2 pass summing all
//                            N * d floats (no top-k), one thread
//   BM_FaissFlat             VectorIndex(FlatSearch::kFaiss)::Search, one query
//   BM_FaissFlatBatch/32/t   VectorIndex(kFaiss)::SearchBatch of 32 queries on t
//                            OpenMP + OpenBLAS threads (FAISS goes to BLAS from
//                            20 queries); time per query
//   BM_ExactScan/0           VectorIndex(kExactScan)::Search (the served path)
//   BM_ExactScan/1, /2       ExactTopK on the bench's own array with the
//                            portable / the AVX2 kernel forced
//   BM_ExactScanBatch/32     ExactScan batch of 32 (one thread); time per query
//   BM_Hnsw/ef               VectorIndex HNSW (M = 32, efConstruction 80)
//                            Search with ef_search = ef (runs at max(ef, k));
//                            recall@200 against the exact top-200
// OpenMP and OpenBLAS run 1 thread except in BM_FaissFlatBatch/32/2.
// Counters: ms_per_query (median over iterations), x_floor = ms_per_query / the
// floor's median measured just before (5 passes), load1 = 1-minute load average
// at the start of the benchmark; HNSW also recall_at_200 (kEvalQueries queries).
//
// The HNSW build of 1M points takes ~12 minutes on 2 cores; set
// RECSYS_BENCH_KNN_HNSW=<file> to save it there on the first run and load it on
// the next ones. RECSYS_BENCH_KNN_N overrides N (default 1000000).
//   ./build/bin/recsys_bench_knn --benchmark_min_time=0.3
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/index/exact_scan.h"
#include "common/index/vector_index.h"
#include "common/log.h"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace recsys {
namespace {

constexpr int kDim = 64;
constexpr int kK = 200;
constexpr int kNumQueries = 256;
constexpr int kEvalQueries = 200;  // HNSW recall
constexpr int kWideEfSearch = 1024;

using Clock = std::chrono::steady_clock;

struct Env {
  int64_t n = 1000000;
  std::vector<float> data;     // n x kDim
  std::vector<float> queries;  // kNumQueries x kDim
  std::unique_ptr<VectorIndex> scan;
  std::unique_ptr<VectorIndex> faiss_flat;
  std::unique_ptr<VectorIndex> hnsw;        // efSearch ceiling 256 (the default)
  std::unique_ptr<VectorIndex> hnsw_wide;   // the same graph, ceiling kWideEfSearch
  std::vector<std::vector<int64_t>> truth;  // exact top-k ids of the eval queries
};
Env* g_env = nullptr;

std::vector<float> NormalisedGaussian(int64_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i) {
    float* row = v.data() + i * d;
    double norm2 = 0;
    for (int j = 0; j < d; ++j) {
      row[j] = gauss(rng);
      norm2 += double{row[j]} * row[j];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
    for (int j = 0; j < d; ++j) row[j] *= inv;
  }
  return v;
}

double Load1() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// One pass reading every float once: 4 independent AVX2 accumulators (the
// adds hide behind the loads), so the time is the memory bandwidth.
__attribute__((target("avx2"))) float SumAvx2(const float* x, size_t count) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  alignas(32) float l[8];
  _mm256_store_ps(l, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float s = l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7];
  for (; i < count; ++i) s += x[i];
  return s;
}

// Median of `passes` floor passes over the index's own copy, in ms.
double FloorMs(int passes) {
  std::vector<double> ms;
  for (int p = 0; p < passes; ++p) {
    const auto start = Clock::now();
    benchmark::DoNotOptimize(SumAvx2(g_env->data.data(), g_env->data.size()));
    ms.push_back(Ms(Clock::now() - start));
  }
  return Median(ms);
}

void Report(benchmark::State& state, const std::vector<double>& per_query_ms, double floor_ms,
            double load1) {
  const double m = Median(per_query_ms);
  state.counters["ms_per_query"] = m;
  state.counters["floor_ms"] = floor_ms;
  state.counters["x_floor"] = m / floor_ms;
  state.counters["load1"] = load1;
}

void BM_Floor(benchmark::State& state) {
  const double load1 = Load1();
  std::vector<double> ms;
  for (auto _ : state) {
    const auto start = Clock::now();
    benchmark::DoNotOptimize(SumAvx2(g_env->data.data(), g_env->data.size()));
    ms.push_back(Ms(Clock::now() - start));
  }
  const double m = Median(ms);
  state.counters["ms_per_pass"] = m;
  state.counters["GB_per_s"] = g_env->data.size() * sizeof(float) / (m * 1e6);
  state.counters["load1"] = load1;
}

// One query per call: `search(query)` answers whether it returned kK results.
template <typename SearchFn>
void RunQueries(benchmark::State& state, SearchFn&& search) {
  const double load1 = Load1();
  const double floor_ms = FloorMs(5);
  std::vector<double> ms;
  size_t q = 0;
  for (auto _ : state) {
    const float* query = g_env->queries.data() + (q++ % kNumQueries) * kDim;
    const auto start = Clock::now();
    const bool ok = search(query);
    ms.push_back(Ms(Clock::now() - start));
    if (!ok) {
      state.SkipWithError("search failed");
      return;
    }
  }
  Report(state, ms, floor_ms, load1);
}

// One query per call through `index`.
void RunSingle(benchmark::State& state, const VectorIndex& index, SearchParams params = {}) {
  RunQueries(state, [&](const float* query) {
    auto got = index.Search(query, kK, {}, params);
    return got.ok() && got->size() == static_cast<size_t>(kK);
  });
}

void BM_FaissFlat(benchmark::State& state) { RunSingle(state, *g_env->faiss_flat); }

void BM_ExactScan(benchmark::State& state) {
  if (state.range(0) == 0) {
    state.SetLabel(g_env->scan->search_kind());
    RunSingle(state, *g_env->scan);
    return;
  }
  const ScanKernel kernel = state.range(0) == 1 ? ScanKernel::kPortable : ScanKernel::kAvx2;
  state.SetLabel(absl::StrCat("ExactTopK/", ScanKernelName(kernel), " on the bench's array"));
  RunQueries(state, [&](const float* query) {
    auto got = ExactTopK(g_env->data.data(), g_env->n, kDim, query, kK, {}, kernel);
    benchmark::DoNotOptimize(got.data());
    return true;
  });
}

// A batch of `nq` queries per call; reports the time per query.
void RunBatch(benchmark::State& state, const VectorIndex& index, int nq) {
  const double load1 = Load1();
  const double floor_ms = FloorMs(5);
  std::vector<double> ms;
  size_t first = 0;
  for (auto _ : state) {
    const float* queries = g_env->queries.data() + (first % (kNumQueries - nq + 1)) * kDim;
    first += nq;
    const auto start = Clock::now();
    auto got = index.SearchBatch(queries, nq, kK);
    ms.push_back(Ms(Clock::now() - start) / nq);
    if (!got.ok()) {
      state.SkipWithError(got.status().ToString().c_str());
      return;
    }
  }
  Report(state, ms, floor_ms, load1);
}

void BM_FaissFlatBatch(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  const int old_omp = omp_get_max_threads();
  omp_set_num_threads(threads);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(threads);
  RunBatch(state, *g_env->faiss_flat, static_cast<int>(state.range(0)));
  omp_set_num_threads(old_omp);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(old_omp);
}

void BM_ExactScanBatch(benchmark::State& state) {
  RunBatch(state, *g_env->scan, static_cast<int>(state.range(0)));
}

VectorIndex Must(absl::StatusOr<VectorIndex> index) {
  if (!index.ok()) {
    LOG(FATAL) << index.status();
  }
  return *std::move(index);
}

// Builds (or loads from RECSYS_BENCH_KNN_HNSW) the HNSW index on first use,
// twice over the same graph: with the default efSearch ceiling (256, as served)
// and with a ceiling of kWideEfSearch for the larger ef values.
void EnsureHnsw() {
  if (g_env->hnsw != nullptr) return;
  const char* cache = std::getenv("RECSYS_BENCH_KNN_HNSW");
  std::string path = cache != nullptr ? cache : "";
  VectorIndexOptions wide;
  wide.hnsw_ef_search_max = kWideEfSearch;
  if (!path.empty() && std::filesystem::exists(path)) {
    auto loaded = VectorIndex::Load(path);
    if (loaded.ok() && !loaded->is_exact() && loaded->size() == g_env->n) {
      g_env->hnsw = std::make_unique<VectorIndex>(*std::move(loaded));
      g_env->hnsw_wide = std::make_unique<VectorIndex>(Must(VectorIndex::Load(path, wide)));
      LOG(INFO) << "HNSW loaded from " << path;
      return;
    }
  }
  VectorIndexOptions h;  // M = 32, efConstruction = 80 (the defaults)
  h.flat_max_items = 0;
  omp_set_num_threads(omp_get_num_procs());  // the build parallelises well
  const auto t0 = Clock::now();
  g_env->hnsw =
      std::make_unique<VectorIndex>(Must(VectorIndex::Build(g_env->data, g_env->n, kDim, h)));
  LOG(INFO) << "HNSW M=" << h.hnsw_m << " efConstruction=" << h.hnsw_ef_construction << " built in "
            << Ms(Clock::now() - t0) / 1000 << " s on " << omp_get_max_threads()
            << " threads (load1 " << Load1() << ")";
  omp_set_num_threads(1);
  if (path.empty()) path = (std::filesystem::temp_directory_path() / "recsys_knn_hnsw.faiss");
  if (absl::Status s = g_env->hnsw->Save(path); !s.ok()) {
    LOG(FATAL) << s;
  }
  g_env->hnsw_wide = std::make_unique<VectorIndex>(Must(VectorIndex::Load(path, wide)));
  if (cache == nullptr) std::filesystem::remove(path);
}

void BM_Hnsw(benchmark::State& state) {
  EnsureHnsw();
  SearchParams params;
  params.ef_search = static_cast<int>(state.range(0));
  // Recall first (not timed): |HNSW top-200 ∩ exact top-200| / 200.
  int64_t hits = 0;
  for (int q = 0; q < kEvalQueries; ++q) {
    auto got = (params.ef_search > 256 ? g_env->hnsw_wide : g_env->hnsw)
                   ->Search(g_env->queries.data() + q * kDim, kK, {}, params);
    if (!got.ok()) {
      state.SkipWithError(got.status().ToString().c_str());
      return;
    }
    const std::vector<int64_t>& truth = g_env->truth[q];
    for (const Neighbor& nb : *got) hits += std::binary_search(truth.begin(), truth.end(), nb.id);
  }
  const VectorIndex& index = params.ef_search > 256 ? *g_env->hnsw_wide : *g_env->hnsw;
  RunSingle(state, index, params);
  state.counters["recall_at_200"] = static_cast<double>(hits) / (kEvalQueries * kK);
}

BENCHMARK(BM_Floor)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FaissFlat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FaissFlatBatch)->Args({32, 1})->Args({32, 2})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ExactScan)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ExactScanBatch)->Arg(32)->Unit(benchmark::kMillisecond);
// ef below k = 200 runs at 200 (VectorIndex uses max(k, ef)).
BENCHMARK(BM_Hnsw)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);

void SetUp(Env* env) {
  if (const char* n = std::getenv("RECSYS_BENCH_KNN_N"); n != nullptr && *n != '\0') {
    env->n = std::atoll(n);
  }
  auto t0 = Clock::now();
  env->data = NormalisedGaussian(env->n, kDim, 20240601);
  env->queries = NormalisedGaussian(kNumQueries, kDim, 7);
  LOG(INFO) << "catalogue " << env->n << " x " << kDim << " generated in "
            << Ms(Clock::now() - t0) / 1000 << " s; scan kernel " << ScanKernelName();

  VectorIndexOptions flat;
  flat.flat_max_items = env->n;
  env->scan =
      std::make_unique<VectorIndex>(Must(VectorIndex::Build(env->data, env->n, kDim, flat)));
  flat.flat_search = FlatSearch::kFaiss;
  env->faiss_flat =
      std::make_unique<VectorIndex>(Must(VectorIndex::Build(env->data, env->n, kDim, flat)));

  t0 = Clock::now();
  for (int q = 0; q < kEvalQueries; ++q) {
    auto got = env->scan->Search(env->queries.data() + q * kDim, kK, {});
    std::vector<int64_t> ids;
    for (const Neighbor& nb : *got) ids.push_back(nb.id);
    std::sort(ids.begin(), ids.end());
    env->truth.push_back(std::move(ids));
  }
  LOG(INFO) << "exact top-" << kK << " of " << kEvalQueries << " queries in "
            << Ms(Clock::now() - t0) / 1000 << " s";
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // One OpenMP / OpenBLAS thread, as recsys-retrieval runs FAISS (--omp_threads
  // 1): FAISS 1.7.3 opens OpenMP parallel regions even for one query, and on a
  // loaded 2-core machine waiting for a descheduled team thread multiplies the
  // wall time (measured: HNSW 2.2 -> 16 ms per query at load 2.5).
  // BM_FaissFlatBatch sets its own count.
  omp_set_num_threads(1);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
  recsys::Env env;
  recsys::g_env = &env;
  recsys::SetUp(&env);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Micro-benchmarks of the evaluation building blocks on synthetic data.
#include <benchmark/benchmark.h>

#include <random>

#include "common/models/trending.h"
#include "common/topk.h"

namespace recsys {
namespace {

std::vector<Interaction> SyntheticEvents(int n, int items) {
  std::mt19937 rng(1);
  std::vector<Interaction> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(Interaction{0, static_cast<ItemIndex>(rng() % items), 1000000 + i * 60, 1.0f});
  }
  return events;
}

// Trending as of a random time: checkpoint + tail of events.
void BM_TrendingScoresAsOf(benchmark::State& state) {
  const int items = static_cast<int>(state.range(0));
  auto events = SyntheticEvents(200000, items);
  TrendingModel model(events, items, 7 * 86400.0);
  std::vector<float> scores;
  int64_t t = 1000000;
  for (auto _ : state) {
    t = 1000000 + (t * 7919) % (200000 * 60);
    model.ScoresAsOf(t, &scores);
    benchmark::DoNotOptimize(scores.data());
  }
}
BENCHMARK(BM_TrendingScoresAsOf)->Arg(10000)->Arg(100000);

void BM_TopKDense(benchmark::State& state) {
  std::mt19937 rng(2);
  std::vector<float> scores(state.range(0));
  for (float& s : scores) s = static_cast<float>(rng() % 100000);
  for (auto _ : state) {
    auto top = TopKDense(scores, 100, [](ItemIndex) { return false; });
    benchmark::DoNotOptimize(top.data());
  }
}
BENCHMARK(BM_TopKDense)->Arg(10000)->Arg(1000000);

}  // namespace
}  // namespace recsys

BENCHMARK_MAIN();

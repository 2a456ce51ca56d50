// Per-request retrieval work on a synthetic catalogue of bundle size: 1,000,000
// items, 50 item-kNN neighbours per item, trending over 20,000,000 events.
// Items, neighbours, histories and events follow a skewed popularity (item
// index ~ n * u^3), so histories overlap the neighbour lists and the trending
// top, as in real logs. The synthetic bundle has no content, ALS or EASE
// model: what is timed is the catalogue-sized part of a request.
//
//   BM_Request/h/p  one request for a user with h history items:
//     p = 0  the previous dense path: ItemKnnModel::ScoreDense (a num_items
//            float vector + voted list), TrendingModel::ScoresAsOf "now"
//            (num_items floats) and TopKDense over every item for k = 50,
//            the item-kNN list (k = 100) from the voted items;
//     p = 1  the same as served now: BuildUserState (sparse votes, the bundle's
//            precomputed "now" trending) + ItemKnnRetriever + TrendingRetriever;
//     p = 2  previous path as of a past time (offline evaluation);
//     p = 3  current path as of a past time (checkpoint + tail, candidate
//            lists); counter fallback = share of requests that needed the
//            dense fallback.
//   BM_Votes/h/a    item-kNN vote accumulation alone (h history items x 50
//            neighbours), then reading every voted (item, score); a = 0 dense
//            vector (previous), 1 absl::flat_hash_map, 2 ItemVotes (open
//            addressing, served), 3 sort-and-merge of the (item, vote) pairs.
//
//   ./build/bin/recsys_bench_scale_retrieval   (set-up ~1 min, ~3 GB)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/bundle/model_bundle.h"
#include "common/log.h"
#include "common/retrieval/sources/itemknn.h"
#include "common/retrieval/sources/trending.h"
#include "common/retrieval/user_state.h"
#include "common/topk.h"

namespace recsys {
namespace {

constexpr int32_t kItems = 1000000;
constexpr int kNeighbors = 50;
constexpr int kEvents = 20000000;
constexpr int64_t kStart = 1500000000;
constexpr int64_t kSpan = 365 * 86400;

ItemIndex SkewedItem(std::mt19937_64& rng) {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return static_cast<ItemIndex>(std::pow(u, 3.0) * (kItems - 1));
}

struct Env {
  ModelBundle bundle;
  // Per history length: 16 users' histories, oldest first.
  std::vector<std::vector<std::vector<Interaction>>> histories;
  std::vector<int> lengths = {10, 100, 1000, 5000};
};

Env* MakeEnv() {
  auto* env = new Env;
  ModelBundle& b = env->bundle;
  std::mt19937_64 rng(1);
  for (int32_t i = 0; i < kItems; ++i) b.catalogue.ids.GetOrAdd("i" + std::to_string(i));
  b.catalogue.categories.resize(kItems);
  b.catalogue.IndexCategories();
  SparseNeighbors nb;
  nb.offsets.reserve(kItems + 1);
  nb.offsets.push_back(0);
  nb.ids.reserve(int64_t{kItems} * kNeighbors);
  nb.values.reserve(int64_t{kItems} * kNeighbors);
  for (int32_t i = 0; i < kItems; ++i) {
    for (int k = 0; k < kNeighbors; ++k) {
      nb.ids.push_back(SkewedItem(rng));
      nb.values.push_back(std::uniform_real_distribution<float>(0.01f, 0.5f)(rng));
    }
    nb.offsets.push_back(static_cast<int64_t>(nb.ids.size()));
  }
  b.itemknn = ItemKnnModel(std::move(nb));
  b.markov.offsets.assign(kItems + 1, 0);
  {
    std::vector<Interaction> events(kEvents);
    for (int e = 0; e < kEvents; ++e) {
      events[e] = Interaction{0, SkewedItem(rng), kStart + static_cast<int64_t>(rng() % kSpan), 1};
    }
    b.params.trending_half_life_s = 7 * 86400.0;
    b.trending = TrendingModel(events, kItems, b.params.trending_half_life_s);
  }
  for (int len : env->lengths) {
    auto& users = env->histories.emplace_back();
    for (int u = 0; u < 16; ++u) {
      auto& h = users.emplace_back();
      for (int k = 0; k < len; ++k) {
        h.push_back(Interaction{0, SkewedItem(rng), kStart + kSpan / 2 + k, 1});
      }
    }
  }
  LOG(INFO) << "synthetic bundle: " << kItems << " items, " << kNeighbors << " neighbours each, "
            << kEvents << " trending events, checkpoint every " << b.trending.checkpoint_every()
            << " events";
  return env;
}

Env& GetEnv() {
  static Env* env = MakeEnv();
  return *env;
}

size_t LengthIndex(const Env& env, int len) {
  return std::find(env.lengths.begin(), env.lengths.end(), len) - env.lengths.begin();
}

// The previous per-request path: dense votes and dense trending.
size_t DenseRequest(const ModelBundle& b, const std::vector<Interaction>& history, int64_t as_of) {
  absl::flat_hash_set<ItemIndex> exclude;
  std::vector<ItemIndex> items;
  for (const Interaction& e : history) {
    exclude.insert(e.item);
    items.push_back(e.item);
  }
  std::vector<float> votes;
  std::vector<ItemIndex> voted;
  b.itemknn.ScoreDense(items, std::vector<float>(items.size(), 1.0f), &votes, &voted);
  std::vector<float> trending;
  b.trending.ScoresAsOf(as_of, &trending);
  std::vector<ScoredIndex> knn;
  for (ItemIndex i : voted) {
    if (!exclude.contains(i)) knn.push_back(ScoredIndex{i, votes[i]});
  }
  SortAndTruncate(&knn, 100);
  const auto top = TopKDense(trending, 50, [&](ItemIndex i) { return exclude.contains(i); });
  return knn.size() + top.size();
}

void BM_Request(benchmark::State& state) {
  Env& env = GetEnv();
  const ModelBundle& b = env.bundle;
  const auto& users = env.histories[LengthIndex(env, static_cast<int>(state.range(0)))];
  const int path = static_cast<int>(state.range(1));
  const bool past = path >= 2;
  const retrieval::ItemKnnRetriever knn;
  const retrieval::TrendingRetriever trending;
  size_t u = 0;
  for (auto _ : state) {
    const std::vector<Interaction>& h = users[u++ % users.size()];
    // Past: a different time per request, spread over the log.
    const int64_t as_of = past ? kStart + static_cast<int64_t>((u * 7919) % 997) * (kSpan / 997)
                               : b.trending.latest_time();
    if (path % 2 == 0) {
      benchmark::DoNotOptimize(DenseRequest(b, h, as_of));
    } else {
      const UserState st = BuildUserState(b, h, past ? as_of : 0, {});
      auto a = knn.Retrieve(b, st, 100);
      auto t = trending.Retrieve(b, st, 50);
      benchmark::DoNotOptimize(a->size() + t->size());
    }
  }
  state.SetLabel(path % 2 == 0 ? "dense (previous)" : "sparse + precomputed");
  if (path == 3) {
    // Outside the timed loop: how often the trending top-50 needed the dense
    // fallback, over 200 (user, time) pairs.
    int fallbacks = 0;
    for (int r = 0; r < 200; ++r) {
      const UserState st = BuildUserState(b, users[r % users.size()],
                                          kStart + static_cast<int64_t>(r) * (kSpan / 200), {});
      bool fallback = false;
      st.trending.Top(
          50, [&](ItemIndex i) { return st.exclude.contains(i); }, &fallback);
      fallbacks += fallback;
    }
    state.counters["fallback"] = fallbacks / 200.0;
  }
}
BENCHMARK(BM_Request)
    ->ArgsProduct({{10, 100, 1000, 5000}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMicrosecond);

void BM_Votes(benchmark::State& state) {
  Env& env = GetEnv();
  const ItemKnnModel& model = env.bundle.itemknn;
  const auto& users = env.histories[LengthIndex(env, static_cast<int>(state.range(0)))];
  const int form = static_cast<int>(state.range(1));
  size_t u = 0;
  for (auto _ : state) {
    std::vector<ItemIndex> items;
    for (const Interaction& e : users[u++ % users.size()]) items.push_back(e.item);
    const std::vector<float> w(items.size(), 1.0f);
    double sum = 0;
    if (form == 0) {
      std::vector<float> dense;
      std::vector<ItemIndex> voted;
      model.ScoreDense(items, w, &dense, &voted);
      for (ItemIndex i : voted) sum += dense[i];
    } else if (form == 1) {
      absl::flat_hash_map<ItemIndex, float> map;
      model.Score(items, w, &map);
      for (const auto& [i, s] : map) sum += s;
    } else if (form == 2) {
      ItemVotes votes;
      model.ScoreSparse(items, w, &votes);
      for (float s : votes.scores()) sum += s;
    } else {
      // Sort-and-merge: the votes in order, stable-sorted by item, summed.
      std::vector<std::pair<ItemIndex, float>> pairs;
      for (ItemIndex h : items) {
        auto ids = model.neighbors().row_ids(h);
        auto values = model.neighbors().row_values(h);
        for (size_t k = 0; k < ids.size(); ++k) pairs.emplace_back(ids[k], values[k]);
      }
      std::stable_sort(pairs.begin(), pairs.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::pair<ItemIndex, float>> merged;
      for (const auto& [i, v] : pairs) {
        if (!merged.empty() && merged.back().first == i) {
          merged.back().second += v;
        } else {
          merged.emplace_back(i, v);
        }
      }
      for (const auto& [i, s] : merged) sum += s;
    }
    benchmark::DoNotOptimize(sum);
  }
  static const char* const kNames[] = {"dense", "absl::flat_hash_map", "ItemVotes",
                                       "sort-and-merge"};
  state.SetLabel(kNames[form]);
}
BENCHMARK(BM_Votes)
    ->ArgsProduct({{10, 100, 1000, 5000}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace recsys

BENCHMARK_MAIN();

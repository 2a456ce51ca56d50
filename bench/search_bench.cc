// Search's lexical index (common/index/lexical_index.h) at catalogue scale:
// the cost of building it when retrieval loads a bundle, what it holds, and
// one query's match.
//
//   BM_LexicalBuild/c   LexicalIndex::Build over catalogue c; counters: items,
//                       words, postings, index_mb (LexicalIndex::MemoryBytes).
//                       The build's peak is about twice index_mb (per-item
//                       entries before the postings are grouped): compare the
//                       maximum resident size of --benchmark_filter=LexicalBuild/1
//                       with that of CategoryIndexBuild/1 (/usr/bin/time -v).
//   BM_LexicalMatch/c/q one Match of query set q (0: two words of a random
//                       title, 1: the four most common words of c: the worst
//                       case the postings bound caps) plus Top(100)
//   BM_CategoryIndexBuild/c  the category index (cold-start hints), counters
//                       as above
// Catalogues: c = 0 a synthetic 10^6-item one (titles of 2..6 words drawn
// from a Zipf(1.1) vocabulary of 300,000 words plus a year, 1..3 of 40
// categories; built here), c = 1 the bundle at RECSYS_BENCH_BUNDLE (a bundle
// version directory, e.g. registry/movielens/<version>; skipped when unset).
//
//   RECSYS_BENCH_BUNDLE=/tmp/scale-200k/registry/scale/<version> \
//     ./build/bin/recsys_bench_search
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bundle/model_bundle.h"
#include "common/index/lexical_index.h"
#include "common/log.h"

namespace recsys {
namespace {

// The parts of a catalogue the index reads.
struct TestCatalogue {
  std::vector<std::string> titles;
  std::vector<std::string> category_names;
  std::vector<std::vector<int32_t>> categories;
  std::string name;
};

TestCatalogue Synthetic() {
  constexpr int32_t kItems = 1000000, kWords = 300000;
  TestCatalogue c;
  c.name = "synthetic 10^6";
  for (int k = 0; k < 40; ++k) c.category_names.push_back(absl::StrCat("Genre", k));
  std::vector<double> cdf(kWords);
  double sum = 0;
  for (int w = 0; w < kWords; ++w) cdf[w] = sum += 1.0 / std::pow(w + 1.0, 1.1);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, sum);
  auto word = [&] {
    const int w = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    return absl::StrCat("w", w, "x");
  };
  c.titles.reserve(kItems);
  c.categories.reserve(kItems);
  for (int32_t i = 0; i < kItems; ++i) {
    std::string title;
    const int n = 2 + static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) absl::StrAppend(&title, k ? " " : "", word());
    absl::StrAppend(&title, " (", 1950 + rng() % 75, ")");
    c.titles.push_back(std::move(title));
    std::vector<int32_t> cats;
    for (int k = 0, m = 1 + static_cast<int>(rng() % 3); k < m; ++k) cats.push_back(rng() % 40);
    c.categories.push_back(std::move(cats));
  }
  return c;
}

std::unique_ptr<TestCatalogue> FromBundle() {
  const char* dir = std::getenv("RECSYS_BENCH_BUNDLE");
  if (dir == nullptr || *dir == '\0') return nullptr;
  auto bundle = ModelBundle::Load(dir, BundleParts::kGateway);
  if (!bundle.ok()) {
    LOG(ERROR) << "RECSYS_BENCH_BUNDLE: " << bundle.status();
    return nullptr;
  }
  auto c = std::make_unique<TestCatalogue>();
  const Catalogue& cat = (*bundle)->catalogue;
  c->name = dir;
  c->titles = cat.titles;
  c->category_names = cat.category_names;
  for (ItemIndex i = 0; i < cat.size(); ++i) {
    auto s = cat.item_categories(i);
    c->categories.emplace_back(s.begin(), s.end());
  }
  return c;
}

// Each catalogue is made on first use only (a filtered run holds one).
const TestCatalogue* Catalogue(int which) {
  if (which == 0) {
    static const TestCatalogue* synthetic = new TestCatalogue(Synthetic());
    return synthetic;
  }
  static const TestCatalogue* bundle = FromBundle().release();
  return bundle;
}

LexicalIndex Build(const TestCatalogue& c) {
  return LexicalIndex::Build(c.titles, c.category_names, [&c](ItemIndex i) {
    return std::span<const int32_t>(c.categories[i]);
  });
}

void BM_LexicalBuild(benchmark::State& state) {
  const TestCatalogue* c = Catalogue(static_cast<int>(state.range(0)));
  if (c == nullptr) {
    state.SkipWithError("RECSYS_BENCH_BUNDLE is not set");
    return;
  }
  LexicalIndex index;
  for (auto _ : state) {
    index = LexicalIndex();
    index = Build(*c);
    benchmark::DoNotOptimize(index.num_postings());
  }
  state.SetLabel(c->name);
  state.counters["items"] = index.num_items();
  state.counters["words"] = index.vocabulary_size();
  state.counters["postings"] = static_cast<double>(index.num_postings());
  state.counters["index_mb"] = index.MemoryBytes() / double{1 << 20};
}

void BM_LexicalMatch(benchmark::State& state) {
  const TestCatalogue* c = Catalogue(static_cast<int>(state.range(0)));
  if (c == nullptr) {
    state.SkipWithError("RECSYS_BENCH_BUNDLE is not set");
    return;
  }
  static std::vector<std::unique_ptr<LexicalIndex>> built(2);
  auto& index = built[state.range(0)];
  if (index == nullptr) index = std::make_unique<LexicalIndex>(Build(*c));
  std::vector<std::string> queries;
  std::mt19937_64 rng(9);
  if (state.range(1) == 0) {
    for (int q = 0; q < 1000; ++q) {
      const std::vector<std::string> words = LexicalWords(c->titles[rng() % c->titles.size()]);
      queries.push_back(words.size() >= 2 ? words[0] + " " + words[1] : words.front());
    }
  } else {
    // The most common words of the catalogue (largest document frequency).
    std::vector<std::pair<int32_t, std::string>> by_df;
    for (size_t i = 0; i < c->titles.size(); i += std::max<size_t>(1, c->titles.size() / 5000)) {
      for (const std::string& w : LexicalWords(c->titles[i])) {
        by_df.emplace_back(index->DocumentFrequency(w), w);
      }
    }
    for (const std::string& name : c->category_names) {
      for (const std::string& w : LexicalWords(name)) {
        by_df.emplace_back(index->DocumentFrequency(w), w);
      }
    }
    std::sort(by_df.rbegin(), by_df.rend());
    by_df.erase(std::unique(by_df.begin(), by_df.end()), by_df.end());
    std::string q;
    for (size_t k = 0; k < 4 && k < by_df.size(); ++k) absl::StrAppend(&q, by_df[k].second, " ");
    queries.push_back(q);
    state.SetLabel(q);
  }
  size_t n = 0, matched = 0;
  for (auto _ : state) {
    const LexicalMatches m = index->Match(queries[n++ % queries.size()]);
    matched += m.Top(100).size();
  }
  benchmark::DoNotOptimize(matched);
}

void BM_CategoryIndexBuild(benchmark::State& state) {
  const TestCatalogue* c = Catalogue(static_cast<int>(state.range(0)));
  if (c == nullptr) {
    state.SkipWithError("RECSYS_BENCH_BUNDLE is not set");
    return;
  }
  for (auto _ : state) {
    const CategoryIndex index = CategoryIndex::Build(
        c->category_names, static_cast<int32_t>(c->titles.size()),
        [c](ItemIndex i) { return std::span<const int32_t>(c->categories[i]); });
    benchmark::DoNotOptimize(index.num_categories());
  }
  state.SetLabel(c->name);
}

BENCHMARK(BM_LexicalBuild)->Arg(0)->Arg(1)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LexicalMatch)
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CategoryIndexBuild)->Arg(0)->Arg(1)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace recsys

BENCHMARK_MAIN();

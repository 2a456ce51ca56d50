// A bundle loaded with memory-mapped arrays serves exactly like the bundle the
// fit built in memory, and keeps serving after its directory is removed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/bundle/bundle_files.h"
#include "common/bundle/model_bundle.h"
#include "common/bundle/registry.h"
#include "common/features/features.h"
#include "common/retrieval/pool.h"
#include "offline/fit_bundle.h"
#include "offline/trainer.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

// What serving computes for one history: the pool (items and every source's
// score) and the ranked top 10 (items and logits).
struct Served {
  std::vector<ItemIndex> pool_items;
  std::vector<float> pool_scores;
  std::vector<ItemIndex> top_items;
  std::vector<float> top_scores;
  bool operator==(const Served&) const = default;
};

std::vector<Served> Serve(const ModelBundle& b) {
  std::vector<Served> out;
  for (int u = 0; u < 30; ++u) {
    std::vector<Interaction> history;
    for (int k = 0; k < 4; ++k) {
      const auto item = b.catalogue.ids.Find("m" + std::to_string((u + 3 * k * (u % 5 + 1)) % 60));
      history.push_back(Interaction{0, *item, 1500000000 + 60 * k, 1.0f});
    }
    const UserState st = BuildUserState(b, history, 1500000000 + 3600, {});
    const auto pool = retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st,
                                              b.params.quotas, b.params.max_pool, nullptr);
    Served s;
    for (const PooledCandidate& c : pool) {
      s.pool_items.push_back(c.item);
      s.pool_scores.insert(s.pool_scores.end(), c.score.begin(), c.score.end());
    }
    for (const ScoredIndex& r : RankPool(b, st, pool, 10)) {
      s.top_items.push_back(r.item);
      s.top_scores.push_back(r.score);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The mapped bundle's pools and rankings equal those of the bundle fit in
// memory (owned arrays) with the same parameters, to the bit.
TEST(MappedBundle, ServesLikeTheFitBundle) {
  const std::string root = testing::FreshTempDir("mapped_bundle_fit");
  auto trained = testing::TrainToyBundle(root);
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto loaded = ModelBundle::Load(trained->bundle_dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ModelBundle& b = **loaded;
  ASSERT_TRUE(b.content.item_embeddings().mapped());
  ASSERT_TRUE(b.markov.ids.mapped());

  const offline::TrainOptions o = testing::ToyTrainOptions(root);
  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok()) << data.status();
  LeaveLastOutSplit split(*data);
  auto fit = offline::FitBundle(*data, split.train(), o, b.params);
  ASSERT_TRUE(fit.ok()) << fit.status();
  ASSERT_FALSE((*fit)->content.item_embeddings().mapped());
  (*fit)->ranker = b.ranker;  // the trainer fits the ranker after FitBundle
  const std::vector<Served> from_fit = Serve(**fit);
  const std::vector<Served> from_map = Serve(b);
  ASSERT_EQ(from_fit.size(), from_map.size());
  for (size_t u = 0; u < from_fit.size(); ++u) {
    EXPECT_FALSE(from_map[u].top_items.empty());
    EXPECT_EQ(from_fit[u].pool_items, from_map[u].pool_items) << "history " << u;
    EXPECT_EQ(from_fit[u].pool_scores, from_map[u].pool_scores) << "history " << u;
    EXPECT_EQ(from_fit[u].top_items, from_map[u].top_items) << "history " << u;
    EXPECT_EQ(from_fit[u].top_scores, from_map[u].top_scores) << "history " << u;
  }
  fs::remove_all(root);
}

// Registry gc removes a version that a process still has loaded (mapped): the
// bundle keeps serving the same results from the unlinked files.
TEST(MappedBundle, SurvivesGcOfItsDirectory) {
  const std::string root = testing::FreshTempDir("mapped_bundle_gc");
  ASSERT_TRUE(testing::TrainToyBundle(root).ok());
  ASSERT_TRUE(testing::TrainToyBundle(root).ok());
  const offline::TrainOptions o = testing::ToyTrainOptions(root);
  Registry registry(o.registry, o.name);
  auto versions = registry.List();
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 2u);
  const std::string oldest = (*versions)[0].version();
  auto loaded = ModelBundle::Load(registry.VersionDir(oldest));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto gateway = ModelBundle::Load(registry.VersionDir(oldest), BundleParts::kGateway);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const std::vector<Served> before = Serve(**loaded);
  const std::vector<int64_t> times_before = (*gateway)->histories.times_s.ToVector();

  auto gc = registry.Gc(/*keep=*/1, absl::ZeroDuration(), /*dry_run=*/false);
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_EQ(gc->removed, std::vector<std::string>{oldest});
  ASSERT_FALSE(fs::exists(registry.VersionDir(oldest)));

  EXPECT_TRUE(Serve(**loaded) == before);
  EXPECT_EQ((*gateway)->histories.times_s, times_before);
  double sum = 0;  // every page of the mapped arrays is still readable
  for (float v : (*loaded)->content.item_embeddings()) sum += v;
  for (float v : (*loaded)->als.item_factors()) sum += v;
  EXPECT_TRUE(std::isfinite(sum));
  fs::remove_all(root);
}

// A file whose checksum does not match is refused, and the mapping made to
// check it is never handed out.
TEST(MappedBundle, FailedVerificationIsNeverUsed) {
  const std::string dir = testing::FreshTempDir("mapped_bundle_files");
  const std::vector<float> values = {1.0f, 2.0f};
  ASSERT_TRUE(WriteFloatArray(dir + "/a.arr", {2}, values.data()).ok());
  const auto size = static_cast<int64_t>(fs::file_size(dir + "/a.arr"));
  BundleFiles files(dir, /*verified_only=*/true);
  const absl::Status bad = files.MapVerified("a.arr", size, std::string(64, '0'));
  EXPECT_TRUE(absl::IsDataLoss(bad)) << bad;
  EXPECT_NE(bad.message().find("SHA-256 mismatch"), std::string::npos) << bad;
  EXPECT_FALSE(files.Map("a.arr").ok());
  EXPECT_FALSE(files.MapVerified("a.arr", size + 1, std::string(64, '0')).ok());
  BundleFiles lax(dir);  // tools and tests: unverified mapping on demand
  auto a = lax.MapVector<float>("a.arr");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, values);
  fs::remove_all(dir);
}

// A corrupted array file makes the whole bundle load fail.
TEST(MappedBundle, CorruptArrayRefusesTheBundle) {
  const std::string root = testing::FreshTempDir("mapped_bundle_corrupt");
  auto trained = testing::TrainToyBundle(root);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const std::string path = trained->bundle_dir + "/als_items.arr";
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(100);
    f.put('\x7f');
  }
  auto loaded = ModelBundle::Load(trained->bundle_dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("als_items.arr: SHA-256 mismatch"), std::string::npos)
      << loaded.status();
  fs::remove_all(root);
}

}  // namespace
}  // namespace recsys

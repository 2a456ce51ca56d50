#include "offline/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/time/clock.h"
#include "common/bundle/promotion_gate.h"
#include "common/bundle/registry.h"
#include "common/features/features.h"
#include "common/retrieval/pool.h"
#include "common/retrieval/retriever.h"
#include "common/retrieval/user_state.h"
#include "offline/evaluate_pass.h"
#include "offline/fit_bundle.h"
#include "tests/testing/toy_registry.h"

namespace recsys::offline {
namespace {

namespace fs = std::filesystem;

TrainOptions SmallOptions(const std::string& root) { return testing::ToyTrainOptions(root); }

std::string TempDir(const std::string& name) { return testing::FreshTempDir("trainer_" + name); }

// Training publishes a bundle whose reload reproduces the in-memory models.
TEST(Trainer, PublishesBundleThatRoundTrips) {
  const std::string root = TempDir("roundtrip");
  TrainOptions o = SmallOptions(root);
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->bundle_dir.empty());
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const ModelBundle& b = **bundle;
  EXPECT_EQ(b.num_items(), 60);
  EXPECT_EQ(b.manifest.kind(), "evaluation");
  EXPECT_GT(b.manifest.leaderboard_size(), 0);

  // Refit the same models in memory and compare artefacts.
  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok());
  LeaveLastOutSplit split(*data);
  auto fresh = FitBundle(*data, split.train(), o, b.params);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ((*fresh)->content.item_embeddings(), b.content.item_embeddings());
  EXPECT_EQ((*fresh)->als.item_factors(), b.als.item_factors());
  EXPECT_EQ((*fresh)->itemknn.neighbors().ids, b.itemknn.neighbors().ids);
  EXPECT_EQ((*fresh)->itemknn.neighbors().values, b.itemknn.neighbors().values);
  EXPECT_EQ((*fresh)->markov.ids, b.markov.ids);
  EXPECT_EQ((*fresh)->catalogue.titles, b.catalogue.titles);
  EXPECT_EQ((*fresh)->catalogue.popularity, b.catalogue.popularity);
  // The flat category index, built or loaded (mapped), agrees with the
  // per-item lists the fit built.
  const Catalogue& built = (*fresh)->catalogue;
  ASSERT_EQ(built.categories.size(), static_cast<size_t>(built.size()));
  for (const Catalogue* c : {&b.catalogue, &built}) {
    ASSERT_EQ(c->category_offsets.size(), built.categories.size() + 1);
    for (ItemIndex i = 0; i < c->size(); ++i) {
      const std::span<const int32_t> flat = c->item_categories(i);
      EXPECT_EQ(std::vector<int32_t>(flat.begin(), flat.end()), built.categories[i]) << i;
    }
  }
  EXPECT_TRUE(b.catalogue.category_flat.mapped());
  EXPECT_TRUE(b.content.item_embeddings().mapped());
  EXPECT_TRUE(b.als.item_factors().mapped());
  EXPECT_TRUE(b.itemknn.neighbors().values.mapped());
  EXPECT_FALSE(built.category_flat.mapped());
  ASSERT_TRUE(b.ease.has_value());
  // The gateway's partial load carries the training histories and, of the
  // models, only the content item embeddings (mapped; no vocabulary).
  auto lite = ModelBundle::Load(result->bundle_dir, BundleParts::kGateway);
  ASSERT_TRUE(lite.ok()) << lite.status();
  EXPECT_EQ((*lite)->histories.items, (*fresh)->histories.items);
  EXPECT_EQ((*lite)->histories.times_s, (*fresh)->histories.times_s);
  EXPECT_EQ((*lite)->histories.users.names(), (*fresh)->histories.users.names());
  EXPECT_EQ((*lite)->histories.items.size(), split.train().size());
  EXPECT_EQ((*lite)->catalogue.titles, b.catalogue.titles);
  EXPECT_EQ((*lite)->content.dim(), b.content.dim());
  EXPECT_EQ((*lite)->content.item_embeddings(), b.content.item_embeddings());
  EXPECT_TRUE((*lite)->content.item_embeddings().mapped());
  EXPECT_EQ((*lite)->content.vocabulary_size(), 0);
  EXPECT_EQ((*lite)->als.num_items(), 0);
  EXPECT_EQ((*lite)->catalogue.popularity_total, b.catalogue.popularity_total);
  EXPECT_GT((*lite)->catalogue.popularity_total, 0.0);
  // The loaded bundle serves: a cluster-0 history gets cluster-0 candidates.
  std::vector<Interaction> history;
  for (int i : {0, 3, 6})
    history.push_back(
        Interaction{0, *b.catalogue.ids.Find("m" + std::to_string(i)), 1500000000, 1});
  UserState st = BuildUserState(b, history, 0, {});
  auto pool = retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st, b.params.quotas,
                                      b.params.max_pool, nullptr);
  ASSERT_FALSE(pool.empty());
  auto top = RankPool(b, st, pool, 5);
  ASSERT_EQ(top.size(), 5u);
  int same_cluster = 0;
  for (const auto& s : top) {
    const int id = std::stoi(b.catalogue.ids.Name(s.item).substr(1));
    same_cluster += id % 3 == 0;
  }
  EXPECT_GE(same_cluster, 4);
  fs::remove_all(root);
}

// Data without any item metadata (generic layout, no items.csv) still trains:
// the content model is built from co-consumption and its source beats random.
TEST(Trainer, TrainsWithoutItemMetadata) {
  const std::string root = TempDir("no_metadata");
  TrainOptions o = SmallOptions(root);
  fs::remove(o.data_dir + "/items.csv");
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_GT((*bundle)->content.dim(), 0);
  // No text vocabulary: a text query embeds to zero (Search finds nothing).
  const std::vector<float> query = (*bundle)->content.EmbedText("Movie 3 part 0");
  EXPECT_TRUE(std::all_of(query.begin(), query.end(), [](float x) { return x == 0.0f; }));
  double content = -1, random = -1;
  for (const auto& row : result->leaderboard) {
    if (row.split != "test") continue;
    if (row.model == "content") content = row.recall;
    if (row.model == "random") random = row.recall;
  }
  ASSERT_GE(content, 0.0);
  EXPECT_GT(content, random);
  fs::remove_all(root);
}
// The published bundle carries per-case results for every leaderboard row,
// listed in the manifest, keyed by the split's cases, whose means are the
// leaderboard's figures.
TEST(Trainer, PublishesPerCaseResults) {
  const std::string root = TempDir("cases");
  TrainOptions o = SmallOptions(root);
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  auto manifest = ReadManifest(result->bundle_dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto cases = ReadBundleCaseResults(result->bundle_dir, *manifest);
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_TRUE(cases->has_value());
  const CaseResults& r = **cases;

  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok());
  LeaveLastOutSplit split(*data);
  ASSERT_EQ(r.sections.size(), 2u);
  EXPECT_EQ(r.sections[0].split, "validation");
  EXPECT_EQ(r.sections[0].keys, CaseKeys(*data, split, SplitName::kValidation));
  EXPECT_EQ(r.sections[1].keys, CaseKeys(*data, split, SplitName::kTest));
  EXPECT_EQ(r.sections[1].keys.size(), 90u);

  ASSERT_GT(manifest->leaderboard_size(), 0);
  for (const v1::LeaderboardRow& row : manifest->leaderboard()) {
    const auto cases_row = r.Find(row.split(), row.model(), row.k());
    ASSERT_TRUE(cases_row.has_value()) << row.split() << " " << row.model();
    ASSERT_EQ(static_cast<int64_t>(cases_row->size()), row.users());
    double recall = 0, ndcg = 0;
    for (size_t i = 0; i < cases_row->size(); ++i) {
      recall += cases_row->recall[i];
      ndcg += cases_row->ndcg[i];
    }
    EXPECT_NEAR(recall / row.users(), row.recall(), 1e-6) << row.model();
    EXPECT_NEAR(ndcg / row.users(), row.ndcg(), 1e-6) << row.model();
  }
  EXPECT_TRUE(ModelBundle::Load(result->bundle_dir).ok());
  fs::remove_all(root);
}

// One flipped byte in an artefact makes the load fail with the file's name.
TEST(Trainer, CorruptBundleIsRefused) {
  const std::string root = TempDir("corrupt");
  auto result = Train(SmallOptions(root));
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string victim = result->bundle_dir + "/als_items.arr";
  ASSERT_TRUE(fs::exists(victim));
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(100);
    f.write(&c, 1);
  }
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_FALSE(bundle.ok());
  EXPECT_NE(bundle.status().message().find("als_items.arr"), std::string::npos) << bundle.status();
  fs::remove_all(root);
}

// --ease_keep publishes a pruned, sparse EASE that reloads to the in-memory scores.
TEST(Trainer, PrunedEaseRoundTrips) {
  const std::string root = TempDir("ease_keep");
  TrainOptions o = SmallOptions(root);
  o.ease_keep = 4;
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const ModelBundle& b = **bundle;
  ASSERT_TRUE(b.ease.has_value());
  EXPECT_TRUE(b.ease->sparse());
  EXPECT_LE(b.ease->num_entries(), 60 * 4);
  EXPECT_EQ(b.manifest.parameters().at("ease.keep"), "4");
  EXPECT_TRUE(fs::exists(result->bundle_dir + "/ease.cols.arr"));
  EXPECT_FALSE(fs::exists(result->bundle_dir + "/ease.arr"));

  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok());
  LeaveLastOutSplit split(*data);
  auto fresh = FitBundle(*data, split.train(), o, b.params);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const std::vector<ItemIndex> history = {0, 3, 6, 7, 31};
  std::vector<float> served, offline;
  b.ease->Score(history, &served);
  (*fresh)->ease->Score(history, &offline);
  EXPECT_EQ(served, offline);
  fs::remove_all(root);
}

// The same seed gives the same leaderboard twice.
TEST(Trainer, DeterministicForFixedSeed) {
  const std::string root = TempDir("determinism");
  TrainOptions o = SmallOptions(root);
  o.publish = false;
  auto a = Train(o);
  auto b = Train(o);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->leaderboard.size(), b->leaderboard.size());
  for (size_t i = 0; i < a->leaderboard.size(); ++i) {
    EXPECT_EQ(a->leaderboard[i].model, b->leaderboard[i].model);
    EXPECT_EQ(a->leaderboard[i].recall, b->leaderboard[i].recall) << a->leaderboard[i].model;
    EXPECT_EQ(a->leaderboard[i].ndcg, b->leaderboard[i].ndcg) << a->leaderboard[i].model;
  }
  EXPECT_EQ(a->ranker_auc, b->ranker_auc);
  fs::remove_all(root);
}

// A production run refits on every event and says so in the manifest.
TEST(Trainer, ProductionBundleRefitsOnAllEvents) {
  const std::string root = TempDir("production");
  TrainOptions o = SmallOptions(root);
  o.production = true;
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ((*bundle)->manifest.kind(), "production");
  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok());
  float total = 0;
  for (float c : (*bundle)->catalogue.popularity) total += c;
  EXPECT_EQ(static_cast<size_t>(total), data->interactions.size());
  fs::remove_all(root);
}

// Every row carries the beyond-accuracy metrics, in the leaderboard JSON as
// well: diversity on the top-k lists of every source, the baselines and the
// two-stage list (null for the pool, whose lists nobody sees), novelty and
// exposure Gini on all of them, and the older fields unchanged in name.
TEST(Trainer, LeaderboardHasBeyondAccuracyMetrics) {
  const std::string root = TempDir("beyond");
  TrainOptions o = SmallOptions(root);
  o.publish = false;
  o.json_path = root + "/leaderboard.json";
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  const double max_bits = std::log2(static_cast<double>(result->leaderboard.front().users) * 1000);
  for (const LeaderboardRow& row : result->leaderboard) {
    EXPECT_EQ(row.diversity.has_value(), row.model != "pool") << row.model;
    if (row.diversity) {
      EXPECT_GE(*row.diversity, 0.0) << row.model;
      EXPECT_LE(*row.diversity, 2.0) << row.model;
    }
    ASSERT_TRUE(row.novelty.has_value()) << row.model;
    EXPECT_GT(*row.novelty, 0.0) << row.model;
    EXPECT_LT(*row.novelty, max_bits) << row.model;
    EXPECT_GT(row.gini, 0.0) << row.model;
    EXPECT_LT(row.gini, 1.0) << row.model;
  }
  // Popularity recommends the same few items to everyone: its exposure is
  // more concentrated and its items less novel than random's.
  auto find = [&](const std::string& model) {
    for (const LeaderboardRow& row : result->leaderboard) {
      if (row.split == "test" && row.model == model) return row;
    }
    return LeaderboardRow{};
  };
  EXPECT_GT(find("popularity").gini, find("random").gini);
  EXPECT_LT(*find("popularity").novelty, *find("random").novelty);
  std::ifstream in(o.json_path);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* field : {"\"recall\": ", "\"ndcg\": ", "\"map\": ", "\"coverage\": ",
                            "\"users\": ", "\"diversity\": 0.", "\"novelty\": ", "\"gini\": 0.",
                            "\"model\": \"pool\", \"k\": "}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << "\n" << json;
  }
  EXPECT_NE(json.find("\"diversity\": null"), std::string::npos) << json;  // the pool rows
  fs::remove_all(root);
}

// A sampled evaluation reports the sample's size with confidence intervals.
TEST(Trainer, SampledEvaluationReportsIntervals) {
  const std::string root = TempDir("sampled");
  TrainOptions o = SmallOptions(root);
  o.publish = false;
  o.eval_users = 5;
  o.ranker_cases = 3;
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const LeaderboardRow& row : result->leaderboard) {
    EXPECT_EQ(row.users, 5) << row.model;
    EXPECT_GE(row.recall_ci95, 0.0);
  }
  fs::remove_all(root);
}

// A source evaluation that the deadline interrupts gives no figure rather
// than a mean over a different subset.
TEST(Trainer, SourceNdcgHonoursItsDeadline) {
  const std::string root = TempDir("deadline");
  TrainOptions o = SmallOptions(root);
  auto data = LoadDataset(o.data_dir, o.load);
  ASSERT_TRUE(data.ok());
  LeaveLastOutSplit split(*data);
  auto bundle = FitBundle(*data, split.train(), o, o.serving);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const auto& cases = split.cases(SplitName::kValidation);
  EXPECT_FALSE(SourceNdcg(**bundle, split, cases, SourceId::kItemKnn, 10, 2,
                          absl::Now() - absl::Seconds(1))
                   .has_value());
  const std::optional<double> ndcg =
      SourceNdcg(**bundle, split, cases, SourceId::kItemKnn, 10, 2, absl::InfiniteFuture());
  ASSERT_TRUE(ndcg.has_value());
  EXPECT_GE(*ndcg, 0.0);
  fs::remove_all(root);
}

// A catalogue above ease_max_items gets EASE on its most popular items: the
// bundle round-trips and the EASE source returns catalogue items it covers.
TEST(Trainer, EaseOnThePopularPartOfALargerCatalogue) {
  const std::string root = TempDir("ease_subset");
  TrainOptions o = SmallOptions(root);
  o.ease_max_items = 20;
  auto result = Train(o);
  ASSERT_TRUE(result.ok()) << result.status();
  auto bundle = ModelBundle::Load(result->bundle_dir);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const ModelBundle& b = **bundle;
  ASSERT_TRUE(b.ease.has_value());
  EXPECT_TRUE(b.ease->subset());
  EXPECT_EQ(b.ease->num_items(), 20);
  bool ease_row = false;
  for (const LeaderboardRow& row : result->leaderboard) ease_row |= row.model == "ease";
  EXPECT_TRUE(ease_row);
  const UserState st = BuildUserState(b, {{0, b.ease->global_item(0), 1, 1.0f}}, 0, {});
  auto list = retrieval::DefaultRetrievers()[static_cast<int>(SourceId::kEase)]->Retrieve(b, st, 5);
  ASSERT_TRUE(list.ok());
  for (const ScoredIndex& s : *list) {
    EXPECT_GE(b.ease->Position(s.item), 0) << s.item;
    EXPECT_NE(s.item, b.ease->global_item(0));
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace recsys::offline

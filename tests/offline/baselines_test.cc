#include "offline/baselines.h"

#include <gtest/gtest.h>

#include "common/data/loader.h"

namespace recsys::offline {
namespace {

// On the bundled MovieLens data the baselines land where an independent
// implementation of the same protocol puts them (Popularity test recall@10
// 0.0426 ± 0.004, NDCG@10 0.0194 ± 0.003; Random near 0).
TEST(Baselines, BundledDataMatchesReferenceFigures) {
  auto data = LoadDataset(std::string(RECSYS_DATA_DIR) + "/ml-latest-small", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  LeaveLastOutSplit split(*data);
  EvalOptions options;
  PopularityModel popularity(split.train(), data->num_items());
  const LeaderboardRow pop = Evaluate(popularity, split, SplitName::kTest, data->num_items(), options);
  EXPECT_EQ(pop.users, 610);
  EXPECT_NEAR(pop.recall, 0.0426, 0.004);
  EXPECT_NEAR(pop.ndcg, 0.0194, 0.003);
  RandomModel random(data->num_items(), 42);
  const LeaderboardRow rnd = Evaluate(random, split, SplitName::kTest, data->num_items(), options);
  EXPECT_LT(rnd.recall, 0.01);
  EXPECT_GT(rnd.coverage, pop.coverage);
}

// Baselines never return a seen item and return k items when they can.
TEST(Baselines, ExcludeSeenItems) {
  std::vector<Interaction> train = {{0, 0, 1, 1}, {1, 0, 2, 1}, {1, 1, 3, 1}, {2, 2, 4, 1}};
  PopularityModel popularity(train, 4);
  Query q{0, {}, 10};
  SeenSet seen = {0};
  auto list = popularity.Recommend(q, 2, seen);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].item, 1);  // ties (1 and 2, one event each) by index
  EXPECT_EQ(list[1].item, 2);
  RandomModel random(4, 1);
  auto r = random.Recommend(q, 10, seen);
  EXPECT_EQ(r.size(), 3u);
  for (const auto& s : r) EXPECT_NE(s.item, 0);
  TrendingModel trending(train, 4, 100.0);
  TrendingEvalModel trend(trending);
  auto t = trend.Recommend(Query{0, {}, 4}, 1, seen);  // only events before t=4 count
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].item, 1);
}

// The leaderboard JSON has the documented fields, one object per row.
TEST(Leaderboard, JsonFields) {
  LeaderboardRow r{"test", "popularity", 10, 0.5, 0.25, 0.125, 0.01, 3};
  const std::string json = LeaderboardJson({r});
  EXPECT_NE(json.find("\"split\": \"test\""), std::string::npos);
  EXPECT_NE(json.find("\"model\": \"popularity\""), std::string::npos);
  EXPECT_NE(json.find("\"k\": 10"), std::string::npos);
  EXPECT_NE(json.find("\"recall\": 0.500000"), std::string::npos);
  EXPECT_NE(json.find("\"users\": 3"), std::string::npos);
  EXPECT_NE(FormatLeaderboard({r}).find("popularity"), std::string::npos);
  // Beyond accuracy: absent diversity and novelty are null, present ones numbers.
  EXPECT_NE(json.find("\"diversity\": null, \"novelty\": null, \"gini\": 0.000000}"),
            std::string::npos)
      << json;
  r.diversity = 0.75;
  r.novelty = 9.5;
  r.gini = 0.5;
  const std::string full = LeaderboardJson({r});
  EXPECT_NE(full.find("\"diversity\": 0.750000, \"novelty\": 9.500000, \"gini\": 0.500000}"),
            std::string::npos)
      << full;
  const std::string table = FormatLeaderboard({r});
  EXPECT_NE(table.find("diversity@10"), std::string::npos) << table;
  EXPECT_NE(table.find("0.7500"), std::string::npos) << table;
}

}  // namespace
}  // namespace recsys::offline

#include <gtest/gtest.h>

#include "common/data/loader.h"

namespace recsys {
namespace {

const std::string kFixtures = RECSYS_FIXTURES_DIR;

// The small MovieLens-latest fixture loads: quoted titles with commas, genres, tags.
TEST(MovieLensLoader, LoadsFixture) {
  auto data = LoadDataset(kFixtures + "/movielens", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->report.format, DataFormat::kMovieLensLatest);
  EXPECT_EQ(data->num_users(), 3);
  EXPECT_EQ(data->interactions.size(), 12u);
  auto item = data->items.Find("11");
  ASSERT_TRUE(item.has_value());
  const ItemInfo& info = data->item_info[*item];
  EXPECT_EQ(info.title, "American President, The (1995)");
  EXPECT_EQ(info.categories, (std::vector<std::string>{"Comedy", "Drama", "Romance"}));
  EXPECT_EQ(info.release_time_s, 788918400);  // 1995-01-01T00:00:00Z
  auto toy = data->items.Find("1");
  ASSERT_TRUE(toy.has_value());
  EXPECT_NE(data->item_info[*toy].text.find("pixar"), std::string::npos);
  // "(no genres listed)" means no categories.
  auto none = data->items.Find("5");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(data->item_info[*none].categories.empty());
}

// A broken ratings file fails with file and line, or is skipped and counted.
TEST(MovieLensLoader, BrokenFixtureNamesFileAndLine) {
  auto data = LoadDataset(kFixtures + "/movielens_broken", LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("ratings.csv:4:"), std::string::npos)
      << data.status();
  LoadOptions skip;
  skip.on_bad_line = BadLinePolicy::kSkip;
  auto skipped = LoadDataset(kFixtures + "/movielens_broken", skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->report.bad_lines, 2);
  ASSERT_EQ(skipped->report.bad_line_messages.size(), 2u);
  EXPECT_NE(skipped->report.bad_line_messages[0].find("ratings.csv:4:"), std::string::npos);
}

// The bundled data set loads in full with no bad line.
TEST(MovieLensLoader, LoadsBundledData) {
  auto data = LoadDataset(std::string(RECSYS_DATA_DIR) + "/ml-latest-small", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_users(), 610);
  EXPECT_EQ(data->num_items(), 9742);
  EXPECT_EQ(data->interactions.size(), 100836u);
  EXPECT_EQ(data->report.bad_lines, 0);
  EXPECT_EQ(data->report.unknown_item_refs, 0);
}

TEST(ReleaseTime, ParsesYearSuffix) {
  EXPECT_EQ(ReleaseTimeFromTitle("Heat (1995)"), 788918400);
  EXPECT_EQ(ReleaseTimeFromTitle("Babylon 5"), 0);
  EXPECT_EQ(ReleaseTimeFromTitle("Epoch (1970) "), 0 * 86400);
}

}  // namespace
}  // namespace recsys

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/data/loader.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = RECSYS_FIXTURES_DIR;

// Writes `interactions` as interactions.csv into a fresh temporary directory.
std::string TempDataDir(const std::string& name, const std::string& interactions) {
  const fs::path dir = fs::temp_directory_path() /
                       ("recsys_generic_loader_test_" + name + "_" +
                        std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "interactions.csv") << interactions;
  return dir.string();
}

// The generic fixture loads: reordered columns, weights, RFC 3339 times, quoted
// catalogue fields, '|'-separated categories, unknown items.
TEST(GenericLoader, LoadsFixture) {
  auto data = LoadDataset(kFixtures + "/generic", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->report.format, DataFormat::kGeneric);
  EXPECT_EQ(data->report.files.size(), 2u);
  EXPECT_EQ(data->report.lines_read, 3 + 6);
  EXPECT_EQ(data->report.bad_lines, 0);
  EXPECT_EQ(data->num_users(), 3);
  // items.csv order first, then i9 from the interactions.
  EXPECT_EQ(data->items.names(), (std::vector<std::string>{"i1", "i2", "i3", "i9"}));
  EXPECT_EQ(data->report.unknown_item_refs, 2);  // i9, twice

  const ItemInfo& i1 = data->item_info[0];
  EXPECT_EQ(i1.title, "Hello, World");
  EXPECT_EQ(i1.text, "first item text");
  EXPECT_EQ(i1.categories, (std::vector<std::string>{"news", "tech"}));
  EXPECT_TRUE(i1.has_metadata);
  EXPECT_TRUE(data->item_info[1].categories.empty());
  EXPECT_EQ(data->item_info[2].title, "Quote \"this\"");
  EXPECT_EQ(data->item_info[2].text, "about sports, mostly");
  EXPECT_FALSE(data->item_info[3].has_metadata);

  ASSERT_EQ(data->interactions.size(), 6u);
  const auto& x = data->interactions;
  EXPECT_EQ(data->users.Name(x[0].user), "u1");
  EXPECT_EQ(x[0].item, 0);
  EXPECT_EQ(x[0].timestamp_s, 1700000000);
  EXPECT_FLOAT_EQ(x[0].weight, 2.5f);
  EXPECT_EQ(x[1].timestamp_s, 1700000001);  // 2023-11-14T23:13:21+01:00
  EXPECT_FLOAT_EQ(x[2].weight, 0.0f);
  EXPECT_EQ(x[3].item, 3);
  EXPECT_FLOAT_EQ(x[4].weight, 1.0f);  // empty weight field
}

// A broken interactions file fails with file and line, or is skipped and counted.
TEST(GenericLoader, BrokenFixtureNamesFileAndLine) {
  auto data = LoadDataset(kFixtures + "/generic_broken", LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("interactions.csv:3:"), std::string::npos)
      << data.status();
  LoadOptions skip;
  skip.on_bad_line = BadLinePolicy::kSkip;
  auto skipped = LoadDataset(kFixtures + "/generic_broken", skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->report.bad_lines, 3);  // bad time, 2 fields, open quote
  ASSERT_EQ(skipped->report.bad_line_messages.size(), 3u);
  EXPECT_NE(skipped->report.bad_line_messages[0].find("interactions.csv:3:"),
            std::string::npos);
  EXPECT_NE(skipped->report.bad_line_messages[1].find("interactions.csv:5:"),
            std::string::npos);
  EXPECT_NE(skipped->report.bad_line_messages[2].find("interactions.csv:6:"),
            std::string::npos);
  ASSERT_EQ(skipped->interactions.size(), 3u);
  EXPECT_EQ(skipped->interactions[2].timestamp_s, 1700000000);  // RFC 3339, no weight column
  EXPECT_FLOAT_EQ(skipped->interactions[2].weight, 1.0f);
}

// A header without a required column is an error naming the column.
TEST(GenericLoader, MissingRequiredColumnIsAnError) {
  const std::string dir = TempDataDir("header", "user,item,weight\nu1,i1,1\n");
  auto data = LoadDataset(dir, LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("interactions.csv:1:"), std::string::npos)
      << data.status();
  EXPECT_NE(data.status().message().find("'timestamp'"), std::string::npos) << data.status();
  fs::remove_all(dir);
}

// Negative and non-finite weights are bad lines.
TEST(GenericLoader, RejectsBadWeights) {
  const std::string dir = TempDataDir(
      "weight", "user,item,timestamp,weight\nu1,i1,1,1\nu1,i2,2,-1\nu1,i3,3,nan\nu1,i4,4,inf\n");
  auto data = LoadDataset(dir, LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("interactions.csv:3: bad weight"), std::string::npos)
      << data.status();
  LoadOptions skip;
  skip.on_bad_line = BadLinePolicy::kSkip;
  auto skipped = LoadDataset(dir, skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->report.bad_lines, 3);
  EXPECT_EQ(skipped->interactions.size(), 1u);
  fs::remove_all(dir);
}

// Every fixture directory is detected as its layout.
TEST(DetectDataFormat, DetectsEveryFixtureLayout) {
  const std::vector<std::pair<std::string, DataFormat>> cases = {
      {"movielens", DataFormat::kMovieLensLatest},
      {"movielens_broken", DataFormat::kMovieLensLatest},
      {"ml100k", DataFormat::kMovieLens100k},
      {"ml100k_broken", DataFormat::kMovieLens100k},
      {"mind", DataFormat::kMind},
      {"mind_broken", DataFormat::kMind},
      {"generic", DataFormat::kGeneric},
      {"generic_broken", DataFormat::kGeneric},
  };
  for (const auto& [dir, expected] : cases) {
    auto format = DetectDataFormat(kFixtures + "/" + dir);
    ASSERT_TRUE(format.ok()) << dir << ": " << format.status();
    EXPECT_EQ(*format, expected) << dir;
  }
  EXPECT_FALSE(DetectDataFormat(kFixtures).ok());  // holds no data files itself
  EXPECT_EQ(DetectDataFormat(kFixtures + "/no_such_dir").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace recsys

#include <gtest/gtest.h>

#include "common/data/loader.h"

namespace recsys {
namespace {

const std::string kFixtures = RECSYS_FIXTURES_DIR;

// The ml-100k fixture loads: latin-1 titles, genre flags, release dates, unknown ids.
TEST(MovieLens100kLoader, LoadsFixture) {
  auto data = LoadDataset(kFixtures + "/ml100k", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->report.format, DataFormat::kMovieLens100k);
  EXPECT_EQ(data->report.files.size(), 3u);
  EXPECT_EQ(data->num_users(), 3);
  EXPECT_EQ(data->num_items(), 7);  // 6 in u.item + item 999 from u.data
  ASSERT_EQ(data->interactions.size(), 10u);
  EXPECT_EQ(data->report.lines_read, 20 + 6 + 10);  // u.genre (with blank line), u.item, u.data
  EXPECT_EQ(data->report.bad_lines, 0);
  EXPECT_EQ(data->report.unknown_item_refs, 2);  // item 999, referenced twice

  // Catalogue order fixes the item indices.
  EXPECT_EQ(data->items.Name(0), "1");
  EXPECT_EQ(data->items.Name(5), "267");
  EXPECT_EQ(data->items.Name(6), "999");

  const ItemInfo& toy = data->item_info[*data->items.Find("1")];
  EXPECT_EQ(toy.title, "Toy Story (1995)");
  EXPECT_EQ(toy.categories, (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  EXPECT_EQ(toy.release_time_s, 788918400);  // 01-Jan-1995
  EXPECT_TRUE(toy.has_metadata);

  const ItemInfo& cafe = data->item_info[*data->items.Find("4")];
  EXPECT_EQ(cafe.title, "Caf\xC3\xA9 au Lait (1993)");  // 0xE9 converted to UTF-8
  EXPECT_EQ(cafe.categories, (std::vector<std::string>{"Comedy"}));
  EXPECT_EQ(cafe.release_time_s, 836524800);  // 05-Jul-1996, not the title year

  // An empty release date falls back to the year in the title.
  const ItemInfo& some = data->item_info[*data->items.Find("5")];
  EXPECT_EQ(some.release_time_s, 820454400);  // 1996-01-01
  EXPECT_EQ(some.categories, (std::vector<std::string>{"Drama"}));

  // The "unknown" genre is not a category; no date and no year means 0.
  const ItemInfo& unknown = data->item_info[*data->items.Find("267")];
  EXPECT_TRUE(unknown.categories.empty());
  EXPECT_EQ(unknown.release_time_s, 0);

  EXPECT_FALSE(data->item_info[*data->items.Find("999")].has_metadata);

  const Interaction& first = data->interactions[0];
  EXPECT_EQ(data->users.Name(first.user), "1");
  EXPECT_EQ(data->items.Name(first.item), "1");
  EXPECT_EQ(first.timestamp_s, 874965758);
  EXPECT_FLOAT_EQ(first.weight, 5.0f);
  EXPECT_FLOAT_EQ(data->interactions[5].weight, 1.0f);
}

// Broken u.item and u.data lines fail with file and line, or are skipped and counted.
TEST(MovieLens100kLoader, BrokenFixtureNamesFileAndLine) {
  auto data = LoadDataset(kFixtures + "/ml100k_broken", LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("u.item:3:"), std::string::npos) << data.status();
  LoadOptions skip;
  skip.on_bad_line = BadLinePolicy::kSkip;
  auto skipped = LoadDataset(kFixtures + "/ml100k_broken", skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->report.bad_lines, 2);
  ASSERT_EQ(skipped->report.bad_line_messages.size(), 2u);
  EXPECT_NE(skipped->report.bad_line_messages[0].find("u.item:3:"), std::string::npos);
  EXPECT_NE(skipped->report.bad_line_messages[1].find("u.data:4:"), std::string::npos);
  EXPECT_EQ(skipped->interactions.size(), 9u);
  // Item 3 lost its catalogue line, so its rating is an unknown reference too.
  EXPECT_EQ(skipped->report.unknown_item_refs, 3);
}

}  // namespace
}  // namespace recsys

#include <gtest/gtest.h>

#include "common/data/loader.h"

namespace recsys {
namespace {

const std::string kFixtures = RECSYS_FIXTURES_DIR;

// 2019-11-11T00:00:00Z and 2019-11-12T00:00:00Z.
constexpr int64_t kNov11 = 1573430400;
constexpr int64_t kNov12 = kNov11 + 86400;

struct Event {
  std::string user;
  std::string item;
  int64_t timestamp_s;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  *os << "{" << e.user << ", " << e.item << ", " << e.timestamp_s << "}";
}

// The MIND fixture loads: news metadata, 12-hour times, histories before
// impressions, clicks as interactions, labelled impressions, unknown ids.
TEST(MindLoader, LoadsFixture) {
  auto data = LoadDataset(kFixtures + "/mind", LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->report.format, DataFormat::kMind);
  EXPECT_EQ(data->report.bad_lines, 0);
  EXPECT_EQ(data->report.lines_read, 4 + 6);
  // Users in first-seen file order.
  EXPECT_EQ(data->users.names(), (std::vector<std::string>{"U1", "U2", "U3", "U4"}));
  // News in catalogue order, then N9 (absent from news.tsv).
  EXPECT_EQ(data->items.names(), (std::vector<std::string>{"N1", "N2", "N3", "N4", "N9"}));
  // N9 in row 2's impressions and in U3's history.
  EXPECT_EQ(data->report.unknown_item_refs, 2);
  // Row 4 (a test-style row) has two entries without a label.
  EXPECT_EQ(data->report.unlabelled_impressions, 2);

  const ItemInfo& n1 = data->item_info[0];
  EXPECT_EQ(n1.title, "The Brands Queen Elizabeth Loves");
  EXPECT_EQ(n1.text, "Shop the notebooks, jackets and more.");
  EXPECT_EQ(n1.categories, (std::vector<std::string>{"sports", "football_nfl"}));
  EXPECT_TRUE(n1.has_metadata);
  EXPECT_TRUE(data->item_info[1].text.empty());  // empty abstract
  EXPECT_EQ(data->item_info[2].title, "Short Row Without Trailing Columns");
  EXPECT_EQ(data->item_info[2].categories,
            (std::vector<std::string>{"lifestyle", "lifestylebuzz"}));
  EXPECT_EQ(data->item_info[3].categories, (std::vector<std::string>{"finance"}));
  EXPECT_FALSE(data->item_info[4].has_metadata);

  // Rows by time: U1 8:00 AM (earliest, history N1 N2), U1 9:05:58 AM, U2 1:30 PM
  // (empty history; wins the tie with the later row 5), row 5, U3 12:15 AM next
  // day (unlabelled, history N9 N3), U4 12:00 PM next day.
  std::vector<Event> events;
  for (const Interaction& x : data->interactions) {
    events.push_back({data->users.Name(x.user), data->items.Name(x.item), x.timestamp_s});
    EXPECT_FLOAT_EQ(x.weight, 1.0f);
  }
  const int64_t u1_first = kNov11 + 8 * 3600;
  const int64_t u1_second = kNov11 + 9 * 3600 + 5 * 60 + 58;
  const int64_t u2_time = kNov11 + 13 * 3600 + 30 * 60;
  const int64_t u3_time = kNov12 + 15 * 60;  // 12:15 AM
  const int64_t u4_time = kNov12 + 12 * 3600;  // 12:00 PM
  EXPECT_EQ(events, (std::vector<Event>{
                        {"U1", "N1", u1_first - 2},
                        {"U1", "N2", u1_first - 1},
                        {"U1", "N4", u1_first},
                        {"U1", "N3", u1_second},
                        {"U2", "N2", u2_time},
                        {"U2", "N9", u2_time},
                        {"U3", "N9", u3_time - 2},
                        {"U3", "N3", u3_time - 1},
                        {"U4", "N1", u4_time - 1},
                        {"U4", "N2", u4_time},
                    }));

  ASSERT_EQ(data->impressions.size(), 5u);
  const Impression& first = data->impressions[0];
  EXPECT_EQ(data->users.Name(first.user), "U1");
  EXPECT_EQ(first.timestamp_s, u1_first);
  EXPECT_EQ(first.items, (std::vector<ItemIndex>{3}));
  EXPECT_EQ(first.clicked, (std::vector<uint8_t>{1}));
  const Impression& second = data->impressions[1];
  EXPECT_EQ(second.timestamp_s, u1_second);  // 9:05:58 AM, non-padded hour
  EXPECT_EQ(second.items, (std::vector<ItemIndex>{2, 3}));
  EXPECT_EQ(second.clicked, (std::vector<uint8_t>{1, 0}));
  const Impression& third = data->impressions[2];
  EXPECT_EQ(data->users.Name(third.user), "U2");
  EXPECT_EQ(third.timestamp_s, u2_time);  // 1:30 PM
  EXPECT_EQ(third.items, (std::vector<ItemIndex>{0, 1, 4}));
  EXPECT_EQ(third.clicked, (std::vector<uint8_t>{0, 1, 1}));
  // A labelled row without a click is still an impression.
  const Impression& fourth = data->impressions[3];
  EXPECT_EQ(fourth.items, (std::vector<ItemIndex>{2, 3}));
  EXPECT_EQ(fourth.clicked, (std::vector<uint8_t>{0, 0}));
  const Impression& fifth = data->impressions[4];
  EXPECT_EQ(data->users.Name(fifth.user), "U4");
  EXPECT_EQ(fifth.timestamp_s, u4_time);
}

// Broken news and behaviors lines fail with file and line, or are skipped and counted.
TEST(MindLoader, BrokenFixtureNamesFileAndLine) {
  auto data = LoadDataset(kFixtures + "/mind_broken", LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("news.tsv:3:"), std::string::npos) << data.status();
  LoadOptions skip;
  skip.on_bad_line = BadLinePolicy::kSkip;
  auto skipped = LoadDataset(kFixtures + "/mind_broken", skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->report.bad_lines, 3);
  ASSERT_EQ(skipped->report.bad_line_messages.size(), 3u);
  EXPECT_NE(skipped->report.bad_line_messages[0].find("news.tsv:3:"), std::string::npos);
  // "13:30:00 PM" is not a 12-hour time.
  EXPECT_NE(skipped->report.bad_line_messages[1].find("behaviors.tsv:2: bad time"),
            std::string::npos);
  EXPECT_NE(skipped->report.bad_line_messages[2].find("behaviors.tsv:4: bad impression"),
            std::string::npos);
  EXPECT_EQ(skipped->users.names(), (std::vector<std::string>{"U1", "U2", "U4"}));
  EXPECT_EQ(skipped->impressions.size(), 4u);
  EXPECT_EQ(skipped->report.unlabelled_impressions, 0);
  // N3 lost its news line: rows 1 and 5 name it.
  EXPECT_EQ(skipped->report.unknown_item_refs, 2);
}

}  // namespace
}  // namespace recsys

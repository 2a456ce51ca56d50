// Field primitives of the data loaders: timestamps.
#include "common/data/text_reader.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace recsys {
namespace {

// Unix seconds and RFC 3339 times parse; surrounding spaces are allowed.
TEST(ParseTimestamp, UnixSecondsAndRfc3339) {
  int64_t t = 0;
  ASSERT_TRUE(ParseTimestamp(" 964982703 ", &t));
  EXPECT_EQ(t, 964982703);
  ASSERT_TRUE(ParseTimestamp("2019-11-11T09:05:58Z", &t));
  EXPECT_EQ(t, 1573463158);
  ASSERT_TRUE(ParseTimestamp("2019-11-11T09:05:58+01:00", &t));
  EXPECT_EQ(t, 1573463158 - 3600);
  EXPECT_FALSE(ParseTimestamp("2019-11-11", &t));
  EXPECT_FALSE(ParseTimestamp("", &t));
}

// absl::ParseTime's infinite sentinels and years beyond four digits are not
// RFC 3339: they used to load as INT64_MAX / INT64_MIN seconds.
TEST(ParseTimestamp, RefusesWhatIsNotRfc3339) {
  int64_t t = 0;
  EXPECT_FALSE(ParseTimestamp("infinite-past", &t));
  EXPECT_FALSE(ParseTimestamp("infinite-future", &t));
  EXPECT_FALSE(ParseTimestamp(" infinite-future ", &t));
  EXPECT_FALSE(ParseTimestamp("99999-01-01T00:00:00Z", &t));
  EXPECT_FALSE(ParseTimestamp("999-01-01T00:00:00Z", &t));
  ASSERT_TRUE(ParseTimestamp("9999-12-31T23:59:59Z", &t));
  EXPECT_EQ(t, 253402300799);
}

}  // namespace
}  // namespace recsys

#include "common/eval/case_results.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/io/crc32c.h"
#include "common/io/file.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

CaseResults Sample() {
  CaseResults r;
  CaseSection test;
  test.split = "test";
  test.keys = {CaseKey("u1", "m1", 100), CaseKey("u2", "m7", 200), CaseKey("u3", "m2", 300)};
  test.columns.push_back(CaseColumn{"two_stage", 10, {1, 0, 1}, {1.0f, 0.0f, 0.5f}});
  test.columns.push_back(CaseColumn{"pool", 400, {1, 1, 1}, {0.3f, 0.2f, 0.1f}});
  CaseSection validation;
  validation.split = "validation";
  validation.keys = {CaseKey("u1", "m0", 50)};
  validation.columns.push_back(CaseColumn{"two_stage", 10, {0}, {0}});
  r.sections = {test, validation};
  return r;
}

// Recomputes the CRC so that deliberately altered contents pass the checksum
// and reach the structural checks (a crafted file, not a corrupted one).
void FixCrc(std::string* bytes) {
  const absl::string_view all(*bytes);
  const absl::string_view payload = all.substr(kCaseResultsHeaderBytes);
  const uint32_t crc = Crc32cExtend(Crc32c(all.substr(0, 24)), payload.data(), payload.size());
  std::memcpy(bytes->data() + 24, &crc, sizeof(crc));
}

template <typename T>
void Put(std::string* bytes, size_t at, T v) {
  std::memcpy(bytes->data() + at, &v, sizeof(v));
}

// Offset of the first section's case count: after the header, the split name
// (u32 length + bytes) and the row count.
size_t CaseCountOffset(const std::string& split) {
  return kCaseResultsHeaderBytes + 4 + split.size() + 4;
}

// Written results read back identically, from bytes and from a file.
TEST(CaseResults, RoundTrip) {
  const CaseResults r = Sample();
  auto bytes = SerializeCaseResults(r);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // Header 32; test: name 4+4, counts 4+8, keys 3×8, rows (4+9+4 + 3×8) and
  // (4+4+4 + 3×8); validation: 4+10, 4+8, 8, (4+9+4 + 8).
  EXPECT_EQ(bytes->size(), 32u + 121u + 59u);
  auto parsed = ParseCaseResults(*bytes, "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->sections.size(), 2u);
  EXPECT_EQ(parsed->sections[0].keys, r.sections[0].keys);
  EXPECT_EQ(parsed->sections[0].columns[1].model, "pool");
  EXPECT_EQ(parsed->sections[0].columns[1].k, 400);
  EXPECT_EQ(parsed->sections[0].columns[0].ndcg, r.sections[0].columns[0].ndcg);

  auto row = parsed->Find("test", "two_stage", 10);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->size(), 3u);
  EXPECT_FLOAT_EQ(row->ndcg[2], 0.5f);
  EXPECT_FALSE(parsed->Find("test", "two_stage", 5).has_value());
  EXPECT_FALSE(parsed->Find("validation", "pool", 400).has_value());

  const std::string dir = ::testing::TempDir() + "/case_results_roundtrip";
  fs::create_directories(dir);
  const std::string path = dir + "/" + kCaseResultsFileName;
  ASSERT_TRUE(WriteCaseResults(path, r).ok());
  auto read = ReadCaseResults(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->sections[1].columns[0].model, "two_stage");
  EXPECT_TRUE(absl::IsNotFound(ReadCaseResults(dir + "/none").status()));
  fs::remove_all(dir);
}

// Case keys are a fixed function of the ids and time: the same on every run
// and build, different when any part differs.
TEST(CaseResults, CaseKeysAreStableAndDistinguishParts) {
  EXPECT_EQ(CaseKey("u1", "m1", 100), CaseKey("u1", "m1", 100));
  EXPECT_EQ(CaseKey("u1", "m1", 100), 0x1e7393a0e3171024ull);  // pinned: a change breaks pairing
  EXPECT_NE(CaseKey("u1", "m1", 100), CaseKey("u1", "m1", 101));
  EXPECT_NE(CaseKey("u1", "m1", 100), CaseKey("u1", "m2", 100));
  EXPECT_NE(CaseKey("u1", "m1", 100), CaseKey("u2", "m1", 100));
  // The separator keeps "u1"+"1m" apart from "u11"+"m".
  EXPECT_NE(CaseKey("u1", "1m", 5), CaseKey("u11", "m", 5));
}

// A file cut anywhere is refused with a message naming the file.
TEST(CaseResults, TruncatedFilesAreRefused) {
  const std::string bytes = *SerializeCaseResults(Sample());
  for (size_t n : {size_t{0}, size_t{7}, kCaseResultsHeaderBytes - 1, kCaseResultsHeaderBytes,
                   bytes.size() - 1}) {
    auto r = ParseCaseResults(absl::string_view(bytes).substr(0, n), "x/leaderboard.cases");
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_TRUE(absl::StartsWith(r.status().message(), "x/leaderboard.cases: ")) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "truncated")) << r.status();
  }
  // Padded: the header's payload size no longer matches.
  auto padded = ParseCaseResults(bytes + "x", "f");
  EXPECT_TRUE(absl::StrContains(padded.status().message(), "trailing bytes")) << padded.status();
}

// Other files, versions and a corrupted payload are refused, each with its reason.
TEST(CaseResults, BadHeadersAreRefused) {
  const std::string good = *SerializeCaseResults(Sample());
  std::string magic = good;
  magic[3] = 'X';
  auto r = ParseCaseResults(magic, "f");
  EXPECT_TRUE(absl::IsDataLoss(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "bad magic")) << r.status();

  std::string newer = good;
  Put<uint32_t>(&newer, 8, kCaseResultsFormatVersion + 1);
  r = ParseCaseResults(newer, "f");
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "format version 2")) << r.status();

  std::string zero_sections = good;
  Put<uint32_t>(&zero_sections, 12, 0);
  FixCrc(&zero_sections);
  EXPECT_TRUE(absl::StrContains(ParseCaseResults(zero_sections, "f").status().message(),
                                "0 sections"));

  std::string flipped = good;
  flipped[flipped.size() - 3] ^= 0x40;
  r = ParseCaseResults(flipped, "f");
  EXPECT_TRUE(absl::IsDataLoss(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "CRC-32C mismatch")) << r.status();
  // The header's counts are covered by the checksum too.
  std::string sections = good;
  Put<uint32_t>(&sections, 12, 1);
  EXPECT_TRUE(absl::StrContains(ParseCaseResults(sections, "f").status().message(),
                                "CRC-32C mismatch"));
}

// A case count larger than the file (checksum valid) is refused before
// anything is sized from it, including counts that would overflow.
TEST(CaseResults, CountLargerThanTheFileIsRefused) {
  const std::string good = *SerializeCaseResults(Sample());
  for (uint64_t count : {uint64_t{1000}, uint64_t{1} << 40, ~uint64_t{0}}) {
    std::string bad = good;
    Put<uint64_t>(&bad, CaseCountOffset("test"), count);
    FixCrc(&bad);
    auto r = ParseCaseResults(bad, "f");
    ASSERT_FALSE(r.ok()) << count;
    EXPECT_TRUE(absl::IsDataLoss(r.status()));
    EXPECT_TRUE(absl::StrContains(r.status().message(), "larger than the")) << r.status();
  }
  // A section count beyond what the payload holds runs out of bytes.
  std::string more_sections = good;
  Put<uint32_t>(&more_sections, 12, 3);
  FixCrc(&more_sections);
  auto r = ParseCaseResults(more_sections, "f");
  EXPECT_TRUE(absl::StrContains(r.status().message(), "left in the file")) << r.status();
  // A name length beyond the limit.
  std::string long_name = good;
  Put<uint32_t>(&long_name, kCaseResultsHeaderBytes, 100000);
  FixCrc(&long_name);
  r = ParseCaseResults(long_name, "f");
  EXPECT_TRUE(absl::StrContains(r.status().message(), "split name length 100000"))
      << r.status();
}

// NaN, infinite and out-of-range values are refused by the reader (checksum
// valid) and by the writer.
TEST(CaseResults, NonFiniteValuesAreRefused) {
  const std::string good = *SerializeCaseResults(Sample());
  // The first row's first recall value follows the keys and the row's name and k.
  const size_t first_value = CaseCountOffset("test") + 8 + 3 * 8 + 4 + 9 + 4;
  for (float v : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                  -0.5f, 1.5f}) {
    std::string bad = good;
    Put<float>(&bad, first_value, v);
    FixCrc(&bad);
    auto r = ParseCaseResults(bad, "f");
    ASSERT_FALSE(r.ok()) << v;
    EXPECT_TRUE(absl::IsDataLoss(r.status()));
    EXPECT_TRUE(absl::StrContains(r.status().message(), "want finite, in [0, 1]")) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "model two_stage")) << r.status();

    CaseResults written = Sample();
    written.sections[0].columns[0].ndcg[1] = v;
    auto s = SerializeCaseResults(written);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << v;
  }
}

// Duplicate keys or rows and mismatched column sizes are refused on both sides.
TEST(CaseResults, InconsistentContentsAreRefused) {
  CaseResults dup = Sample();
  dup.sections[0].keys[1] = dup.sections[0].keys[0];
  EXPECT_TRUE(absl::StrContains(SerializeCaseResults(dup).status().message(), "duplicate"));

  CaseResults short_column = Sample();
  short_column.sections[0].columns[0].recall.pop_back();
  EXPECT_TRUE(absl::IsInvalidArgument(SerializeCaseResults(short_column).status()));

  CaseResults twice = Sample();
  twice.sections[0].columns.push_back(twice.sections[0].columns[0]);
  EXPECT_TRUE(absl::StrContains(SerializeCaseResults(twice).status().message(), "twice"));

  EXPECT_TRUE(absl::IsInvalidArgument(SerializeCaseResults(CaseResults{}).status()));

  // The reader finds the same duplicate key in crafted bytes.
  std::string bytes = *SerializeCaseResults(Sample());
  const size_t first_key = CaseCountOffset("test") + 8;
  std::memcpy(bytes.data() + first_key + 8, bytes.data() + first_key, 8);
  FixCrc(&bytes);
  auto r = ParseCaseResults(bytes, "f");
  EXPECT_TRUE(absl::StrContains(r.status().message(), "duplicate case keys")) << r.status();
}

}  // namespace
}  // namespace recsys

#include "common/models/csr.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/bundle/array_file.h"
#include "common/io/file.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/csr_test_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// 3 x 4: row 0 = {1: 0.5, 3: 2}, row 1 empty, row 2 = {0: -1}.
Csr<float> Small() {
  Csr<float> m;
  m.offsets = {0, 2, 2, 3};
  m.ids = {1, 3, 0};
  m.values = {0.5f, 2.0f, -1.0f};
  return m;
}

const CsrShape kSmallShape = CsrShape::Exact(3, 4);

// The status of Validate, expected to be DataLoss mentioning `needle`.
void ExpectRefused(const Csr<float>& m, const CsrShape& shape, const std::string& needle) {
  const absl::Status s = m.Validate(shape);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(needle), std::string::npos) << s;
}

// A well-formed CSR validates, and its rows are the expected slices.
TEST(Csr, ValidAndRows) {
  const Csr<float> m = Small();
  EXPECT_TRUE(m.Validate(kSmallShape).ok()) << m.Validate(kSmallShape);
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.nnz(), 3);
  EXPECT_EQ(std::vector<int32_t>(m.row_ids(0).begin(), m.row_ids(0).end()),
            (std::vector<int32_t>{1, 3}));
  EXPECT_TRUE(m.row_ids(1).empty());
  EXPECT_EQ(m.row_values(2)[0], -1.0f);
}

// Offsets that decrease, go negative or point past the entries are refused
// with a message naming the offset, never indexed.
TEST(Csr, BadOffsetsAreRefused) {
  Csr<float> m = Small();
  m.offsets = {0, 2, 1, 3};
  ExpectRefused(m, kSmallShape, "offsets[2] = 1 < offsets[1] = 2");
  m.offsets = {0, -1, 2, 3};
  ExpectRefused(m, kSmallShape, "offsets[1] = -1 outside [0, 3]");
  m.offsets = {0, 2, 99, 3};
  ExpectRefused(m, kSmallShape, "offsets[2] = 99 outside [0, 3]");
  m.offsets = {1, 2, 2, 3};
  ExpectRefused(m, kSmallShape, "offsets[0] = 1, expected 0");
  m.offsets = {0, 2, 2, 2};
  ExpectRefused(m, kSmallShape, "last offset 2 != the 3 entries");
  m.offsets = {0, 2, 3};
  ExpectRefused(m, kSmallShape, "3 offsets, expected 4");
  m.offsets = {};
  ExpectRefused(m, kSmallShape, "no offsets");
}

// Ids outside [0, num_cols), unsorted rows (when required), a values array
// of the wrong size and too many rows are refused.
TEST(Csr, BadIdsValuesAndShapeAreRefused) {
  Csr<float> m = Small();
  m.ids = {1, 4, 0};
  ExpectRefused(m, kSmallShape, "row 0 has id 4 outside [0, 4)");
  m.ids = {1, 3, -2};
  ExpectRefused(m, kSmallShape, "row 2 has id -2");
  m.ids = {3, 1, 0};
  EXPECT_TRUE(m.Validate(kSmallShape).ok());
  CsrShape sorted = kSmallShape;
  sorted.sorted_rows = true;
  ExpectRefused(m, sorted, "row 0 ids not strictly ascending (3 then 1)");
  m = Small();
  m.values.pop_back();
  ExpectRefused(m, kSmallShape, "2 values, expected one per entry");
  m = Small();
  CsrShape small;
  small.max_rows = 2;
  small.num_cols = 4;
  ExpectRefused(m, small, "3 rows exceed the limit of 2");
  // Square by default: ids must be < rows (3), and id 3 is not.
  ExpectRefused(m, {}, "row 0 has id 3 outside [0, 3)");
  // A pattern (no values array named) must have no values.
  EXPECT_FALSE(m.Validate(kSmallShape, {"o", "i", ""}).ok());
  m.values.clear();
  EXPECT_TRUE(m.Validate(kSmallShape, {"o", "i", ""}).ok());
}

// Save writes the same bytes the array writers do; Load reads them back.
TEST(Csr, SaveLoadRoundTripIsByteIdentical) {
  const std::string dir = FreshDir("roundtrip");
  const Csr<float> m = Small();
  const auto files = m.Save(dir, CsrFiles::WithPrefix("nb"));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files,
            (std::vector<std::string>{"nb.offsets.arr", "nb.ids.arr", "nb.values.arr"}));
  ASSERT_TRUE(WriteInt64Array(dir + "/ref.offsets.arr", {4}, m.offsets.data()).ok());
  ASSERT_TRUE(WriteInt32Array(dir + "/ref.ids.arr", {3}, m.ids.data()).ok());
  ASSERT_TRUE(WriteFloatArray(dir + "/ref.values.arr", {3}, m.values.data()).ok());
  for (const char* part : {"offsets", "ids", "values"}) {
    EXPECT_EQ(*ReadFile(dir + "/nb." + part + ".arr"), *ReadFile(dir + "/ref." + part + ".arr"))
        << part;
  }
  const auto loaded = Csr<float>::Load(dir, CsrFiles::WithPrefix("nb"), kSmallShape);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->offsets, m.offsets);
  EXPECT_EQ(loaded->ids, m.ids);
  EXPECT_EQ(loaded->values, m.values);
}

// A pattern (no values file) and int64 values round-trip too.
TEST(Csr, PatternAndInt64Values) {
  const std::string dir = FreshDir("pattern");
  Csr<int64_t> m;
  m.offsets = {0, 1, 3};
  m.ids = {2, 0, 1};
  m.values = {10, 20, 30};
  const CsrFiles files = {"h.offsets.arr", "h.items.arr", "h.times.arr"};
  ASSERT_TRUE(m.Save(dir, files).ok());
  const auto loaded = Csr<int64_t>::Load(dir, files, CsrShape::Exact(2, 3));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->values, m.values);

  const CsrFiles pattern = {"p.offsets.arr", "p.ids.arr", ""};
  const auto written = SaveCsrArrays<float>(dir, pattern, m.offsets, m.ids, {});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, (std::vector<std::string>{"p.offsets.arr", "p.ids.arr"}));
  const auto p = Csr<float>::Load(dir, pattern, CsrShape::Exact(2, 3));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ids, m.ids);
  EXPECT_TRUE(p->values.empty());
}

// Crafted files on disk: bad offsets, a 2-d array and a missing file are
// refused with a status that names the file.
TEST(Csr, LoadRefusesCorruptFiles) {
  const std::string dir = FreshDir("corrupt");
  const CsrFiles files = CsrFiles::WithPrefix("nb");
  ASSERT_TRUE(Small().Save(dir, files).ok());
  const int64_t decreasing[] = {0, 3, 1, 3};
  ASSERT_TRUE(WriteInt64Array(dir + "/nb.offsets.arr", {4}, decreasing).ok());
  auto bad = Csr<float>::Load(dir, files, kSmallShape);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find(dir + "/nb.offsets.arr: offsets[2] = 1 < offsets[1]"),
            std::string::npos)
      << bad.status();

  const int64_t negative[] = {0, -5, 2, 3};
  ASSERT_TRUE(WriteInt64Array(dir + "/nb.offsets.arr", {4}, negative).ok());
  bad = Csr<float>::Load(dir, files, kSmallShape);
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();

  const int64_t past_end[] = {0, 2, 1000000, 3};
  ASSERT_TRUE(WriteInt64Array(dir + "/nb.offsets.arr", {4}, past_end).ok());
  bad = Csr<float>::Load(dir, files, kSmallShape);
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();

  const int64_t square[] = {0, 2, 2, 3};
  ASSERT_TRUE(WriteInt64Array(dir + "/nb.offsets.arr", {2, 2}, square).ok());
  bad = Csr<float>::Load(dir, files, kSmallShape);
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find("expected a 1-d array"), std::string::npos)
      << bad.status();

  ASSERT_TRUE(Small().Save(dir, files).ok());
  const int32_t far_ids[] = {1, 3, 7};
  ASSERT_TRUE(WriteInt32Array(dir + "/nb.ids.arr", {3}, far_ids).ok());
  bad = Csr<float>::Load(dir, files, kSmallShape);
  EXPECT_NE(bad.status().message().find(dir + "/nb.ids.arr: row 2 has id 7"), std::string::npos)
      << bad.status();

  fs::remove(dir + "/nb.values.arr");
  bad = Csr<float>::Load(dir, files, kSmallShape);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nb.values.arr"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace recsys

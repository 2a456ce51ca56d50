#include "common/bundle/array_file.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace recsys {
namespace {

std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "array_file_test-XXXXXX";
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

void Overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Float arrays round-trip bit-exactly, including non-finite values and 3-d shapes.
TEST(ArrayFile, FloatRoundTrip) {
  const std::string path = MakeTempDir() + "/f.arr";
  const std::vector<float> values = {0.0f, -1.5f, 3.25f, std::numeric_limits<float>::infinity(),
                                     1e-30f, -0.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f};
  ASSERT_TRUE(WriteFloatArray(path, {2, 3, 2}, values.data()).ok());
  auto a = ReadFloatArray(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{2, 3, 2}));
  EXPECT_EQ(a->values, values);
}

// Int32 arrays round-trip with extreme values.
TEST(ArrayFile, Int32RoundTrip) {
  const std::string path = MakeTempDir() + "/i.arr";
  const std::vector<int32_t> values = {std::numeric_limits<int32_t>::min(), -1, 0, 1,
                                       std::numeric_limits<int32_t>::max(), 42};
  ASSERT_TRUE(WriteInt32Array(path, {3, 2}, values.data()).ok());
  auto a = ReadInt32Array(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(a->values, values);
}

// Int64 arrays round-trip with extreme values.
TEST(ArrayFile, Int64RoundTrip) {
  const std::string path = MakeTempDir() + "/l.arr";
  const std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(), -1, 0,
                                       std::numeric_limits<int64_t>::max()};
  ASSERT_TRUE(WriteInt64Array(path, {4}, values.data()).ok());
  auto a = ReadInt64Array(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{4}));
  EXPECT_EQ(a->values, values);
}

// String arrays round-trip, including empty strings, embedded NULs and UTF-8.
TEST(ArrayFile, StringRoundTrip) {
  const std::string path = MakeTempDir() + "/s.arr";
  const std::vector<std::string> values = {"Toy Story (1995)", "", std::string("a\0b", 3),
                                           "Amélie (2001)"};
  ASSERT_TRUE(WriteStringArray(path, values).ok());
  auto a = ReadStringArray(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, values);
}

// Zero-length arrays round-trip for both numeric and string dtypes.
TEST(ArrayFile, EmptyArraysRoundTrip) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteFloatArray(dir + "/f.arr", {0, 8}, nullptr).ok());
  auto f = ReadFloatArray(dir + "/f.arr");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->dims, (std::vector<uint64_t>{0, 8}));
  EXPECT_TRUE(f->values.empty());
  ASSERT_TRUE(WriteStringArray(dir + "/s.arr", {}).ok());
  auto s = ReadStringArray(dir + "/s.arr");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->empty());
}

// A file cut short in the payload is refused with an error naming the file.
TEST(ArrayFile, TruncatedPayloadIsRefused) {
  const std::string path = MakeTempDir() + "/t.arr";
  const std::vector<float> values(100, 1.0f);
  ASSERT_TRUE(WriteFloatArray(path, {100}, values.data()).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 1);
  auto a = ReadFloatArray(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(path), std::string::npos) << a.status();
  EXPECT_NE(a.status().message().find("truncated"), std::string::npos) << a.status();
}

// A file cut short in the header is refused.
TEST(ArrayFile, TruncatedHeaderIsRefused) {
  const std::string path = MakeTempDir() + "/h.arr";
  Overwrite(path, std::string("RSYSARR\0\1\0", 10));
  auto a = ReadInt32Array(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("truncated"), std::string::npos) << a.status();
}

// A truncated string record is refused.
TEST(ArrayFile, TruncatedStringsAreRefused) {
  const std::string path = MakeTempDir() + "/s.arr";
  ASSERT_TRUE(WriteStringArray(path, {"hello", "world"}).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 2);
  auto a = ReadStringArray(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(path), std::string::npos) << a.status();
}

// Extra bytes after the payload are refused (a file of the wrong shape).
TEST(ArrayFile, TrailingBytesAreRefused) {
  const std::string path = MakeTempDir() + "/x.arr";
  const std::vector<int64_t> values = {1, 2};
  ASSERT_TRUE(WriteInt64Array(path, {2}, values.data()).ok());
  std::ofstream(path, std::ios::binary | std::ios::app) << "junk";
  auto a = ReadInt64Array(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("trailing"), std::string::npos) << a.status();
}

// A file that is not an array file (bad magic) is refused with an error naming it.
TEST(ArrayFile, BadMagicIsRefused) {
  const std::string path = MakeTempDir() + "/m.arr";
  const std::vector<float> values = {1.0f};
  ASSERT_TRUE(WriteFloatArray(path, {1}, values.data()).ok());
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(0);
    f.put('X');
  }
  auto a = ReadFloatArray(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(path), std::string::npos) << a.status();
  EXPECT_NE(a.status().message().find("magic"), std::string::npos) << a.status();
}

// Reading an array as the wrong dtype is refused, in every direction tried.
TEST(ArrayFile, WrongDtypeIsRefused) {
  const std::string dir = MakeTempDir();
  const std::vector<float> f = {1.0f, 2.0f};
  const std::vector<int32_t> i = {1, 2};
  ASSERT_TRUE(WriteFloatArray(dir + "/f.arr", {2}, f.data()).ok());
  ASSERT_TRUE(WriteInt32Array(dir + "/i.arr", {2}, i.data()).ok());
  ASSERT_TRUE(WriteStringArray(dir + "/s.arr", {"a"}).ok());
  auto as_int = ReadInt32Array(dir + "/f.arr");
  ASSERT_FALSE(as_int.ok());
  EXPECT_NE(as_int.status().message().find("dtype"), std::string::npos) << as_int.status();
  EXPECT_NE(as_int.status().message().find(dir + "/f.arr"), std::string::npos);
  EXPECT_FALSE(ReadFloatArray(dir + "/i.arr").ok());
  EXPECT_FALSE(ReadInt64Array(dir + "/i.arr").ok());
  EXPECT_FALSE(ReadFloatArray(dir + "/s.arr").ok());
  EXPECT_FALSE(ReadStringArray(dir + "/i.arr").ok());
}

// A missing file is NotFound, naming the path.
TEST(ArrayFile, MissingFileIsNotFound) {
  const std::string path = MakeTempDir() + "/nope.arr";
  auto a = ReadFloatArray(path);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::IsNotFound(a.status()));
  EXPECT_NE(a.status().message().find(path), std::string::npos);
}

// More than four dimensions cannot be written.
TEST(ArrayFile, TooManyDimensionsAreRefused) {
  const std::string path = MakeTempDir() + "/d.arr";
  const std::vector<float> values(1, 0.0f);
  EXPECT_FALSE(WriteFloatArray(path, {1, 1, 1, 1, 1}, values.data()).ok());
  EXPECT_FALSE(WriteFloatArray(path, {}, values.data()).ok());
}

// The on-disk bytes are fixed: header and payload equal reference encodings.
TEST(ArrayFile, BytesOnDiskAreFixed) {
  const std::string dir = MakeTempDir();
  const std::vector<float> f = {1.0f, -2.5f};
  ASSERT_TRUE(WriteFloatArray(dir + "/f.arr", {2}, f.data()).ok());
  ASSERT_TRUE(WriteStringArray(dir + "/s.arr", {"ab", ""}).ok());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  // Version 2: the 28-byte header is zero-padded to 32 bytes.
  EXPECT_EQ(slurp(dir + "/f.arr"),
            absl::HexStringToBytes("525359534152520002000000010000000100000002000000000000000000"
                                   "0000"
                                   "0000803f000020c0"));
  EXPECT_EQ(slurp(dir + "/s.arr"),
            absl::HexStringToBytes("525359534152520002000000040000000100000002000000000000000000"
                                   "0000"
                                   "020000006162"
                                   "00000000"));
}

}  // namespace
}  // namespace recsys

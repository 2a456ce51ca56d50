// Mapped array files: Map*Array against Read*Array, format versions 1 and 2,
// and crafted headers that must be refused before anything is sized from them.
#include <stdlib.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/bundle/array_file.h"
#include "common/bundle/mapping.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "array_file_mapped_test-XXXXXX";
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

void Overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// A header as written by hand: version, dtype, dims, then `pad` zero bytes.
std::string CraftHeader(uint32_t version, uint32_t dtype, const std::vector<uint64_t>& dims,
                        size_t pad = 0) {
  std::string h("RSYSARR\0", 8);
  Put<uint32_t>(&h, version);
  Put<uint32_t>(&h, dtype);
  Put<uint32_t>(&h, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) Put<uint64_t>(&h, d);
  h.append(pad, '\0');
  return h;
}

template <typename T>
std::string Payload(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// Mapped values equal read values for every numeric dtype; the views are
// aligned and really mapped.
TEST(MappedArrayFile, MapEqualsReadForEveryDtype) {
  const std::string dir = MakeTempDir();
  const std::vector<float> f = {0.5f, -1.0f, std::numeric_limits<float>::infinity(), 3.0f,
                                5.0f, 6.0f};
  const std::vector<int32_t> i = {std::numeric_limits<int32_t>::min(), 0, 7};
  const std::vector<int64_t> l = {std::numeric_limits<int64_t>::max(), -1, 0, 42, 43};
  ASSERT_TRUE(WriteFloatArray(dir + "/f.arr", {2, 3}, f.data()).ok());
  ASSERT_TRUE(WriteInt32Array(dir + "/i.arr", {3}, i.data()).ok());
  ASSERT_TRUE(WriteInt64Array(dir + "/l.arr", {5}, l.data()).ok());

  auto mf = MapFloatArray(dir + "/f.arr");
  auto mi = MapInt32Array(dir + "/i.arr");
  auto ml = MapInt64Array(dir + "/l.arr");
  ASSERT_TRUE(mf.ok()) << mf.status();
  ASSERT_TRUE(mi.ok()) << mi.status();
  ASSERT_TRUE(ml.ok()) << ml.status();
  EXPECT_EQ(mf->dims, ReadFloatArray(dir + "/f.arr")->dims);
  EXPECT_EQ(mf->values, ReadFloatArray(dir + "/f.arr")->values);
  EXPECT_EQ(mi->values, ReadInt32Array(dir + "/i.arr")->values);
  EXPECT_EQ(ml->values, ReadInt64Array(dir + "/l.arr")->values);
  EXPECT_EQ(ml->values, l);
  EXPECT_TRUE(mf->values.mapped());
  EXPECT_TRUE(mi->values.mapped());
  EXPECT_TRUE(ml->values.mapped());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ml->values.data()) % alignof(int64_t), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mf->values.data()) % kArrayHeaderAlignment, 0u);
}

// Version-1 files (no header padding) still read and map; a misaligned int64
// payload is copied instead of viewed.
TEST(MappedArrayFile, VersionOneFilesAreAccepted) {
  const std::string dir = MakeTempDir();
  const std::vector<int64_t> l = {1, -2, 3};
  const std::vector<float> f = {1.0f, 2.0f};
  Overwrite(dir + "/l.arr", CraftHeader(1, 3, {3}) + Payload(l));  // payload at byte 28
  Overwrite(dir + "/f.arr", CraftHeader(1, 1, {2}) + Payload(f));
  auto read = ReadInt64Array(dir + "/l.arr");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->values, l);
  auto ml = MapInt64Array(dir + "/l.arr");
  ASSERT_TRUE(ml.ok()) << ml.status();
  EXPECT_EQ(ml->values, l);
  EXPECT_FALSE(ml->values.mapped());
  auto mf = MapFloatArray(dir + "/f.arr");
  ASSERT_TRUE(mf.ok()) << mf.status();
  EXPECT_EQ(mf->values, f);
  EXPECT_TRUE(mf->values.mapped());
  Overwrite(dir + "/s.arr", CraftHeader(1, 4, {1}) + std::string("\2\0\0\0ab", 6));
  auto s = ReadStringArray(dir + "/s.arr");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, std::vector<std::string>{"ab"});
}

// Every crafted header is refused with a message naming the problem, by the
// readers and the mappers alike.
TEST(MappedArrayFile, CraftedHeadersAreRefused) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/x.arr";
  const std::string four_floats = Payload(std::vector<float>{1, 2, 3, 4});
  struct Case {
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {CraftHeader(2, 1, {uint64_t{1} << 36}, 4) + four_floats, "truncated payload"},
      {CraftHeader(2, 1, {uint64_t{1} << 30, uint64_t{1} << 30}, 12) + four_floats,
       "implausible dimensions"},
      {CraftHeader(2, 1, {uint64_t{1} << 63, 4}, 12) + four_floats, "implausible dimensions"},
      {CraftHeader(2, 1, {0xffffffffffffffffull, 0xffffffffffffffffull}, 12),
       "implausible dimensions"},
      {CraftHeader(2, 1, {5}, 4) + four_floats, "truncated payload"},
      {CraftHeader(2, 1, {3}, 4) + four_floats, "trailing bytes"},
      {CraftHeader(2, 1, {4}, 0) + four_floats, "bad header padding"},  // padding missing
      {CraftHeader(2, 1, {4}, 4).replace(29, 1, "\1") + four_floats, "bad header padding"},
      {CraftHeader(3, 1, {4}, 4) + four_floats, "format version 3"},
      {CraftHeader(0, 1, {4}, 4) + four_floats, "format version 0"},
      {CraftHeader(2, 9, {4}, 4) + four_floats, "dtype 9"},
      {CraftHeader(2, 1, {}, 12) + four_floats, "bad dimension count 0"},
      {CraftHeader(2, 1, {1, 1, 1, 1, 4}, 4) + four_floats, "bad dimension count 5"},
      {"XSYSARR" + CraftHeader(2, 1, {4}, 4).substr(7) + four_floats, "bad magic"},
      {CraftHeader(2, 1, {4}).substr(0, 10), "truncated array header"},
      {CraftHeader(2, 1, {4, 4}).substr(0, 30), "truncated array header"},
      {"", "truncated array header"},
  };
  for (const Case& c : cases) {
    Overwrite(path, c.bytes);
    auto read = ReadFloatArray(path);
    ASSERT_FALSE(read.ok()) << c.message;
    EXPECT_NE(read.status().message().find(c.message), std::string::npos) << read.status();
    EXPECT_NE(read.status().message().find(path), std::string::npos) << read.status();
    auto mapped = MapFloatArray(path);
    ASSERT_FALSE(mapped.ok()) << c.message;
    EXPECT_EQ(mapped.status().message(), read.status().message());
  }
  // Strings: a record count that cannot fit in the file is refused up front.
  Overwrite(path, CraftHeader(2, 4, {uint64_t{1} << 36}, 4) + "\1\0\0\0a");
  auto s = ReadStringArray(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("truncated strings"), std::string::npos) << s.status();
  // A string longer than the rest of the file.
  Overwrite(path, CraftHeader(2, 4, {1}, 4) + std::string("\xff\xff\xff\x3f", 4) + "abc");
  s = ReadStringArray(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("truncated strings"), std::string::npos) << s.status();
}

// In a death-test child: limits the address space to its current size +
// 256 MiB, then tries every reader on the files; 0 if all refused them.
int ReadUnderTightLimit(const std::string& floats, const std::string& longs,
                        const std::string& strings) {
  size_t vm_kib = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stoull(line.substr(7));
  }
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = (vm_kib + 256 * 1024) * 1024;
  if (vm_kib == 0 || ::setrlimit(RLIMIT_AS, &rl) != 0) return 2;
  const bool refused = !ReadFloatArray(floats).ok() && !MapFloatArray(floats).ok() &&
                       !ReadInt64Array(longs).ok() && !MapInt64Array(longs).ok() &&
                       !ReadStringArray(strings).ok();
  return refused ? 0 : 1;
}

// Headers claiming up to 2^36 elements are refused under an address-space
// limit of the current size + 256 MiB: nothing is allocated from their claims.
TEST(MappedArrayFileDeathTest, HugeClaimsAllocateNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = MakeTempDir();
  const std::string floats = dir + "/f.arr", strings = dir + "/s.arr", longs = dir + "/l.arr";
  Overwrite(floats, CraftHeader(2, 1, {uint64_t{1} << 36}, 4) + std::string(64, '\0'));
  Overwrite(longs, CraftHeader(2, 3, {uint64_t{1} << 33, 8}, 12) + std::string(64, '\0'));
  Overwrite(strings, CraftHeader(2, 4, {uint64_t{1} << 36}, 4) + std::string(64, '\0'));
  EXPECT_EXIT(std::_Exit(ReadUnderTightLimit(floats, longs, strings)),
              ::testing::ExitedWithCode(0), "");
}

// A mapping outlives the unlinking of its file (as when registry gc removes a
// bundle that is still loaded): the views keep reading the same values.
TEST(MappedArrayFile, MappingSurvivesUnlink) {
  const std::string dir = MakeTempDir();
  std::vector<float> values(1 << 16);
  for (size_t k = 0; k < values.size(); ++k) values[k] = static_cast<float>(k) * 0.5f;
  ASSERT_TRUE(WriteFloatArray(dir + "/f.arr", {values.size()}, values.data()).ok());
  auto mapped = MapFloatArray(dir + "/f.arr");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  fs::remove_all(dir);
  ASSERT_FALSE(fs::exists(dir));
  EXPECT_EQ(mapped->values, values);
  // A copy shares the mapping and keeps it alive after the original is gone.
  ArrayStore<float> copy = mapped->values;
  mapped->values = ArrayStore<float>();
  EXPECT_TRUE(copy.mapped());
  EXPECT_EQ(copy, values);
}

// The SHA-256 over a mapping equals the one of the bytes.
TEST(Mapping, Sha256OverTheMapping) {
  const std::string path = MakeTempDir() + "/b.bin";
  Overwrite(path, "abc");
  auto m = Mapping::Open(path);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->Sha256Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ((*m)->bytes(), "abc");
  Overwrite(path, "");
  auto empty = Mapping::Open(path);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->size(), 0u);
  EXPECT_EQ((*empty)->Sha256Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(absl::IsNotFound(Mapping::Open(path + ".missing").status()));
}

// A mapping made from bytes in memory parses exactly as the file's mapping.
TEST(Mapping, FromBytesParsesAsTheFile) {
  const std::string dir = MakeTempDir();
  const std::vector<int64_t> values = {3, -1, 1 << 20};
  ASSERT_TRUE(WriteInt64Array(dir + "/i.arr", {3}, values.data()).ok());
  ASSERT_TRUE(WriteStringArray(dir + "/s.arr", {"a", "", "bc"}).ok());
  auto file = Mapping::Open(dir + "/i.arr");
  ASSERT_TRUE(file.ok()) << file.status();
  auto copy = Mapping::FromBytes("mem:i.arr", (*file)->bytes());
  EXPECT_EQ(copy->path(), "mem:i.arr");
  EXPECT_EQ(copy->bytes(), (*file)->bytes());
  EXPECT_EQ(copy->Sha256Hex(), (*file)->Sha256Hex());
  auto mapped = MapInt64Array(copy);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->values, values);
  auto strings_file = Mapping::Open(dir + "/s.arr");
  ASSERT_TRUE(strings_file.ok()) << strings_file.status();
  auto strings = ParseStringArray(*Mapping::FromBytes("mem:s.arr", (*strings_file)->bytes()));
  ASSERT_TRUE(strings.ok()) << strings.status();
  EXPECT_EQ(*strings, (std::vector<std::string>{"a", "", "bc"}));
  // Errors name the given path; no bytes is an empty mapping.
  auto bad = MapFloatArray(Mapping::FromBytes("mem:bad.arr", "RSYSARR"));
  EXPECT_TRUE(absl::IsDataLoss(bad.status()));
  EXPECT_NE(bad.status().message().find("mem:bad.arr"), std::string::npos);
  EXPECT_EQ(Mapping::FromBytes("mem:empty", "")->size(), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace recsys

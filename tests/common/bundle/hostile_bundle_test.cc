// Bundles whose checksums are valid (the manifest re-signed after the change,
// as someone with write access to the registry could do) but whose contents
// lie: giant or inconsistent array headers, negative or out-of-order offsets,
// ids out of range, giant string lengths, damaged FAISS indexes. Every load
// must end in an error or in a bundle that serves without crashing; nothing
// may throw, and nothing may allocate what a header merely claims.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/bundle/model_bundle.h"
#include "common/bundle/registry.h"
#include "common/bundle/registry_internal.h"
#include "common/features/features.h"
#include "common/io/sha256.h"
#include "common/process_memory.h"
#include "common/retrieval/pool.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void Put(std::string* bytes, size_t offset, T value) {
  if (offset + sizeof(T) <= bytes->size()) std::memcpy(bytes->data() + offset, &value, sizeof(T));
}

// Array file layout (array_file.h): magic 8, version 4, dtype 4, ndims 4,
// dims 8 each, padding to 16; then the payload.
constexpr size_t kDimsOffset = 20;
size_t PayloadOffset(const std::string& bytes) {
  uint32_t ndims = 0;
  std::memcpy(&ndims, bytes.data() + 16, 4);
  return (kDimsOffset + 8 * ndims + 15) / 16 * 16;
}
uint32_t DTypeOf(const std::string& bytes) {
  uint32_t dtype = 0;
  std::memcpy(&dtype, bytes.data() + 12, 4);
  return dtype;
}

// Serves a few requests from `b` end to end (retrieval pool, then ranking):
// what a service does with a bundle it accepted.
void ServeSome(const ModelBundle& b) {
  for (int u = 0; u < 5; ++u) {
    std::vector<Interaction> history;
    for (int k = 0; k < 3; ++k) {
      if (auto item = b.catalogue.ids.Find("m" + std::to_string((7 * u + 5 * k) % 60))) {
        history.push_back(Interaction{0, *item, 1500000000 + 60 * k, 1.0f});
      }
    }
    const UserState st = BuildUserState(b, history, 1500000000 + 3600, {});
    const auto pool = retrieval::RetrievePool(retrieval::DefaultRetrievers(), b, st,
                                              b.params.quotas, b.params.max_pool, nullptr);
    RankPool(b, st, pool, 10);
  }
}

class HostileBundleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("hostile_bundle"));
    auto trained = testing::TrainToyBundle(*root_);
    ASSERT_TRUE(trained.ok()) << trained.status();
    original_ = new std::string(trained->bundle_dir);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete original_;
  }

  // The bundle's artefacts, as the manifest lists them.
  static std::vector<std::string> Files() {
    auto m = ReadManifest(*original_);
    EXPECT_TRUE(m.ok()) << m.status();
    std::vector<std::string> out;
    for (const auto& f : m->files()) out.push_back(f.path());
    return out;
  }

  // A copy of the bundle with `file` changed by `mutate` and the manifest
  // re-signed to match. Returns the copy's directory.
  std::string Forge(const std::string& file, const std::function<void(std::string*)>& mutate) {
    const std::string dir = *root_ + "/forged";
    fs::remove_all(dir);
    fs::copy(*original_, dir, fs::copy_options::recursive);
    std::string bytes = ReadAll(dir + "/" + file);
    mutate(&bytes);
    WriteAll(dir + "/" + file, bytes);
    auto m = ReadManifest(dir);
    EXPECT_TRUE(m.ok()) << m.status();
    for (auto& f : *m->mutable_files()) {
      if (f.path() != file) continue;
      f.set_size_bytes(static_cast<int64_t>(bytes.size()));
      f.set_sha256(Sha256Hex(bytes));
    }
    auto json = registry_internal::ToJson(*m, /*pretty=*/true);
    EXPECT_TRUE(json.ok()) << json.status();
    WriteAll(dir + "/" + std::string(kManifestFileName), *json);
    return dir;
  }

  // Loads `dir` as each service does; a bundle that loads must serve.
  // Returns how many of the loads were refused.
  int LoadEveryWay(const std::string& dir, const std::string& what) {
    int refused = 0;
    // kRetrieval: kServing's models plus the indexes built from the catalogue.
    for (const BundleParts parts : {BundleParts::kRetrieval, BundleParts::kGateway}) {
      absl::StatusOr<std::shared_ptr<const ModelBundle>> b = absl::UnknownError("");
      EXPECT_NO_THROW(b = ModelBundle::Load(dir, parts)) << what;
      if (!b.ok()) {
        ++refused;
        continue;
      }
      if (parts == BundleParts::kRetrieval) {
        ServeSome(**b);
        (*b)->lexical_index.Match("movie part 3").Top(10);
      }
    }
    return refused;
  }

  static std::string* root_;
  static std::string* original_;
};
std::string* HostileBundleTest::root_ = nullptr;
std::string* HostileBundleTest::original_ = nullptr;

TEST_F(HostileBundleTest, TheUntouchedCopyLoadsAndServes) {
  const std::string dir = Forge(Files().front(), [](std::string*) {});
  EXPECT_EQ(LoadEveryWay(dir, "untouched"), 0);
}

// Giant headers must be refused from the file size alone: the process's
// resident memory must not grow by what the header claims (2^35 elements of
// 4 or 8 bytes would be 128-256 GiB).
TEST_F(HostileBundleTest, GiantArrayHeadersAreRefusedWithoutAllocating) {
  // Resets the peak resident size (VmHWM) so the check below sees any spike.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const int64_t rss_before = ReadProcessMemory().resident_bytes;
  int arrays = 0;
  for (const std::string& file : Files()) {
    if (fs::path(file).extension() != ".arr") continue;
    ++arrays;
    for (const uint64_t claim : {uint64_t{1} << 35, uint64_t{1} << 29, ~uint64_t{0},
                                 uint64_t{1} << 62}) {
      const std::string dir = Forge(file, [&](std::string* b) { Put(b, kDimsOffset, claim); });
      EXPECT_GE(LoadEveryWay(dir, file), 1) << file << " claiming " << claim << " elements";
    }
  }
  EXPECT_GT(arrays, 20);
  EXPECT_LT(ReadProcessMemory().peak_resident_bytes - rss_before, int64_t{100} << 20);
}

// Every element of every integer array (offsets, ids, category indices,
// trending items, ...) replaced in turn by hostile values: negative, huge,
// one past the end, or swapped with its neighbour (out of order).
TEST_F(HostileBundleTest, IntegerArraysWithLyingValuesNeverCrash) {
  int loads = 0, refused = 0;
  for (const std::string& file : Files()) {
    if (fs::path(file).extension() != ".arr") continue;
    const std::string original = ReadAll(*original_ + "/" + file);
    const uint32_t dtype = DTypeOf(original);
    if (dtype != 2 && dtype != 3) continue;  // int32, int64
    const size_t width = dtype == 2 ? 4 : 8;
    const size_t start = PayloadOffset(original);
    const size_t count = (original.size() - start) / width;
    // The first few, a few in the middle and the last elements.
    std::vector<size_t> positions;
    for (size_t i = 0; i < count; ++i) {
      if (i < 3 || i + 3 >= count || i % std::max<size_t>(1, count / 4) == 0) {
        positions.push_back(i);
      }
    }
    for (const size_t i : positions) {
      const size_t at = start + i * width;
      for (const int64_t value : {int64_t{-5}, int64_t{INT32_MAX}, int64_t{1} << 40,
                                  int64_t{60}, int64_t{61}}) {
        const std::string dir = Forge(file, [&](std::string* b) {
          if (width == 4) {
            Put<int32_t>(b, at, static_cast<int32_t>(value));
          } else {
            Put<int64_t>(b, at, value);
          }
        });
        refused += LoadEveryWay(dir, file + " element " + std::to_string(i));
        loads += 2;
      }
      if (i + 1 < count) {
        const std::string dir = Forge(file, [&](std::string* b) {
          std::string tmp = b->substr(at, width);
          std::memcpy(b->data() + at, b->data() + at + width, width);
          std::memcpy(b->data() + at + width, tmp.data(), width);
        });
        refused += LoadEveryWay(dir, file + " swap at " + std::to_string(i));
        loads += 2;
      }
    }
  }
  EXPECT_GT(loads, 100);
  EXPECT_GT(refused, loads / 4);  // most lies are caught at load time
}

// String arrays whose first record claims 4 GiB: refused, nothing allocated.
TEST_F(HostileBundleTest, GiantStringLengthsAreRefused) {
  int strings = 0;
  for (const std::string& file : Files()) {
    if (fs::path(file).extension() != ".arr") continue;
    const std::string original = ReadAll(*original_ + "/" + file);
    if (DTypeOf(original) != 4) continue;
    ++strings;
    const size_t at = PayloadOffset(original);
    if (at + 4 > original.size()) continue;  // an empty string array
    for (const uint32_t len : {0xFFFFFFF0u, 0x7FFFFFFFu, static_cast<uint32_t>(original.size())}) {
      const std::string dir = Forge(file, [&](std::string* b) { Put(b, at, len); });
      EXPECT_GT(LoadEveryWay(dir, file), 0) << file << " string length " << len;
    }
  }
  EXPECT_GE(strings, 3);
}

// FAISS index files damaged word by word (counts, dimensions, vector data):
// refused, or loaded and served without reading out of bounds.
TEST_F(HostileBundleTest, DamagedIndexFilesNeverCrash) {
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const int64_t rss_before = ReadProcessMemory().resident_bytes;
  int files = 0;
  for (const std::string& file : Files()) {
    if (fs::path(file).extension() != ".faiss") continue;
    ++files;
    const std::string original = ReadAll(*original_ + "/" + file);
    std::vector<size_t> offsets;
    for (size_t at = 0; at < 96 && at < original.size(); at += 4) offsets.push_back(at);
    for (size_t at = 96; at < original.size(); at += original.size() / 16 + 1) {
      offsets.push_back(at);
    }
    for (const size_t at : offsets) {
      for (const uint64_t value : {~uint64_t{0}, uint64_t{1} << 36, uint64_t{0x7fffffff}}) {
        const std::string dir = Forge(file, [&](std::string* b) { Put(b, at, value); });
        LoadEveryWay(dir, file + " at " + std::to_string(at));
      }
    }
    const std::string dir = Forge(file, [](std::string* b) { b->resize(b->size() / 2); });
    EXPECT_GT(LoadEveryWay(dir, file + " truncated"), 0);
  }
  EXPECT_EQ(files, 2);
  // A count FAISS would trust (2^31 vectors) must not be allocated.
  EXPECT_LT(ReadProcessMemory().peak_resident_bytes - rss_before, int64_t{100} << 20);
}

}  // namespace
}  // namespace recsys

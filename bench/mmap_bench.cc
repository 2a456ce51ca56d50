// Bundle arrays read into the heap vs memory-mapped, at 10^6 items.
//
// `--mode=write` creates in --dir the large arrays of a 1M-item bundle
// (deterministic values): content_items.arr 1M x 96 floats, als_items.arr
// 1M x 64 floats and item-kNN neighbours as CSR (itemknn.offsets.arr 1M + 1
// int64, itemknn.ids.arr / itemknn.values.arr 50M int32 / float): 1.05 GB.
// `--mode=read` is the former load path: SHA-256 of each file streamed from
// disk, then Read*Array copies it into the heap. `--mode=map` is the current
// one: each file mapped once, SHA-256 over the mapping, typed views of it.
// Both then validate the CSR and touch every element (a sum), so every page
// is resident, and print wall times and memory from /proc/self/status
// (VmRSS = RssAnon + RssFile + RssShmem) and /proc/self/smaps_rollup
// (Pss_*: a page shared by k processes counts 1/k). With --hold_s the process
// sleeps and prints memory again: run two at once to see replicas share the
// mapped pages (Pss_File halves, RssAnon does not move). --cold evicts the
// files from the page cache first (posix_fadvise DONTNEED; no root needed).
//   build/bin/recsys_bench_mmap --mode=write --dir=/tmp/mmap-bench
//   build/bin/recsys_bench_mmap --mode=read --dir=/tmp/mmap-bench [--cold]
//   build/bin/recsys_bench_mmap --mode=map --dir=/tmp/mmap-bench [--cold]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/bundle_files.h"
#include "common/io/sha256.h"
#include "common/models/csr.h"

ABSL_FLAG(std::string, mode, "map", "write | read | map");
ABSL_FLAG(std::string, dir, "/tmp/mmap-bench", "directory of the arrays");
ABSL_FLAG(int64_t, items, 1000000, "catalogue size (write)");
ABSL_FLAG(int, neighbors, 50, "neighbours per item (write)");
ABSL_FLAG(bool, cold, false, "evict the files from the page cache before loading");
ABSL_FLAG(int, hold_s, 0, "seconds to wait before printing memory again");

namespace recsys {
namespace {

constexpr int kContentDim = 96, kAlsDim = 64;
const char* const kFiles[] = {"content_items.arr", "als_items.arr", "itemknn.offsets.arr",
                              "itemknn.ids.arr", "itemknn.values.arr"};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// "VmRSS 1234 MB ..." from /proc/self/status and smaps_rollup.
void PrintMemory(const std::string& when) {
  std::string out = when + ":";
  auto scan = [&](const char* file, std::initializer_list<const char*> keys) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      for (const char* k : keys) {
        if (line.rfind(absl::StrCat(k, ":"), 0) == 0) {
          const int64_t kib = std::stoll(line.substr(std::string(k).size() + 1));
          absl::StrAppend(&out, " ", k, " ", kib / 1024, " MB");
        }
      }
    }
  };
  scan("/proc/self/status", {"VmRSS", "RssAnon", "RssFile"});
  scan("/proc/self/smaps_rollup", {"Pss_Anon", "Pss_File"});
  std::cout << out << std::endl;
}

void Write(const std::string& dir, int64_t n, int k) {
  std::mt19937 rng(20240601);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto dense = [&](const char* name, int d) {
    std::vector<float> v(static_cast<size_t>(n) * d);
    for (float& x : v) x = u(rng);
    const absl::Status s =
        WriteFloatArray(absl::StrCat(dir, "/", name), {uint64_t(n), uint64_t(d)}, v.data());
    if (!s.ok()) std::cerr << s << std::endl;
  };
  dense("content_items.arr", kContentDim);
  dense("als_items.arr", kAlsDim);
  Csr<float> nb;
  std::vector<int64_t> offsets(n + 1);
  std::vector<int32_t> ids(static_cast<size_t>(n) * k);
  std::vector<float> values(ids.size());
  std::uniform_int_distribution<int32_t> item(0, static_cast<int32_t>(n - 1));
  for (int64_t i = 0; i <= n; ++i) offsets[i] = i * k;
  for (size_t j = 0; j < ids.size(); ++j) ids[j] = item(rng), values[j] = u(rng);
  nb.offsets = std::move(offsets);
  nb.ids = std::move(ids);
  nb.values = std::move(values);
  const auto saved = nb.Save(dir, CsrFiles::WithPrefix("itemknn"));
  if (!saved.ok()) std::cerr << saved.status() << std::endl;
}

void Evict(const std::string& dir) {
  for (const char* f : kFiles) {
    const int fd = ::open(absl::StrCat(dir, "/", f).c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

template <typename T>
double Sum(std::span<const T> v) {
  double s = 0;
  for (T x : v) s += static_cast<double>(x);
  return s;
}

int Load(const std::string& dir, bool map) {
  const auto start = std::chrono::steady_clock::now();
  double verify_s = 0;
  ArrayStore<float> content, als;
  Csr<float> knn;
  BundleFiles files(dir);
  for (const char* f : kFiles) {
    const auto t = std::chrono::steady_clock::now();
    const std::string path = absl::StrCat(dir, "/", f);
    if (map) {
      auto m = files.Map(f);
      if (!m.ok()) return std::cerr << m.status() << std::endl, 1;
      (*m)->Sha256Hex();  // what MapVerified does
    } else {
      auto sha = Sha256File(path);
      if (!sha.ok()) return std::cerr << sha.status() << std::endl, 1;
    }
    verify_s += Seconds(t);
  }
  const auto load_start = std::chrono::steady_clock::now();
  if (map) {
    content = files.MapArray<float>("content_items.arr")->values;
    als = files.MapArray<float>("als_items.arr")->values;
    auto nb = Csr<float>::Map(files, CsrFiles::WithPrefix("itemknn"), CsrShape());
    if (!nb.ok()) return std::cerr << nb.status() << std::endl, 1;
    knn = *std::move(nb);
  } else {
    content = ReadFloatArray(dir + "/content_items.arr")->values;
    als = ReadFloatArray(dir + "/als_items.arr")->values;
    auto nb = Csr<float>::Load(dir, CsrFiles::WithPrefix("itemknn"), CsrShape());
    if (!nb.ok()) return std::cerr << nb.status() << std::endl, 1;
    knn = *std::move(nb);
  }
  const double load_s = Seconds(load_start);
  const auto touch_start = std::chrono::steady_clock::now();
  const double sum = Sum<float>(content) + Sum<float>(als) + Sum<float>(knn.values) +
                     Sum<int32_t>(knn.ids) + Sum<int64_t>(knn.offsets);
  const double touch_s = Seconds(touch_start);
  std::printf("%s: verify %.2f s, load %.2f s (total %.2f s), touch every element %.2f s "
              "(checksum %.6g)\n",
              map ? "map" : "read", verify_s, load_s, Seconds(start), touch_s, sum);
  PrintMemory("memory after touching");
  if (const int hold = absl::GetFlag(FLAGS_hold_s); hold > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(hold));
    PrintMemory(absl::StrCat("memory after ", hold, " s"));
  }
  return 0;
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  if (mode == "write") {
    std::filesystem::create_directories(dir);
    recsys::Write(dir, absl::GetFlag(FLAGS_items), absl::GetFlag(FLAGS_neighbors));
    return 0;
  }
  if (mode != "read" && mode != "map") return std::cerr << "unknown --mode" << std::endl, 2;
  if (absl::GetFlag(FLAGS_cold)) recsys::Evict(dir);
  recsys::PrintMemory("memory at start");
  return recsys::Load(dir, mode == "map");
}

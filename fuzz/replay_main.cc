// Replays fuzz inputs through the fuzz targets without libFuzzer, in the
// ordinary build:
//   recsys_fuzz_replay <target> <file or directory>...
// Every regular file named (directories: every regular file in them, sorted,
// not recursive) is passed once to the target's LLVMFuzzerTestOneInput. A
// target reports a bad input by aborting, so a regression fails the run. A
// missing path is skipped with a note; running no input at all is an error
// (a misspelt corpus must not pass silently).
//   recsys_fuzz_replay --make-seeds <corpus dir>
// writes the binary seeds of the corpus (make_seeds.h).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/make_seeds.h"
#include "fuzz_targets.inc"

namespace {

std::vector<std::string> InputsOf(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    std::fprintf(stderr, "replay: %s does not exist; skipped\n", path.c_str());
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--make-seeds") == 0) {
    return recsys::fuzz::MakeSeeds(argv[2]) ? 0 : 1;
  }
  const FuzzTarget* target = nullptr;
  for (const FuzzTarget& t : kFuzzTargets) {
    if (argc > 1 && std::strcmp(argv[1], t.name) == 0) target = &t;
  }
  if (target == nullptr) {
    std::fprintf(stderr, "usage: %s <target> <file or directory>...\ntargets:", argv[0]);
    for (const FuzzTarget& t : kFuzzTargets) std::fprintf(stderr, " %s", t.name);
    std::fprintf(stderr, "\n");
    return 2;
  }
  size_t inputs = 0;
  for (int i = 2; i < argc; ++i) {
    for (const std::string& file : InputsOf(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
        return 1;
      }
      std::fprintf(stderr, "replay: %s %s (%zu bytes)\n", target->name, file.c_str(),
                   bytes.size());
      target->run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  }
  if (inputs == 0) {
    std::fprintf(stderr, "replay: no input for %s\n", target->name);
    return 1;
  }
  std::printf("replay: %s: %zu inputs, no failure\n", target->name, inputs);
  return 0;
}

// Fuzzes the data loader of MIND: news.tsv, behaviors.tsv
// (input layout and checks: data_fuzz.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/data_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::FuzzDataLoader(recsys::DataFormat::kMind, {"news.tsv", "behaviors.tsv"}, data, size);
  return 0;
}

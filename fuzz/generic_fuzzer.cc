// Fuzzes the data loader of the generic layout: interactions.csv, items.csv
// (input layout and checks: data_fuzz.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/data_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::FuzzDataLoader(recsys::DataFormat::kGeneric, {"interactions.csv", "items.csv"}, data, size);
  return 0;
}

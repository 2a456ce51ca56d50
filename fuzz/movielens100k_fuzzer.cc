// Fuzzes the data loader of MovieLens 100k: u.item (latin-1), u.data, u.genre
// (input layout and checks: data_fuzz.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/data_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::FuzzDataLoader(recsys::DataFormat::kMovieLens100k, {"u.item", "u.data", "u.genre"}, data, size);
  return 0;
}

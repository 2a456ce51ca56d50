// Fuzzes the data loader of MovieLens latest (ml-latest*): movies.csv, ratings.csv, tags.csv
// (input layout and checks: data_fuzz.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/data_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recsys::fuzz::FuzzDataLoader(recsys::DataFormat::kMovieLensLatest, {"movies.csv", "ratings.csv", "tags.csv"}, data, size);
  return 0;
}

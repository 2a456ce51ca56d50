// The data-loader fuzz harness shared by the per-layout targets
// (movielens_fuzzer.cc, movielens100k_fuzzer.cc, mind_fuzzer.cc,
// generic_fuzzer.cc).
//
// Input: one flags byte, then the layout's files separated by '\0' bytes, in
// the order of `files`; a file with no part left is absent. Flags: bit 0
// skips bad lines (BadLinePolicy::kSkip) instead of failing, bit 1 lets
// LoadDataset detect the layout instead of forcing `format`.
// Checks that a loaded data set is consistent: every interaction and
// impression names a registered user and item, the catalogue has one
// ItemInfo per item, and kFail never reports skipped lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/data/dataset.h"

namespace recsys::fuzz {

void FuzzDataLoader(DataFormat format, const std::vector<std::string>& files, const uint8_t* data,
                    size_t size);

}  // namespace recsys::fuzz

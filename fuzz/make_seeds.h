// The binary seeds of fuzz/corpus, written with the project's own writers
// (make_seeds.cc).
#pragma once

#include <string>

namespace recsys::fuzz {

// Writes the seeds under `corpus`/<target>/; false (with a message on
// stderr) on failure.
bool MakeSeeds(const std::string& corpus);

}  // namespace recsys::fuzz

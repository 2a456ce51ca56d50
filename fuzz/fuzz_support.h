// Helpers shared by the fuzz targets (fuzz/*_fuzzer.cc): a per-process
// scratch directory for parsers that read files, input splitting, and a
// check that aborts (so libFuzzer, and the replay driver, report a failed
// invariant as a crash with the input kept).
//
// Every target defines LLVMFuzzerTestOneInput. Built with -DRECSYS_FUZZ=ON
// (clang) each is a libFuzzer binary; in the ordinary build the replay driver
// (replay_main.cc) links them all, each renamed by a -D, and runs them over
// fuzz/corpus/<target> and fuzz/regressions/<target>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys::fuzz {

// The input as a string_view.
inline absl::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A directory private to this process (under /dev/shm when it exists, else
// $TMPDIR or /tmp), created on first use and removed at exit.
const std::string& ScratchDir();

// Writes `bytes` to `path` (truncating); aborts on an I/O error, which is
// the harness's fault, not the input's.
void WriteScratchFile(const std::string& path, absl::string_view bytes);
// Removes `path` if it exists.
void RemoveScratchFile(const std::string& path);

// Splits `data` at every `sep` into at most `max_parts` parts (the last part
// keeps any further separators).
std::vector<absl::string_view> SplitParts(absl::string_view data, char sep, size_t max_parts);

// Drops protobuf's log lines (a parse of invalid UTF-8 logs an error per
// call, which would slow fuzzing and bury real reports). Idempotent.
void QuietProtobufLogs();

// Prints `what` and aborts when `ok` is false.
void Check(bool ok, absl::string_view what);

}  // namespace recsys::fuzz

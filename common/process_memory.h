// The calling process's memory, from /proc/self/status: for logging what a
// phase of a long job cost (the peak is what a memory limit must allow).
#pragma once

#include <cstdint>

namespace recsys {

struct ProcessMemory {
  int64_t resident_bytes = 0;       // VmRSS
  int64_t peak_resident_bytes = 0;  // VmHWM
};

// Zeros when /proc is unavailable.
ProcessMemory ReadProcessMemory();

}  // namespace recsys

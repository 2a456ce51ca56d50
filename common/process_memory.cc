#include "common/process_memory.h"

#include <cstdio>
#include <cstring>

namespace recsys {

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return m;
  char line[256];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    long long kb = 0;
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1) m.resident_bytes = kb * 1024;
    if (std::sscanf(line, "VmHWM: %lld kB", &kb) == 1) m.peak_resident_bytes = kb * 1024;
  }
  std::fclose(f);
  return m;
}

}  // namespace recsys

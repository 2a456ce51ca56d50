// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and
// final xor 0xFFFFFFFF), the checksum of iSCSI, ext4 metadata and LevelDB
// logs. Portable table-driven "slicing-by-8": ~1 byte/cycle, no CPU
// extensions needed. Thread-safe (the tables are compile-time constants).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace recsys::gateway {

// CRC-32C of `crc`'s message followed by data[0, n). Crc32cExtend(0, ...)
// starts a new message, so Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(absl::string_view s) { return Crc32cExtend(0, s.data(), s.size()); }

}  // namespace recsys::gateway

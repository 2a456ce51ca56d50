// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and
// final xor 0xFFFFFFFF), the checksum of iSCSI, ext4 metadata and LevelDB
// logs, and of the gateway's write-ahead log records.
//
// Two implementations with identical results: the SSE4.2 `crc32` instruction
// (8 bytes per instruction), used when the CPU has it (checked once per
// process), and a portable table-driven "slicing-by-8" (~1 byte/cycle).
// Thread-safe (the tables are compile-time constants).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace recsys {

// CRC-32C of `crc`'s message followed by data[0, n). Crc32cExtend(0, ...)
// starts a new message, so Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(absl::string_view s) { return Crc32cExtend(0, s.data(), s.size()); }

// The two implementations behind Crc32cExtend, exposed so tests can check
// that they agree. Crc32cExtendHardware may only be called when
// Crc32cHardwareAvailable() is true.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);
uint32_t Crc32cExtendHardware(uint32_t crc, const void* data, size_t n);
bool Crc32cHardwareAvailable();

}  // namespace recsys

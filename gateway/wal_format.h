// The write-ahead log's on-disk format (see wal.h for the layout): record
// framing, encoding and decoding, segment and snapshot scanning, file names.
// Internal to the WAL: wal.cc drives recovery, appends and compaction with
// these; nothing else should include this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/wal.h"

namespace recsys::gateway::wal_internal {

inline constexpr char kSnapshotMagic[8] = {'R', 'S', 'Y', 'S', 'S', 'N', 'A', 'P'};
inline constexpr uint32_t kSnapshotVersion = 1;

// Little-endian appends.
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);

// Replay position shared by the snapshot and the segments that follow it.
struct Chain {
  uint64_t next = 1;  // the next sequence number to deliver
  uint64_t delivered = 0;
};

// How a segment may end.
enum class TailPolicy { kStrict, kMayBeTorn };

struct SegmentScan {
  size_t good_end = 0;  // bytes of intact records
  std::string damage;   // why the bytes after good_end were rejected; empty = none
};

// Replays one segment's records with seq >= chain->next (earlier ones are
// covered by the snapshot). `first_in_chain` lets it start below chain->next.
absl::Status ScanSegment(const std::string& path, absl::string_view data, uint64_t first_seq,
                         bool first_in_chain, TailPolicy tail, Chain* chain,
                         const Wal::ReplayFn& fn, SegmentScan* scan);

// Replays the snapshot bytes `data` of file `path` (strict: any damage is
// DataLoss naming `path`). Returns its last seq.
absl::StatusOr<uint64_t> ScanSnapshot(const std::string& path, absl::string_view data,
                                      const Wal::ReplayFn& fn, uint64_t* delivered);

// Reads the snapshot file `path` and replays it (ScanSnapshot).
absl::StatusOr<uint64_t> ReadSnapshot(const std::string& path, const Wal::ReplayFn& fn,
                                      uint64_t* delivered);

// Parses "<prefix><digits><suffix>".
std::optional<uint64_t> ParseNumbered(absl::string_view name, absl::string_view prefix,
                                      absl::string_view suffix);

// "snapshot-<last seq, 20 digits>.bin".
std::string SnapshotName(uint64_t last_seq);

uint64_t MicrosSince(std::chrono::steady_clock::time_point t0);

// Writes seq into a framed record and (re)computes its length and checksum.
void SealRecord(std::string* rec, uint64_t seq);

// The record with seq and checksum left for SealRecord.
std::string EncodeUnsealed(const WalEntry& e);

}  // namespace recsys::gateway::wal_internal

// The write-ahead log's on-disk format (see wal.h for the layout): record
// framing, encoding and decoding, segment and snapshot scanning, file names.
// Internal to the WAL: wal.cc drives recovery, appends and compaction with
// these; nothing else should include this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
// Any damage is DataLoss, except (kMayBeTorn) an incomplete last record (see
// Damage::incomplete), which is reported in `scan` for the caller to cut.
absl::Status ScanSegment(const std::string& path, absl::string_view data, uint64_t first_seq,
                         bool first_in_chain, TailPolicy tail, Chain* chain,
                         const Wal::ReplayFn& fn, SegmentScan* scan);

// One run of rejected bytes in a segment, or one break in its numbering.
struct Damage {
  size_t offset = 0;  // first rejected byte (or the record after a gap)
  size_t bytes = 0;   // rejected bytes: to the next intact record or the end; 0 for a gap
  // The bytes run to the end of the file and look like a write cut short (a
  // short record header, a length past the end of the file, or only zero
  // bytes): the crash signature. Never true when an intact record follows.
  bool incomplete = false;
  uint64_t missing_seqs = 0;  // sequence numbers skipped by a gap before `offset`
  bool before_segment = false;  // the gap is between the log so far and this segment
  std::string what;           // "<path>: ..." for logs and errors
};

struct SegmentSurvey {
  std::vector<Damage> damage;  // in file order
  size_t good_end = 0;         // end of the last intact record
  uint64_t last_seq = 0;       // highest seq of an intact record (0 = none)
};

// Replays every intact record of one segment with seq >= chain->next in
// increasing seq order, stepping over damage (resynchronizing at the next
// intact record) and listing it in `survey`. Errors come only from `fn`.
// Cost: O(size) for intact data; O(size x damaged bytes) worst case while
// resynchronizing.
absl::Status SurveySegment(const std::string& path, absl::string_view data, uint64_t first_seq,
                           bool first_in_chain, Chain* chain, const Wal::ReplayFn& fn,
                           SegmentSurvey* survey);

// Largest sequence number a record may carry (2^62: unreachable by appends,
// and far enough from the top that seq + 1 never wraps).
inline constexpr uint64_t kMaxWalSeq = uint64_t{1} << 62;

// Smallest framed record, bytes (bounds how many records damaged bytes held).
inline constexpr size_t kMinRecordBytes = 8 + 32;

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

// Write-ahead log of user events: the durable half of the embedded user store.
//
// Files in the state directory:
//   LOCK                      flock()ed while a Wal is open (one process per dir)
//   wal-<first seq>.log       segments, first seq zero-padded to 20 digits
//   snapshot-<last seq>.bin   optional compaction output (see Compact)
//
// Segment record, little-endian:
//   u32 payload length | u32 CRC-32C of the payload | payload
//   payload = u64 seq | u32 len, user id | u32 len, item id | i64 timestamp_s
//             | f32 weight | u32 len, event [| u32 kind]
// The trailing kind is absent for an event (the original format, which every
// log written before kinds existed consists of) and present for every other
// kind (WalRecordKind), so old logs replay unchanged; a binary that predates a
// kind refuses the log (malformed payload) instead of misreading it.
// Sequence numbers start at 1 and are contiguous across segments.
//
// Snapshot file: "RSYSSNAP" | u32 version | u32 0 | u64 last seq | u64 count
//   | count records framed as above, in seq order | u32 CRC-32C of all before.
//
// Durability: Append returns a sequence number only after the record's bytes
// were written and fdatasync()ed (group commit: one write + one fdatasync per
// batch of concurrently pending records, done by a single writer thread).
// A failed write or fdatasync poisons the log: that append and every later
// one fail (the page cache state after a failed fsync is unknowable); reopen
// to recover. Records of a failed batch were never acknowledged but may still
// be replayed after a restart.
//
// Recovery (Open): the newest snapshot, then every segment in order, is
// replayed through a callback. Open first reads everything, then classifies
// what it could not read:
//   - a torn write: the LAST record of the LAST segment is incomplete (a short
//     header, a length running past the end of the file, or only zero bytes
//     to the end) and nothing intact follows. That is what a crash in the
//     middle of a write leaves; the record was never acknowledged. It is
//     repaired under either policy: the cut bytes are copied aside to
//     "<segment>.torn-at-<offset>-<unix seconds>" (only them: the rest of the
//     segment stays in place, and repeated crashes must not copy 64 MiB
//     each), then cut off (ftruncate + fsync), logged at WARNING.
//   - corruption: anything else. A complete record whose checksum fails
//     (anywhere, the last record included), a malformed payload under a good
//     checksum, a damaged record that intact records follow, damage in any
//     segment but the last, a gap or a step back in the sequence numbers
//     (inside a segment or between segments). Logged at ERROR, counted in
//     WalStats::corrupt_regions, and handled by WalOptions::recovery:
//       kRefuse (default): Open fails with DataLoss naming the file, offset
//         and reason, and NOTHING is modified (not even a torn tail).
//       kSkip: every record that can be read is kept. Each segment with
//         damage is copied aside first, then the snapshot and every segment
//         up to the last damaged one are folded into a new snapshot holding
//         every readable record (no per-user cap) and deleted; the log is
//         clean afterwards, so the next Open needs no policy. The snapshot
//         covers the sequence numbers the damage may have used (up to the
//         next segment's first, or for a damaged end of the log one per
//         kMinRecordBytes of damage), so no acknowledged number is reused.
//   A corrupt segment's copy aside is "<segment>.damaged-<unix seconds>" in
//   the state directory (the whole file, fsynced, with the directory); copies
//   are never read by Open and never deleted: the operator's evidence. A damaged snapshot is DataLoss under either policy.
//   A crash during a kSkip repair leaves either the old files or the repaired
//   ones, or (between the new snapshot and the deletions) the damaged segment
//   beside the snapshot covering it, which reads as corruption again: run the
//   repair again. Nothing readable is lost in any case.
// Open syncs the active segment before returning, so nothing it replayed can
// vanish later (a killed process may leave written but unsynced records).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/io/file.h"
#include "common/io/file_lock.h"

namespace recsys::gateway {

// What a record means. Values are stored on disk: never renumber.
enum class WalRecordKind : uint32_t {
  kEvent = 0,      // the user did `event` on `item_id` (encoded without a kind)
  kEraseUser = 1,  // every earlier event of `user_id` (and its seeded history)
                   // is erased; item_id and event are empty
};

// One logged record. Each string is at most kMaxWalFieldBytes.
struct WalEntry {
  std::string user_id;
  std::string item_id;
  int64_t timestamp_s = 0;  // Unix seconds
  float weight = 1.0f;
  std::string event;
  WalRecordKind kind = WalRecordKind::kEvent;
};

inline constexpr size_t kMaxWalFieldBytes = 64 * 1024;

// What Open does with corruption (see the header comment). A torn tail is
// always cut off, after a copy aside.
enum class WalRecovery {
  kRefuse,  // DataLoss; nothing is modified
  kSkip,    // keep every readable record; damaged segments copied aside first
};

struct WalOptions {
  WalRecovery recovery = WalRecovery::kRefuse;
  // Most records written by one group commit (one write + one fdatasync).
  size_t max_batch = 1024;
  // fdatasync after every batch. Turn off only for benchmarks: without it an
  // acknowledged record can be lost by a machine (not process) crash.
  bool fsync = true;
  // A segment that reached this size is closed; the next batch starts a new one.
  uint64_t segment_bytes = 64ull << 20;
  // Compaction (0 = never automatic): when this many closed segments exist, a
  // background thread folds them and the previous snapshot into a new
  // snapshot holding only each user's `compact_keep_per_user` most recent
  // events (after the user's latest kEraseUser record, which is kept), then
  // deletes them. Older events are gone from disk afterwards.
  int compact_after_segments = 4;
  size_t compact_keep_per_user = 1000;
};

struct WalStats {
  uint64_t appends = 0;            // records acknowledged since Open
  uint64_t group_commits = 0;      // batches written
  uint64_t fsyncs = 0;             // fdatasync calls on segments
  uint64_t bytes_written = 0;      // record bytes written since Open
  uint64_t last_fsync_micros = 0;  // duration of the latest fdatasync
  uint64_t total_fsync_micros = 0;
  uint64_t replayed_records = 0;  // records delivered by Open's replay
  uint64_t truncated_bytes = 0;   // torn tail removed by Open (copied aside first)
  uint64_t corrupt_regions = 0;   // corruption found by Open (kSkip: skipped)
  uint64_t skipped_bytes = 0;     // damaged bytes left out by a kSkip repair
  uint64_t missing_seqs = 0;      // kSkip: sequence numbers without a readable record
                                  // (gaps, and the estimate for a damaged end)
  uint64_t damaged_copies = 0;    // segments copied aside by Open
  uint64_t last_seq = 0;          // latest durable sequence number
  uint64_t segments = 0;          // segment files, the open one included
  uint64_t snapshots_written = 0;
  uint64_t snapshot_seq = 0;  // records <= this live in the snapshot
};

class Wal {
 public:
  // Called once per replayed record, in sequence order. An error aborts Open.
  using ReplayFn = std::function<absl::Status(uint64_t seq, const WalEntry& entry)>;

  // Creates `dir` if needed, locks it, replays it into `replay`, repairs a
  // torn tail (and corruption under kSkip; see the header comment) and starts
  // the writer thread. Errors: DataLoss for corruption under kRefuse or a
  // damaged snapshot (file and offset in the message), FailedPrecondition if
  // another Wal holds the directory, Internal for I/O errors.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(const std::string& dir,
                                                   const WalOptions& options,
                                                   const ReplayFn& replay);

  // Writes out every pending record, then stops the threads.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends `entry` and blocks until it is durable; returns its sequence
  // number. Thread-safe; concurrent calls share fsyncs. Errors:
  // InvalidArgument (a field longer than kMaxWalFieldBytes), or the log's
  // sticky I/O error.
  absl::StatusOr<uint64_t> Append(const WalEntry& entry);

  // Folds every closed segment (all but the one being written) and the
  // previous snapshot into snapshot-<seq>.bin (temp file, fsync, rename,
  // fsync dir), then deletes them. No-op without closed segments. Runs
  // concurrently with Append; one compaction at a time.
  absl::Status Compact();

  WalStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    uint64_t first_seq;
    std::string path;
  };
  struct Pending {
    uint64_t seq;
    std::string bytes;  // the framed record
  };
  struct WaitArg {
    const Wal* wal;
    uint64_t seq;
  };

  Wal(std::string dir, WalOptions options);
  absl::Status Recover(const ReplayFn& replay);
  // Copies `path` (from == 0: to "<path>.damaged-<unix seconds>") or its
  // bytes from offset `from` on (to "<path>.torn-at-<from>-<unix seconds>")
  // durably; returns the copy's path.
  absl::StatusOr<std::string> CopyAside(const std::string& path, uint64_t from);
  void WriterLoop();
  void CompactorLoop();
  // Writes and syncs one batch; rotates first if the segment is full.
  absl::Status WriteBatch(const std::string& bytes, uint64_t first_seq);
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CompactorHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Condition of a waiting Append (absl::Mutex evaluates it with mu_ held).
  static bool AppendDone(WaitArg* arg) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  const std::string dir_;
  const WalOptions options_;
  std::optional<FileLock> lock_;  // held from Open to destruction

  // Owned by the writer thread once it runs (by Open before).
  UniqueFd fd_;
  std::string active_path_;
  uint64_t segment_size_ = 0;

  mutable absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool compact_requested_ ABSL_GUARDED_BY(mu_) = false;
  int active_appends_ ABSL_GUARDED_BY(mu_) = 0;         // Appends inside Await
  std::vector<Segment> segments_ ABSL_GUARDED_BY(mu_);  // by first_seq; last is open
  std::string snapshot_path_ ABSL_GUARDED_BY(mu_);      // empty = none
  WalStats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex compact_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one Compact at a time

  std::thread writer_;
  std::thread compactor_;
};

// The framed bytes of one record (exposed for tests and tools).
std::string EncodeWalRecord(uint64_t seq, const WalEntry& entry);
// "wal-00000000000000000001.log" for 1.
std::string WalSegmentName(uint64_t first_seq);

}  // namespace recsys::gateway

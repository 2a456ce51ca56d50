#include "gateway/wal.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/io/crc32c.h"
#include "common/io/file.h"
#include "common/io/file_lock.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/wal_format.h"

namespace recsys::gateway {

using wal_internal::Chain;
using wal_internal::EncodeUnsealed;
using wal_internal::kSnapshotMagic;
using wal_internal::kSnapshotVersion;
using wal_internal::MicrosSince;
using wal_internal::ParseNumbered;
using wal_internal::PutU32;
using wal_internal::PutU64;
using wal_internal::ReadSnapshot;
using wal_internal::ScanSegment;
using wal_internal::SealRecord;
using wal_internal::SegmentScan;
using wal_internal::SnapshotName;
using wal_internal::TailPolicy;

using wal_internal::Damage;
using wal_internal::kMinRecordBytes;
using wal_internal::SegmentSurvey;
using wal_internal::SurveySegment;

namespace {

// Folds replayed records into snapshot contents: each user's `keep` most
// recent records by seq, after (and with) the user's latest erasure.
class Folder {
 public:
  explicit Folder(size_t keep) : keep_(std::max<size_t>(keep, 1)) {}

  Wal::ReplayFn Fn() {
    return [this](uint64_t seq, const WalEntry& e) {
      auto& q = users_[e.user_id];
      // An erasure supersedes everything before it but must itself survive:
      // the user's seeded history comes back from the bundle on every start.
      if (e.kind == WalRecordKind::kEraseUser) q.clear();
      q.emplace_back(seq, e);
      // Never drop the erasure that heads the queue (it costs one record).
      if (q.size() > keep_ && q.front().second.kind == WalRecordKind::kEraseUser) {
        if (q.size() > keep_ + 1) q.erase(q.begin() + 1);
        return absl::OkStatus();
      }
      if (q.size() > keep_) q.pop_front();
      return absl::OkStatus();
    };
  }

  // The snapshot file's bytes, covering sequence numbers through `last_seq`.
  std::string Snapshot(uint64_t last_seq, size_t* records) const {
    std::vector<std::pair<uint64_t, const WalEntry*>> kept;
    for (const auto& [user, q] : users_) {
      for (const auto& [seq, e] : q) kept.emplace_back(seq, &e);
    }
    std::sort(kept.begin(), kept.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out(kSnapshotMagic, 8);
    PutU32(&out, kSnapshotVersion);
    PutU32(&out, 0);
    PutU64(&out, last_seq);
    PutU64(&out, kept.size());
    for (const auto& [seq, e] : kept) out += EncodeWalRecord(seq, *e);
    PutU32(&out, Crc32c(out));
    *records = kept.size();
    return out;
  }

  size_t users() const { return users_.size(); }

 private:
  const size_t keep_;
  absl::flat_hash_map<std::string, std::deque<std::pair<uint64_t, WalEntry>>> users_;
};

}  // namespace

Wal::Wal(std::string dir, WalOptions options) : dir_(std::move(dir)), options_(options) {}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(const std::string& dir, const WalOptions& options,
                                               const ReplayFn& replay) {
  std::unique_ptr<Wal> wal(new Wal(dir, options));
  RETURN_IF_ERROR(wal->Recover(replay));
  wal->writer_ = std::thread([w = wal.get()] { w->WriterLoop(); });
  if (options.compact_after_segments > 0) {
    wal->compactor_ = std::thread([w = wal.get()] { w->CompactorLoop(); });
  }
  return wal;
}

absl::Status Wal::Recover(const ReplayFn& replay) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("create state dir ", dir_, ": ", ec.message()));

  const std::string lock_path = dir_ + "/LOCK";
  ASSIGN_OR_RETURN(lock_, FileLock::TryAcquire(lock_path));
  if (!lock_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, " is in use by another process (", lock_path, " is locked)"));
  }

  std::vector<Segment> segments;
  std::vector<std::pair<uint64_t, std::string>> snapshots;
  bool removed = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string path = entry.path().string();
    if (std::optional<uint64_t> seq = ParseNumbered(name, "wal-", ".log")) {
      segments.push_back({*seq, path});
    } else if (std::optional<uint64_t> last = ParseNumbered(name, "snapshot-", ".bin")) {
      snapshots.emplace_back(*last, path);
    } else if (absl::StartsWith(name, "snapshot-") && absl::EndsWith(name, ".tmp")) {
      RETURN_IF_ERROR(RemoveFile(path));  // an interrupted compaction
      removed = true;
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", dir_, ": ", ec.message()));
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });
  std::sort(snapshots.begin(), snapshots.end());

  uint64_t delivered = 0;
  Chain chain;
  std::string snapshot_path;
  if (!snapshots.empty()) {
    snapshot_path = snapshots.back().second;
    ASSIGN_OR_RETURN(const uint64_t last, ReadSnapshot(snapshot_path, replay, &delivered));
    chain.next = last + 1;
    // Superseded snapshots and segments wholly inside the snapshot are left
    // over from a compaction interrupted after its rename.
    for (size_t i = 0; i + 1 < snapshots.size(); ++i) {
      RETURN_IF_ERROR(RemoveFile(snapshots[i].second));
      removed = true;
    }
    size_t obsolete = 0;
    while (obsolete + 1 < segments.size() && segments[obsolete + 1].first_seq <= chain.next) {
      RETURN_IF_ERROR(RemoveFile(segments[obsolete].path));
      ++obsolete;
      removed = true;
    }
    segments.erase(segments.begin(), segments.begin() + static_cast<ptrdiff_t>(obsolete));
  }
  const uint64_t chain_after_snapshot = chain.next - 1;

  // Read everything first (replaying what is intact), then decide.
  std::vector<SegmentSurvey> surveys(segments.size());
  std::vector<uint64_t> sizes(segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    ASSIGN_OR_RETURN(const std::string data, ReadFile(segments[i].path));
    sizes[i] = data.size();
    RETURN_IF_ERROR(SurveySegment(segments[i].path, data, segments[i].first_seq, i == 0, &chain,
                                  replay, &surveys[i]));
  }
  // A torn write: the last damage of the last segment, if it looks cut
  // short (nothing intact follows it). Everything else is corruption.
  std::optional<Damage> torn;
  if (!surveys.empty() && !surveys.back().damage.empty() &&
      surveys.back().damage.back().incomplete) {
    torn = surveys.back().damage.back();
    surveys.back().damage.pop_back();
  }
  // Bytes of the active segment that stay (its intact records).
  segment_size_ = surveys.empty() ? 0 : (torn ? torn->offset : surveys.back().good_end);
  uint64_t corrupt = 0, skipped_bytes = 0, missing = 0;
  size_t fold_end = 0;  // kSkip folds segments [0, fold_end) into a snapshot
  std::string first_corruption;
  for (size_t i = 0; i < surveys.size(); ++i) {
    for (const Damage& d : surveys[i].damage) {
      if (first_corruption.empty()) first_corruption = d.what;
      constexpr uint64_t kMaxLines = 20;  // the rest are counted
      if (corrupt < kMaxLines) {
        LOG(ERROR) << "wal: CORRUPTION (not a torn write): " << d.what;
      }
      ++corrupt;
      skipped_bytes += d.bytes;
      missing += d.missing_seqs;
      // A gap before a segment's first record is mended by a snapshot
      // covering the numbers before it; other damage by folding the segment.
      fold_end = std::max(fold_end, d.before_segment ? i : i + 1);
    }
  }
  if (corrupt > 0 && options_.recovery == WalRecovery::kRefuse) {
    return absl::DataLossError(absl::StrCat(
        first_corruption, " (", corrupt, " damaged place(s) in the log; recovery policy refuse: ",
        "nothing was modified; the skip policy keeps every readable record after copying the "
        "damaged segments aside)"));
  }

  uint64_t truncated = 0, copies = 0;
  uint64_t snapshot_seq = chain_after_snapshot;
  if (corrupt > 0) {
    // Skip: copy the damaged segments aside, then fold the snapshot and the
    // damaged segments (with every one before them) into a new snapshot.
    if (fold_end == surveys.size() && torn.has_value()) {
      surveys.back().damage.push_back(*torn);  // folded too: copied with the segment
      torn.reset();
    }
    for (size_t i = 0; i < fold_end; ++i) {
      if (surveys[i].damage.empty()) continue;
      ASSIGN_OR_RETURN(const std::string copy, CopyAside(segments[i].path, 0));
      ++copies;
      LOG(ERROR) << "wal: damaged segment " << segments[i].path << " copied to " << copy;
    }
    Folder folder(std::numeric_limits<size_t>::max());
    Chain fold_chain;
    uint64_t unused = 0;
    if (!snapshot_path.empty()) {
      ASSIGN_OR_RETURN(const uint64_t last, ReadSnapshot(snapshot_path, folder.Fn(), &unused));
      fold_chain.next = last + 1;
    }
    for (size_t i = 0; i < fold_end; ++i) {
      ASSIGN_OR_RETURN(const std::string data, ReadFile(segments[i].path));
      SegmentSurvey survey;
      RETURN_IF_ERROR(SurveySegment(segments[i].path, data, segments[i].first_seq, i == 0,
                                    &fold_chain, folder.Fn(), &survey));
    }
    uint64_t covered = fold_chain.next - 1;
    if (fold_end < segments.size()) {
      covered = std::max(covered, segments[fold_end].first_seq - 1);
    } else if (fold_end > 0) {
      // The damaged end of the log may have held acknowledged records: burn
      // as many numbers as it could have held, so none is handed out twice.
      const std::vector<Damage>& tail = surveys[fold_end - 1].damage;
      if (!tail.empty() && tail.back().offset + tail.back().bytes == sizes[fold_end - 1] &&
          tail.back().bytes > 0) {
        const uint64_t burn = (tail.back().bytes + kMinRecordBytes - 1) / kMinRecordBytes;
        covered += burn;
        missing += burn;
      }
    }
    size_t records = 0;
    const std::string snap = folder.Snapshot(covered, &records);
    const std::string path = dir_ + "/" + SnapshotName(covered);
    RETURN_IF_ERROR(ReplaceFileDurably(path, snap, path + ".tmp"));
    std::vector<Segment> rest(segments.begin() + static_cast<ptrdiff_t>(fold_end), segments.end());
    if (rest.empty()) {
      // The active segment was folded too (a torn tail of it went with it,
      // into its copy aside): start a new one.
      rest.push_back({covered + 1, dir_ + "/" + WalSegmentName(covered + 1)});
      RETURN_IF_ERROR(OpenForAppend(rest.back().path, CreateMode::kExclusive).status());
      RETURN_IF_ERROR(SyncDirectory(dir_));
      segment_size_ = 0;
      chain.next = covered + 1;
    }
    if (!snapshot_path.empty() && snapshot_path != path) RETURN_IF_ERROR(RemoveFile(snapshot_path));
    for (size_t i = 0; i < fold_end; ++i) RETURN_IF_ERROR(RemoveFile(segments[i].path));
    removed = true;
    LOG(ERROR) << "wal: recovery policy skip: kept every readable record; " << corrupt
               << " damaged place(s), " << skipped_bytes << " bytes skipped (copies aside), "
               << missing << " sequence numbers without a readable record; records through seq "
               << covered << " now in " << path << " (" << records << " records)";
    snapshot_path = path;
    snapshot_seq = covered;
    segments = std::move(rest);
  }
  if (torn.has_value()) {
    const std::string& seg = segments.back().path;
    ASSIGN_OR_RETURN(const std::string copy, CopyAside(seg, torn->offset));
    ++copies;
    truncated = torn->bytes;
    RETURN_IF_ERROR(TruncateFileDurably(seg, torn->offset));
    LOG(WARNING) << "wal: torn write (a crash cut the last record short): " << torn->what << "; "
                 << truncated << " bytes cut off after copying them to " << copy;
  }
  if (removed) RETURN_IF_ERROR(SyncDirectory(dir_));

  if (segments.empty()) {
    segments.push_back({chain.next, dir_ + "/" + WalSegmentName(chain.next)});
    segment_size_ = 0;
  }
  active_path_ = segments.back().path;
  ASSIGN_OR_RETURN(fd_, OpenForAppend(active_path_));
  // Replayed records may be in the page cache only (written, not yet synced,
  // by a process that died): make what was just served durable.
  if (options_.fsync) RETURN_IF_ERROR(DataSyncFd(fd_.get(), active_path_));
  RETURN_IF_ERROR(SyncDirectory(dir_));  // the active segment's entry may be new

  absl::MutexLock lock(&mu_);
  next_seq_ = chain.next;
  durable_seq_ = chain.next - 1;
  segments_ = std::move(segments);
  snapshot_path_ = std::move(snapshot_path);
  stats_.replayed_records = delivered + chain.delivered;
  stats_.truncated_bytes = truncated;
  stats_.corrupt_regions = corrupt;
  stats_.skipped_bytes = skipped_bytes;
  stats_.missing_seqs = missing;
  stats_.damaged_copies = copies;
  stats_.segments = segments_.size();
  stats_.snapshot_seq = snapshot_seq;
  compact_requested_ = options_.compact_after_segments > 0 &&
                       segments_.size() > static_cast<size_t>(options_.compact_after_segments);
  LOG(INFO) << "wal: replayed " << stats_.replayed_records << " records from " << dir_ << " ("
            << segments_.size() << " segments" << (snapshot_path_.empty() ? "" : " + snapshot")
            << "), next seq " << next_seq_;
  return absl::OkStatus();
}

absl::StatusOr<std::string> Wal::CopyAside(const std::string& path, uint64_t from) {
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  data.erase(0, std::min<size_t>(from, data.size()));
  const std::string base =
      from == 0 ? absl::StrCat(path, ".damaged-", absl::ToUnixSeconds(absl::Now()))
                : absl::StrCat(path, ".torn-at-", from, "-", absl::ToUnixSeconds(absl::Now()));
  std::string copy = base;
  std::error_code ec;
  for (int n = 2; std::filesystem::exists(copy, ec); ++n) copy = absl::StrCat(base, "-", n);
  RETURN_IF_ERROR(WriteFileDurably(copy, data));
  RETURN_IF_ERROR(SyncDirectory(dir_));
  return copy;
}

Wal::~Wal() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (compactor_.joinable()) compactor_.join();
  if (writer_.joinable()) writer_.join();
  {
    // Appenders woken by the writer's last batch may still be returning.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &active_appends_));
  }
  fd_.Reset();
  lock_.reset();  // releases the flock
}

bool Wal::WriterHasWork() const { return !pending_.empty() || stopping_; }
bool Wal::CompactorHasWork() const { return compact_requested_ || stopping_; }
bool Wal::AppendDone(WaitArg* a) { return a->wal->durable_seq_ >= a->seq || !a->wal->failed_.ok(); }

absl::StatusOr<uint64_t> Wal::Append(const WalEntry& entry) {
  if (entry.user_id.size() > kMaxWalFieldBytes || entry.item_id.size() > kMaxWalFieldBytes ||
      entry.event.size() > kMaxWalFieldBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("user id, item id and event are limited to ", kMaxWalFieldBytes, " bytes"));
  }
  std::string bytes = EncodeUnsealed(entry);
  absl::MutexLock lock(&mu_);
  if (!failed_.ok()) return failed_;
  if (stopping_) return absl::FailedPreconditionError("the write-ahead log is closing");
  const uint64_t seq = next_seq_++;
  // The sequence number is part of the checksummed payload, and the file
  // order must be seq order: both are settled under the lock.
  SealRecord(&bytes, seq);
  pending_.push_back({seq, std::move(bytes)});
  ++active_appends_;
  WaitArg arg{this, seq};
  mu_.Await(absl::Condition(&Wal::AppendDone, &arg));
  --active_appends_;
  if (durable_seq_ >= seq) return seq;
  return failed_;
}

void Wal::WriterLoop() {
  std::vector<Pending> batch;
  std::string bytes;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Wal::WriterHasWork));
      if (pending_.empty()) return;  // stopping, everything written
      const size_t n = std::min(pending_.size(), std::max<size_t>(options_.max_batch, 1));
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      // After a failure nothing more is written: the waiters see failed_.
      if (!failed_.ok()) continue;
    }
    bytes.clear();
    for (const Pending& p : batch) bytes += p.bytes;
    uint64_t fsync_micros = 0;
    bool rotated = false;
    absl::Status s = [&]() -> absl::Status {
      if (segment_size_ >= options_.segment_bytes && segment_size_ > 0) {
        const std::string path = dir_ + "/" + WalSegmentName(batch.front().seq);
        ASSIGN_OR_RETURN(fd_, OpenForAppend(path, CreateMode::kExclusive));
        active_path_ = path;
        segment_size_ = 0;
        RETURN_IF_ERROR(SyncDirectory(dir_));
        absl::MutexLock lock(&mu_);
        segments_.push_back({batch.front().seq, path});
        stats_.segments = segments_.size();
        rotated = true;
      }
      // On a failed or short write the segment may end in a partial record;
      // the log is poisoned from here, so only recovery will see it (and
      // truncate it).
      RETURN_IF_ERROR(WriteAll(fd_.get(), bytes, active_path_));
      segment_size_ += bytes.size();
      if (options_.fsync) {
        const auto t0 = std::chrono::steady_clock::now();
        RETURN_IF_ERROR(DataSyncFd(fd_.get(), active_path_));
        fsync_micros = MicrosSince(t0);
      }
      return absl::OkStatus();
    }();

    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      LOG(ERROR) << "wal: " << s << "; refusing further appends until restart";
      failed_ = absl::UnavailableError(absl::StrCat("user store log failed: ", s.message()));
      continue;
    }
    durable_seq_ = batch.back().seq;
    stats_.appends += batch.size();
    stats_.group_commits += 1;
    stats_.bytes_written += bytes.size();
    if (options_.fsync) {
      stats_.fsyncs += 1;
      stats_.last_fsync_micros = fsync_micros;
      stats_.total_fsync_micros += fsync_micros;
    }
    if (rotated && options_.compact_after_segments > 0 &&
        segments_.size() > static_cast<size_t>(options_.compact_after_segments)) {
      compact_requested_ = true;
    }
  }
}

void Wal::CompactorLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Wal::CompactorHasWork));
      if (stopping_) return;
      compact_requested_ = false;
    }
    if (absl::Status s = Compact(); !s.ok()) {
      LOG(ERROR) << "wal: compaction failed: " << s;
    }
  }
}

absl::Status Wal::Compact() {
  absl::MutexLock compact_lock(&compact_mu_);
  std::vector<Segment> closed;
  std::string old_snapshot;
  {
    absl::MutexLock lock(&mu_);
    closed.assign(segments_.begin(), segments_.end() - 1);
    old_snapshot = snapshot_path_;
  }
  if (closed.empty()) return absl::OkStatus();

  // Fold: each user's most recent compact_keep_per_user records, by seq.
  Folder folder(options_.compact_keep_per_user);
  const ReplayFn fold = folder.Fn();
  Chain chain;
  uint64_t unused = 0;
  if (!old_snapshot.empty()) {
    ASSIGN_OR_RETURN(const uint64_t last, ReadSnapshot(old_snapshot, fold, &unused));
    chain.next = last + 1;
  }
  for (size_t i = 0; i < closed.size(); ++i) {
    ASSIGN_OR_RETURN(const std::string data, ReadFile(closed[i].path));
    SegmentScan scan;
    RETURN_IF_ERROR(ScanSegment(closed[i].path, data, closed[i].first_seq, i == 0,
                                TailPolicy::kStrict, &chain, fold, &scan));
  }
  const uint64_t last_seq = chain.next - 1;
  size_t records = 0;
  const std::string out = folder.Snapshot(last_seq, &records);

  const std::string path = dir_ + "/" + SnapshotName(last_seq);
  RETURN_IF_ERROR(ReplaceFileDurably(path, out, path + ".tmp"));
  // From here the snapshot is authoritative; a crash before the deletions
  // below leaves files that Open recognizes as superseded and removes.
  {
    absl::MutexLock lock(&mu_);
    snapshot_path_ = path;
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(closed.size()));
    stats_.segments = segments_.size();
    stats_.snapshots_written += 1;
    stats_.snapshot_seq = last_seq;
  }
  if (!old_snapshot.empty()) RETURN_IF_ERROR(RemoveFile(old_snapshot));
  for (const Segment& s : closed) RETURN_IF_ERROR(RemoveFile(s.path));
  RETURN_IF_ERROR(SyncDirectory(dir_));
  LOG(INFO) << "wal: compacted " << closed.size() << " segments into " << path << " ("
            << records << " records for " << folder.users() << " users, through seq " << last_seq
            << ")";
  return absl::OkStatus();
}

WalStats Wal::stats() const {
  absl::MutexLock lock(&mu_);
  WalStats s = stats_;
  s.last_seq = durable_seq_;
  return s;
}

}  // namespace recsys::gateway

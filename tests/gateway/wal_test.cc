#include "gateway/wal.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/io/crc32c.h"
#include "common/io/file.h"
#include "gateway/wal_format.h"
#include "gtest/gtest.h"

namespace recsys::gateway {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wal_test.XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const {
    const std::string p = path_ + "/" + name;
    fs::create_directories(p);
    return p;
  }

 private:
  std::string path_;
};

struct Replayed {
  uint64_t seq;
  WalEntry entry;
};

absl::StatusOr<std::unique_ptr<Wal>> OpenCollect(const std::string& dir, std::vector<Replayed>* out,
                                                 WalOptions options = {}) {
  out->clear();
  return Wal::Open(dir, options, [out](uint64_t seq, const WalEntry& e) {
    out->push_back({seq, e});
    return absl::OkStatus();
  });
}

WalEntry Entry(int i) {
  return WalEntry{absl::StrCat("user-", i % 3), absl::StrCat("item-", i), 1600000000 + i,
                  0.5f * static_cast<float>(i), i % 2 ? "click" : "view"};
}

void ExpectSameEntry(const WalEntry& a, const WalEntry& b) {
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.item_id, b.item_id);
  EXPECT_EQ(a.timestamp_s, b.timestamp_s);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.event, b.event);
}

std::vector<std::string> Files(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Names of the copies aside ("wal-....log.damaged-<time>" of a corrupt
// segment, "wal-....log.torn-at-<offset>-<time>" of a torn tail) in `dir`.
std::vector<std::string> Copies(const std::string& dir, const char* kind = ".damaged-") {
  std::vector<std::string> out;
  for (const std::string& f : Files(dir, "wal-")) {
    if (f.find(kind) != std::string::npos) out.push_back(f);
  }
  return out;
}

// Every file in `dir` with its bytes (LOCK excluded).
std::vector<std::pair<std::string, std::string>> DirContents(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& f : Files(dir, "")) {
    if (f != "LOCK") out.emplace_back(f, *ReadFile(dir + "/" + f));
  }
  return out;
}

WalOptions Skip() {
  WalOptions o;
  o.recovery = WalRecovery::kSkip;
  return o;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  ASSERT_TRUE(WriteFileDurably(path, bytes).ok());
}

// A log of `n` records written by the Wal itself, one batch per record:
// returns the segment's bytes and each record's start offset.
std::string MakeLog(const std::string& dir, int n, std::vector<size_t>* starts) {
  std::vector<Replayed> unused;
  auto wal = OpenCollect(dir, &unused);
  EXPECT_TRUE(wal.ok()) << wal.status();
  const std::string seg = dir + "/" + WalSegmentName(1);
  for (int i = 1; i <= n; ++i) {
    starts->push_back(fs::file_size(seg));
    EXPECT_EQ(*(*wal)->Append(Entry(i)), static_cast<uint64_t>(i));
  }
  wal->reset();
  return *ReadFile(seg);
}

// The on-disk bytes are fixed: segment records and the snapshot equal
// reference encodings computed independently of this code (CRC-32C included).
TEST(WalTest, BytesOnDiskAreFixed) {
  const std::string rec1 = absl::HexStringToBytes(
      "310000008ecbc763010000000000000006000000757365722d31060000006974656d2d3101105e5f0000"
      "00000000003f05000000636c69636b");
  const std::string rec2 = absl::HexStringToBytes(
      "30000000c4f890fc020000000000000006000000757365722d32060000006974656d2d3202105e5f0000"
      "00000000803f0400000076696577");
  const std::string snapshot =
      absl::HexStringToBytes("52535953534e415001000000000000000200000000000000020000000000"
                             "0000") +
      rec1 + rec2 + absl::HexStringToBytes("c5f25729");
  EXPECT_EQ(EncodeWalRecord(1, Entry(1)), rec1);
  EXPECT_EQ(EncodeWalRecord(2, Entry(2)), rec2);

  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 1;  // every batch starts a new segment
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
  EXPECT_EQ(*ReadFile(tmp.path() + "/" + WalSegmentName(1)), rec1);
  EXPECT_EQ(*ReadFile(tmp.path() + "/" + WalSegmentName(2)), rec2);
  ASSERT_TRUE((*wal)->Compact().ok());
  EXPECT_EQ(*ReadFile(tmp.path() + "/snapshot-00000000000000000002.bin"), snapshot);
  EXPECT_EQ(Files(tmp.path(), "wal-"), std::vector<std::string>{WalSegmentName(3)});
}

// Appended records come back from replay in order with every field intact,
// and numbering continues after a reopen.
TEST(WalTest, AppendReplayRoundTrip) {
  TempDir tmp;
  std::vector<Replayed> got;
  std::vector<WalEntry> sent;
  {
    auto wal = OpenCollect(tmp.path(), &got);
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_TRUE(got.empty());
    for (int i = 1; i <= 20; ++i) {
      WalEntry e = Entry(i);
      if (i == 5) e.event = "";
      if (i == 6) e.item_id = std::string(kMaxWalFieldBytes, 'x');
      if (i == 7) e.user_id = "ünïcødé \n\t user";
      if (i == 8) e.timestamp_s = -42;
      sent.push_back(e);
      auto seq = (*wal)->Append(e);
      ASSERT_TRUE(seq.ok()) << seq.status();
      EXPECT_EQ(*seq, static_cast<uint64_t>(i));
    }
    EXPECT_EQ((*wal)->stats().appends, 20u);
    EXPECT_EQ((*wal)->stats().last_seq, 20u);
  }
  {
    auto wal = OpenCollect(tmp.path(), &got);
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].seq, i + 1);
      ExpectSameEntry(got[i].entry, sent[i]);
    }
    EXPECT_EQ((*wal)->stats().replayed_records, 20u);
    EXPECT_EQ((*wal)->stats().truncated_bytes, 0u);
    EXPECT_EQ(*(*wal)->Append(Entry(21)), 21u);
  }
  ASSERT_TRUE(OpenCollect(tmp.path(), &got).ok());
  EXPECT_EQ(got.size(), 21u);
}

// A field over the limit is refused and consumes no sequence number.
TEST(WalTest, OversizedFieldRejected) {
  TempDir tmp;
  std::vector<Replayed> got;
  auto wal = OpenCollect(tmp.path(), &got);
  ASSERT_TRUE(wal.ok());
  WalEntry e = Entry(1);
  e.event = std::string(kMaxWalFieldBytes + 1, 'e');
  EXPECT_EQ((*wal)->Append(e).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*wal)->Append(Entry(1)), 1u);
}

// A crash cut the last record short (at several points inside it): replay
// keeps every complete record, truncates the partial one, and the next append
// takes its place and survives the next replay.
TEST(WalTest, TornTailIsTruncatedAndAppendingContinues) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  const size_t last = starts.back();
  const size_t last_len = pristine.size() - last;
  for (size_t cut : {size_t{1}, size_t{4}, size_t{7}, size_t{8}, size_t{9}, size_t{16},
                     last_len / 2, last_len - 1}) {
    SCOPED_TRACE(absl::StrCat("cut ", cut, " of ", last_len));
    const std::string dir = tmp.Sub(absl::StrCat("cut", cut));
    const std::string seg = dir + "/" + WalSegmentName(1);
    WriteBytes(seg, pristine.substr(0, last + cut));
    std::vector<Replayed> got;
    {
      auto wal = OpenCollect(dir, &got);
      ASSERT_TRUE(wal.ok()) << wal.status();
      ASSERT_EQ(got.size(), 4u);
      EXPECT_EQ(got.back().seq, 4u);
      EXPECT_EQ((*wal)->stats().truncated_bytes, cut);
      EXPECT_EQ((*wal)->stats().corrupt_regions, 0u);
      EXPECT_EQ(fs::file_size(seg), last);
      // The torn bytes were copied aside before the cut.
      const std::vector<std::string> copies = Copies(dir, ".torn-at-");
      ASSERT_EQ(copies.size(), 1u);
      EXPECT_NE(copies[0].find(absl::StrCat(".torn-at-", last, "-")), std::string::npos);
      EXPECT_EQ(*ReadFile(dir + "/" + copies[0]), pristine.substr(last, cut));
      EXPECT_TRUE(Copies(dir).empty());
      WalEntry fresh = Entry(99);
      EXPECT_EQ(*(*wal)->Append(fresh), 5u);
    }
    auto wal = OpenCollect(dir, &got);
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_EQ(got.size(), 5u);
    ExpectSameEntry(got[3].entry, Entry(4));
    ExpectSameEntry(got[4].entry, Entry(99));
    EXPECT_EQ((*wal)->stats().truncated_bytes, 0u);
  }
}

// Zero-filled blocks after the last record (a file extended by a crash
// before its data landed) are a torn tail: copied aside, then cut.
TEST(WalTest, ZeroFilledTailIsTornAndCut) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  const std::string dir = tmp.Sub("zeros");
  WriteBytes(dir + "/" + WalSegmentName(1), pristine + std::string(4096, '\0'));
  std::vector<Replayed> got;
  auto wal = OpenCollect(dir, &got);
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ((*wal)->stats().truncated_bytes, 4096u);
  EXPECT_EQ((*wal)->stats().corrupt_regions, 0u);
  EXPECT_EQ(Copies(dir, ".torn-at-").size(), 1u);
}

// A complete last record whose checksum fails is corruption, not a torn
// write: it may be an acknowledged event. Refuse: DataLoss naming the file
// and offset, nothing modified (no truncation, no copy). Skip: the segment is
// copied aside, the other records are kept, and the damaged record's
// sequence number is never handed out again.
TEST(WalTest, ChecksumFailureInLastCompleteRecordIsCorruption) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  std::string bad = pristine;
  bad[bad.size() - 3] ^= 0x40;
  const std::string dir = tmp.Sub("flip");
  const std::string seg = dir + "/" + WalSegmentName(1);
  WriteBytes(seg, bad);
  std::vector<Replayed> got;
  {
    const auto before = DirContents(dir);
    auto wal = OpenCollect(dir, &got);
    ASSERT_FALSE(wal.ok());
    EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(wal.status().message().find(seg), std::string::npos) << wal.status();
    EXPECT_NE(wal.status().message().find(absl::StrCat("offset ", starts.back())),
              std::string::npos)
        << wal.status();
    EXPECT_NE(wal.status().message().find("checksum mismatch"), std::string::npos);
    EXPECT_EQ(DirContents(dir), before);  // nothing modified, nothing copied
  }
  {
    auto wal = OpenCollect(dir, &got, Skip());
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_EQ(got.size(), 4u);
    for (size_t i = 0; i < 4; ++i) ExpectSameEntry(got[i].entry, Entry(static_cast<int>(i + 1)));
    const WalStats st = (*wal)->stats();
    EXPECT_EQ(st.corrupt_regions, 1u);
    EXPECT_EQ(st.truncated_bytes, 0u);
    EXPECT_EQ(st.skipped_bytes, pristine.size() - starts.back());
    EXPECT_EQ(st.damaged_copies, 1u);
    const std::vector<std::string> copies = Copies(dir);
    ASSERT_EQ(copies.size(), 1u);
    EXPECT_EQ(*ReadFile(dir + "/" + copies[0]), bad);
    const auto seq = (*wal)->Append(Entry(99));
    ASSERT_TRUE(seq.ok());
    EXPECT_GT(*seq, 5u);  // seq 5 was (maybe) acknowledged: never reused
  }
  // The log is clean now: the default policy opens it.
  auto wal = OpenCollect(dir, &got);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(got.size(), 5u);
  ExpectSameEntry(got[3].entry, Entry(4));
  ExpectSameEntry(got[4].entry, Entry(99));
  EXPECT_EQ((*wal)->stats().corrupt_regions, 0u);
}

// Bytes that are not zeros after the last record (garbage, not a cut-short
// write) are corruption too.
TEST(WalTest, TrailingGarbageIsCorruption) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  std::string garbage;
  for (int i = 0; i < 20; ++i) garbage += "GARBAGE!";
  const std::string dir = tmp.Sub("garbage");
  WriteBytes(dir + "/" + WalSegmentName(1), pristine + garbage);
  std::vector<Replayed> got;
  auto refused = OpenCollect(dir, &got);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find(absl::StrCat("offset ", pristine.size())),
            std::string::npos)
      << refused.status();
  EXPECT_TRUE(Copies(dir).empty());
  auto wal = OpenCollect(dir, &got, Skip());
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ((*wal)->stats().corrupt_regions, 1u);
  EXPECT_EQ((*wal)->stats().skipped_bytes, garbage.size());
  EXPECT_EQ(Copies(dir).size(), 1u);
}

// Damage to a record that intact records follow is acknowledged data at
// risk: Open fails with DataLoss naming the file and offset, and leaves the
// file untouched.
TEST(WalTest, CorruptMiddleRecordIsDataLoss) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  struct Case {
    const char* name;
    size_t byte;  // offset of the flipped byte
  };
  for (const Case& c : {Case{"payload", starts[1] + 20}, Case{"length", starts[1] + 1},
                        Case{"crc", starts[1] + 5}}) {
    SCOPED_TRACE(c.name);
    std::string bad = pristine;
    bad[c.byte] ^= 0x5A;
    const std::string dir = tmp.Sub(c.name);
    const std::string seg = dir + "/" + WalSegmentName(1);
    WriteBytes(seg, bad);
    std::vector<Replayed> got;
    auto wal = OpenCollect(dir, &got);
    ASSERT_FALSE(wal.ok());
    EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(wal.status().message().find(seg), std::string::npos) << wal.status();
    EXPECT_NE(wal.status().message().find(absl::StrCat("offset ", starts[1])), std::string::npos)
        << wal.status();
    EXPECT_EQ(*ReadFile(seg), bad);  // not truncated
    EXPECT_TRUE(Copies(dir).empty());
  }
}

// The skip policy keeps the records around a damaged middle record (bit
// flips in payload, length or checksum, or garbage bytes inserted between two
// records), copies the segment aside first, and leaves a clean log.
TEST(WalTest, SkipKeepsRecordsAroundMiddleDamage) {
  TempDir tmp;
  std::vector<size_t> starts;
  const std::string pristine = MakeLog(tmp.Sub("pristine"), 5, &starts);
  struct Case {
    const char* name;
    std::string bytes;
    std::vector<int> kept;  // Entry numbers replayed
  };
  auto flip = [&](size_t byte) {
    std::string bad = pristine;
    bad[byte] ^= 0x5A;
    return bad;
  };
  const std::string garbage =
      pristine.substr(0, starts[2]) + std::string(77, '\x7f') + pristine.substr(starts[2]);
  for (const Case& c : {Case{"payload", flip(starts[1] + 20), {1, 3, 4, 5}},
                        Case{"length", flip(starts[1] + 1), {1, 3, 4, 5}},
                        Case{"crc", flip(starts[1] + 5), {1, 3, 4, 5}},
                        Case{"garbage", garbage, {1, 2, 3, 4, 5}}}) {
    SCOPED_TRACE(c.name);
    const std::string dir = tmp.Sub(c.name);
    WriteBytes(dir + "/" + WalSegmentName(1), c.bytes);
    std::vector<Replayed> got;
    ASSERT_EQ(OpenCollect(dir, &got).status().code(), absl::StatusCode::kDataLoss);
    {
      auto wal = OpenCollect(dir, &got, Skip());
      ASSERT_TRUE(wal.ok()) << wal.status();
      ASSERT_EQ(got.size(), c.kept.size());
      for (size_t i = 0; i < got.size(); ++i) ExpectSameEntry(got[i].entry, Entry(c.kept[i]));
      EXPECT_EQ((*wal)->stats().corrupt_regions, 1u);
      EXPECT_GT((*wal)->stats().skipped_bytes, 0u);
      const std::vector<std::string> copies = Copies(dir);
      ASSERT_EQ(copies.size(), 1u);
      EXPECT_EQ(*ReadFile(dir + "/" + copies[0]), c.bytes);
      EXPECT_EQ(*(*wal)->Append(Entry(6)), 6u);
    }
    auto wal = OpenCollect(dir, &got);  // refuse: the log is clean now
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ(got.size(), c.kept.size() + 1);
    EXPECT_EQ(got.back().seq, 6u);
    EXPECT_EQ(Copies(dir).size(), 1u);  // the copy aside stays
  }
}

// Records with intact checksums but a hole in the sequence are lost
// acknowledged data, not a torn tail.
TEST(WalTest, SequenceGapIsDataLoss) {
  TempDir tmp;
  const std::string seg = tmp.path() + "/" + WalSegmentName(1);
  WriteBytes(seg, EncodeWalRecord(1, Entry(1)) + EncodeWalRecord(2, Entry(2)) +
                      EncodeWalRecord(4, Entry(4)));
  std::vector<Replayed> got;
  auto wal = OpenCollect(tmp.path(), &got);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wal.status().message().find("expected 3"), std::string::npos) << wal.status();

  // Skip keeps all three and never hands out seq 3 or 4 again.
  auto skipped = OpenCollect(tmp.path(), &got, Skip());
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].seq, 4u);
  EXPECT_EQ((*skipped)->stats().missing_seqs, 1u);
  EXPECT_EQ((*skipped)->stats().corrupt_regions, 1u);
  EXPECT_EQ(*(*skipped)->Append(Entry(5)), 5u);
  skipped->reset();
  ASSERT_TRUE(OpenCollect(tmp.path(), &got).ok());
  EXPECT_EQ(got.size(), 4u);
}

// A checksummed record whose seq could never have been appended (0, or so
// large that seq + 1 wraps) is malformed: replay never steps backwards past it.
TEST(WalTest, ImpossibleSeqIsMalformedNotAWrap) {
  for (uint64_t impossible : {uint64_t{0}, ~uint64_t{0}, wal_internal::kMaxWalSeq + 1}) {
    SCOPED_TRACE(impossible);
    TempDir tmp;
    const std::string seg = tmp.path() + "/" + WalSegmentName(1);
    WriteBytes(seg, EncodeWalRecord(1, Entry(1)) + EncodeWalRecord(impossible, Entry(2)) +
                        EncodeWalRecord(2, Entry(3)));
    std::vector<Replayed> got;
    auto wal = OpenCollect(tmp.path(), &got);
    ASSERT_FALSE(wal.ok());
    EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(wal.status().message().find("malformed"), std::string::npos) << wal.status();

    auto skipped = OpenCollect(tmp.path(), &got, Skip());
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 1u);
    EXPECT_EQ(got[1].seq, 2u);
    EXPECT_EQ(*(*skipped)->Append(Entry(4)), 3u);
  }
}

// A last record whose checksum matches but whose payload does not decode was
// written that way (not torn by a crash): DataLoss, not truncation.
TEST(WalTest, MalformedRecordWithValidChecksumIsDataLoss) {
  TempDir tmp;
  std::string bad = EncodeWalRecord(2, Entry(2)) + "!";  // one byte past the event
  const uint32_t len = static_cast<uint32_t>(bad.size() - 8);
  const uint32_t crc = Crc32c(bad.data() + 8, len);
  for (int i = 0; i < 4; ++i) {
    bad[i] = static_cast<char>(len >> (8 * i));
    bad[4 + i] = static_cast<char>(crc >> (8 * i));
  }
  const std::string seg = tmp.path() + "/" + WalSegmentName(1);
  WriteBytes(seg, EncodeWalRecord(1, Entry(1)) + bad);
  std::vector<Replayed> got;
  auto wal = OpenCollect(tmp.path(), &got);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wal.status().message().find("malformed"), std::string::npos) << wal.status();
}

// Small segments rotate; replay walks them in order and numbering continues.
TEST(WalTest, SegmentsRotateAndReplayInOrder) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 300;
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 40; ++i) ASSERT_EQ(*(*wal)->Append(Entry(i)), static_cast<uint64_t>(i));
    EXPECT_GT((*wal)->stats().segments, 5u);
  }
  const std::vector<std::string> segs = Files(tmp.path(), "wal-");
  ASSERT_GT(segs.size(), 5u);
  EXPECT_EQ(segs.front(), WalSegmentName(1));
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(got.size(), 40u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    ExpectSameEntry(got[i].entry, Entry(static_cast<int>(i + 1)));
  }
  EXPECT_EQ(*(*wal)->Append(Entry(41)), 41u);
}

// Only the last segment may end torn: a short earlier segment means records
// that were acknowledged (the next segment exists) are missing.
TEST(WalTest, DamagedEarlierSegmentIsDataLoss) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 300;
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 20; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
  }
  const std::string first = tmp.path() + "/" + Files(tmp.path(), "wal-").front();
  fs::resize_file(first, fs::file_size(first) - 3);
  const std::string cut = *ReadFile(first);
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wal.status().message().find(first), std::string::npos) << wal.status();

  // Skip: every record but the cut one comes back; later segments are kept
  // as they are, and the copy aside holds the damaged segment.
  options.recovery = WalRecovery::kSkip;
  const size_t segments_before = Files(tmp.path(), "wal-").size();
  {
    auto skipped = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    EXPECT_EQ(got.size(), 19u);
    EXPECT_EQ(got.back().seq, 20u);
    EXPECT_EQ(*(*skipped)->Append(Entry(21)), 21u);
  }
  const std::vector<std::string> copies = Copies(tmp.path());
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(*ReadFile(tmp.path() + "/" + copies[0]), cut);
  EXPECT_EQ(Files(tmp.path(), "wal-").size(), segments_before);  // one folded, one copy
  options.recovery = WalRecovery::kRefuse;
  auto clean = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(got.size(), 20u);
}

// A whole segment missing between two others is a gap in the numbers:
// refused by default; skip keeps both neighbours untouched (nothing to copy),
// covers the missing numbers with a snapshot, and the log is clean after.
TEST(WalTest, MissingSegmentIsCorruptionSkipBridgesTheGap) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 300;
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 20; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
  }
  const std::vector<std::string> segs = Files(tmp.path(), "wal-");
  ASSERT_GE(segs.size(), 3u);
  fs::remove(tmp.path() + "/" + segs[1]);
  auto refused = OpenCollect(tmp.path(), &got, options);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("missing records"), std::string::npos)
      << refused.status();

  options.recovery = WalRecovery::kSkip;
  size_t kept = 0;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    kept = got.size();
    EXPECT_LT(kept, 20u);
    EXPECT_EQ(got.back().seq, 20u);
    EXPECT_EQ((*wal)->stats().missing_seqs, 20u - kept);
    EXPECT_EQ((*wal)->stats().damaged_copies, 0u);
    EXPECT_EQ(*(*wal)->Append(Entry(21)), 21u);
  }
  EXPECT_TRUE(Copies(tmp.path()).empty());
  EXPECT_EQ(Files(tmp.path(), "snapshot-").size(), 1u);
  options.recovery = WalRecovery::kRefuse;
  auto clean = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(got.size(), kept + 1);
  for (size_t i = 0; i < got.size(); ++i) {
    ExpectSameEntry(got[i].entry, Entry(static_cast<int>(got[i].seq)));
  }
}

// Skip after a compaction: the old snapshot's records and the readable ones
// of the damaged active segment end up in one new snapshot; the old one goes.
TEST(WalTest, SkipFoldsThePreviousSnapshotToo) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 300;
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  std::string active;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 15; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
    ASSERT_TRUE((*wal)->Compact().ok());
    for (int i = 16; i <= 17; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
  }
  const std::string old_snapshot = Files(tmp.path(), "snapshot-").front();
  const std::vector<std::string> segs = Files(tmp.path(), "wal-");
  ASSERT_EQ(segs.size(), 1u);
  const std::string seg = tmp.path() + "/" + segs[0];
  std::string bytes = *ReadFile(seg);
  ASSERT_GT(bytes.size(), 60u);
  bytes[20] ^= 0x10;  // the active segment's first record
  WriteBytes(seg, bytes);
  ASSERT_EQ(OpenCollect(tmp.path(), &got, options).status().code(),
            absl::StatusCode::kDataLoss);
  options.recovery = WalRecovery::kSkip;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_GE(got.size(), 2u);
    EXPECT_EQ(got.back().seq, 17u);
    const auto seq = (*wal)->Append(Entry(18));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 18u);
  }
  const std::vector<std::string> snaps = Files(tmp.path(), "snapshot-");
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_NE(snaps[0], old_snapshot);
  options.recovery = WalRecovery::kRefuse;
  const size_t before = got.size();
  auto clean = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(got.size(), before + 1);
  EXPECT_EQ(got.back().seq, 18u);
}

// Two logs on one directory would interleave records: the second is refused.
TEST(WalTest, SecondOpenOfSameDirectoryIsRefused) {
  TempDir tmp;
  std::vector<Replayed> a, b;
  auto first = OpenCollect(tmp.path(), &a);
  ASSERT_TRUE(first.ok());
  auto second = OpenCollect(tmp.path(), &b);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(OpenCollect(tmp.path(), &b).ok());
}

// 16 threads × 200 appends: every sequence number is unique, all are
// replayed, and group commit makes fsyncs far fewer than appends.
TEST(WalTest, GroupCommitSharesFsyncsAcrossConcurrentAppends) {
  TempDir tmp;
  constexpr int kThreads = 16, kPerThread = 200;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  WalStats stats;
  {
    std::vector<Replayed> unused;
    auto wal = OpenCollect(tmp.path(), &unused);
    ASSERT_TRUE(wal.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          WalEntry e{absl::StrCat("u", t), absl::StrCat(t, "-", i), i, 1.0f, "click"};
          auto seq = (*wal)->Append(e);
          ASSERT_TRUE(seq.ok()) << seq.status();
          seqs[t].push_back(*seq);
        }
      });
    }
    for (auto& th : threads) th.join();
    stats = (*wal)->stats();
  }
  std::set<uint64_t> all;
  for (const auto& v : seqs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.appends, uint64_t{kThreads * kPerThread});
  EXPECT_LT(stats.fsyncs, stats.appends);
  std::cout << "[ group commit ] " << stats.appends << " appends, " << stats.fsyncs << " fsyncs ("
            << static_cast<double>(stats.appends) / stats.fsyncs
            << " appends per fsync), mean fsync "
            << stats.total_fsync_micros / std::max<uint64_t>(stats.fsyncs, 1) << " us\n";

  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(tmp.path(), &got).ok());
  ASSERT_EQ(got.size(), all.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].seq, i + 1);
    // The record with this seq is the one its thread was told about.
    const int t = std::stoi(got[i].entry.user_id.substr(1));
    const int k = std::stoi(got[i].entry.item_id.substr(got[i].entry.item_id.find('-') + 1));
    EXPECT_EQ(seqs[t][k], got[i].seq);
  }
}

// Compaction folds closed segments into a snapshot keeping each user's most
// recent events; replay = snapshot + later segments, numbering continues.
TEST(WalTest, CompactionKeepsMostRecentPerUser) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 400;
  options.compact_after_segments = 0;  // explicit Compact only
  options.compact_keep_per_user = 3;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 60; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
    ASSERT_TRUE((*wal)->Compact().ok());
    const WalStats s = (*wal)->stats();
    EXPECT_EQ(s.snapshots_written, 1u);
    EXPECT_EQ(s.segments, 1u);
    EXPECT_GT(s.snapshot_seq, 50u);
    EXPECT_EQ(*(*wal)->Append(Entry(61)), 61u);
  }
  EXPECT_EQ(Files(tmp.path(), "snapshot-").size(), 1u);
  EXPECT_EQ(Files(tmp.path(), "wal-").size(), 1u);
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  const uint64_t snap = (*wal)->stats().snapshot_seq;
  // Snapshot: 3 per user (3 users); then every record after it, in order.
  std::vector<uint64_t> want;
  for (uint64_t s = snap - 8; s <= snap; ++s) want.push_back(s);
  for (uint64_t s = snap + 1; s <= 61; ++s) want.push_back(s);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, want[i]);
    ExpectSameEntry(got[i].entry, Entry(static_cast<int>(got[i].seq)));
  }
  EXPECT_EQ(*(*wal)->Append(Entry(62)), 62u);
}

// A compaction interrupted after its rename (old segments and a temp file
// still present) recovers to the same state and cleans up.
TEST(WalTest, InterruptedCompactionRecovers) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 400;
  options.compact_after_segments = 0;
  options.compact_keep_per_user = 1000;
  const std::string saved = tmp.Sub("saved");
  const std::string dir = tmp.Sub("state");
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(dir, &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 30; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
    for (const std::string& f : Files(dir, "wal-")) fs::copy_file(dir + "/" + f, saved + "/" + f);
    ASSERT_TRUE((*wal)->Compact().ok());
  }
  for (const std::string& f : Files(saved, "wal-")) {
    fs::copy_file(saved + "/" + f, dir + "/" + f, fs::copy_options::skip_existing);
  }
  WriteBytes(dir + "/snapshot-00000000000000000099.bin.tmp", "half-written");
  auto wal = OpenCollect(dir, &got, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(got.size(), 30u);  // keep_per_user is large: nothing was dropped
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq, i + 1);
  EXPECT_EQ(Files(dir, "wal-").size(), 1u);
  EXPECT_TRUE(Files(dir, "snapshot-00000000000000000099").empty());
  EXPECT_EQ(*(*wal)->Append(Entry(31)), 31u);
}

// A damaged snapshot is never skipped silently.
TEST(WalTest, CorruptSnapshotIsDataLoss) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 400;
  options.compact_after_segments = 0;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 30; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
    ASSERT_TRUE((*wal)->Compact().ok());
  }
  const std::string snap = tmp.path() + "/" + Files(tmp.path(), "snapshot-").front();
  std::string bytes = *ReadFile(snap);
  bytes[bytes.size() / 2] ^= 1;
  WriteBytes(snap, bytes);
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wal.status().message().find(snap), std::string::npos) << wal.status();
}

// Automatic compaction runs in the background once enough segments closed,
// without disturbing concurrent appends.
TEST(WalTest, AutomaticCompactionDuringAppends) {
  TempDir tmp;
  WalOptions options;
  options.segment_bytes = 256;
  options.compact_after_segments = 2;
  options.compact_keep_per_user = 1000000;
  options.fsync = false;
  std::vector<Replayed> got;
  {
    auto wal = OpenCollect(tmp.path(), &got, options);
    ASSERT_TRUE(wal.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 150; ++i) ASSERT_TRUE((*wal)->Append(Entry(i)).ok());
      });
    }
    for (auto& th : threads) th.join();
    // Deterministic end state: fold whatever is still closed.
    ASSERT_TRUE((*wal)->Compact().ok());
    EXPECT_GE((*wal)->stats().snapshots_written, 1u);
  }
  auto wal = OpenCollect(tmp.path(), &got, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(got.size(), 600u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq, i + 1);
}

}  // namespace
}  // namespace recsys::gateway

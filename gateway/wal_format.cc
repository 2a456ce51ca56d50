#include "gateway/wal_format.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/io/crc32c.h"
#include "common/io/file.h"
#include "common/io/file_lock.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys::gateway {
namespace wal_internal {

constexpr size_t kHeaderBytes = 8;  // u32 length + u32 CRC
// seq + 3 length prefixes + timestamp + weight.
constexpr size_t kMinPayload = 8 + 4 + 4 + 8 + 4 + 4;
constexpr size_t kMaxPayload = kMinPayload + 4 + 3 * kMaxWalFieldBytes;  // + kind

constexpr size_t kSnapshotHeaderBytes = 8 + 4 + 4 + 8 + 8;

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}
void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}
void PutString(std::string* out, absl::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}
void StoreU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void StoreU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Sequential reader over a payload; every getter fails past the end.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() - pos_ < 4) return false;
    *v = LoadU32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    *v = LoadU64(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool String(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || n > kMaxWalFieldBytes || data_.size() - pos_ < n) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

bool DecodePayload(absl::string_view payload, uint64_t* seq, WalEntry* e) {
  Reader r(payload);
  uint64_t ts = 0;
  uint32_t weight_bits = 0;
  if (!r.U64(seq) || !r.String(&e->user_id) || !r.String(&e->item_id) || !r.U64(&ts) ||
      !r.U32(&weight_bits) || !r.String(&e->event)) {
    return false;
  }
  // Sequence numbers start at 1 and grow by one per append: 0 or a number
  // near the top of the range (where seq + 1 would wrap) was never written.
  if (*seq == 0 || *seq > kMaxWalSeq) return false;
  e->kind = WalRecordKind::kEvent;
  if (!r.AtEnd()) {
    uint32_t kind = 0;
    // An explicit kind is never kEvent (events are written without one).
    if (!r.U32(&kind) || !r.AtEnd() || kind != static_cast<uint32_t>(WalRecordKind::kEraseUser)) {
      return false;
    }
    e->kind = WalRecordKind::kEraseUser;
  }
  e->timestamp_s = static_cast<int64_t>(ts);
  std::memcpy(&e->weight, &weight_bits, 4);
  return true;
}

struct Parsed {
  uint64_t seq = 0;
  WalEntry entry;
  size_t size = 0;          // framed bytes
  bool malformed = false;   // intact checksum, undecodable payload
  bool incomplete = false;  // short header or length past the end: cut short
};

// Parses the record framed at data[off]. On failure returns why.
std::optional<std::string> ParseRecordAt(absl::string_view data, size_t off, Parsed* out) {
  const size_t rest = data.size() - off;
  out->malformed = false;
  out->incomplete = false;
  if (rest < kHeaderBytes) {
    out->incomplete = true;
    return absl::StrCat("short record header (", rest, " bytes)");
  }
  const uint32_t len = LoadU32(data.data() + off);
  const uint32_t crc = LoadU32(data.data() + off + 4);
  if (len < kMinPayload || len > kMaxPayload) return absl::StrCat("implausible length ", len);
  if (len > rest - kHeaderBytes) {
    out->incomplete = true;
    return absl::StrCat("length ", len, " runs past the end of the file (", rest - kHeaderBytes,
                        " bytes left)");
  }
  const absl::string_view payload = data.substr(off + kHeaderBytes, len);
  if (Crc32c(payload) != crc) return std::string("checksum mismatch of a complete record");
  out->malformed = !DecodePayload(payload, &out->seq, &out->entry);
  if (out->malformed) return std::string("malformed payload (checksum matches)");
  out->size = kHeaderBytes + len;
  return std::nullopt;
}

// Offset of the first intact record starting in data[from, end), if any.
std::optional<size_t> FindIntactRecord(absl::string_view data, size_t from, Parsed* found) {
  for (size_t p = from; p + kHeaderBytes + kMinPayload <= data.size(); ++p) {
    const uint32_t len = LoadU32(data.data() + p);
    if (len < kMinPayload || len > kMaxPayload || len > data.size() - p - kHeaderBytes) continue;
    if (!ParseRecordAt(data, p, found).has_value()) return p;
  }
  return std::nullopt;
}

bool AllZero(absl::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

absl::Status SurveySegment(const std::string& path, absl::string_view data, uint64_t first_seq,
                           bool first_in_chain, Chain* chain, const Wal::ReplayFn& fn,
                           SegmentSurvey* survey) {
  if (first_seq > chain->next) {
    Damage gap;
    gap.missing_seqs = first_seq - chain->next;
    gap.before_segment = true;
    gap.what = absl::StrCat(path, ": segment starts at seq ", first_seq,
                            " but the log so far ends at seq ", chain->next - 1,
                            " (missing records)");
    survey->damage.push_back(std::move(gap));
  } else if (!first_in_chain && first_seq < chain->next) {
    Damage overlap;
    overlap.what = absl::StrCat(path, ": segment starts at seq ", first_seq,
                                " but the log so far ends at seq ", chain->next - 1,
                                " (overlapping segments)");
    survey->damage.push_back(std::move(overlap));
  }
  uint64_t expect = first_seq;
  size_t off = 0;
  bool after_damage = false;  // the previous bytes were rejected
  Parsed rec;
  while (off < data.size()) {
    if (std::optional<std::string> why = ParseRecordAt(data, off, &rec)) {
      Parsed later;
      const std::optional<size_t> intact = FindIntactRecord(data, off + 1, &later);
      Damage d;
      d.offset = off;
      d.bytes = intact.value_or(data.size()) - off;
      // A malformed payload under a matching checksum was written that way.
      d.incomplete = !intact.has_value() && !rec.malformed &&
                     (rec.incomplete || AllZero(data.substr(off)));
      d.what = absl::StrCat(
          path, ": ", d.incomplete ? "incomplete" : "corrupt", " record at offset ", off, ": ",
          *why,
          intact.has_value()
              ? absl::StrCat("; an intact record (seq ", later.seq, ") follows at offset ", *intact)
              : absl::StrCat("; ", data.size() - off, " bytes to the end of the file"));
      survey->damage.push_back(std::move(d));
      off = intact.value_or(data.size());
      after_damage = true;
      continue;
    }
    if (after_damage && rec.seq > expect) {
      // The numbers the damaged bytes held: part of that damage, not a gap.
      survey->damage.back().missing_seqs += rec.seq - expect;
      expect = rec.seq;
    }
    after_damage = false;
    if (rec.seq != expect) {
      Damage d;
      d.offset = off;
      d.what = absl::StrCat(path, ": record at offset ", off, " has seq ", rec.seq, ", expected ",
                            expect);
      if (rec.seq < expect) {  // a repeat or a step back: the record is skipped
        d.bytes = rec.size;
        survey->damage.push_back(std::move(d));
        off += rec.size;
        continue;
      }
      d.missing_seqs = rec.seq - expect;
      survey->damage.push_back(std::move(d));
      expect = rec.seq;
    }
    ++expect;
    if (rec.seq >= chain->next) {
      RETURN_IF_ERROR(fn(rec.seq, rec.entry));
      chain->next = rec.seq + 1;
      ++chain->delivered;
    }
    off += rec.size;
    survey->good_end = off;
    survey->last_seq = rec.seq;
  }
  if (expect < chain->next && survey->damage.empty()) {
    Damage d;
    d.offset = off;
    d.what = absl::StrCat(path, ": segment ends at seq ", expect - 1,
                          " but the snapshot covers through seq ", chain->next - 1);
    survey->damage.push_back(std::move(d));
  }
  return absl::OkStatus();
}

absl::Status ScanSegment(const std::string& path, absl::string_view data, uint64_t first_seq,
                         bool first_in_chain, TailPolicy tail, Chain* chain,
                         const Wal::ReplayFn& fn, SegmentScan* scan) {
  SegmentSurvey survey;
  RETURN_IF_ERROR(SurveySegment(path, data, first_seq, first_in_chain, chain, fn, &survey));
  scan->good_end = survey.good_end;
  if (survey.damage.empty()) return absl::OkStatus();
  const Damage& first = survey.damage.front();
  if (tail == TailPolicy::kMayBeTorn && survey.damage.size() == 1 && first.incomplete) {
    scan->good_end = first.offset;
    scan->damage = first.what;
    return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat(first.what, " - refusing to drop acknowledged data"));
}

// Replays a snapshot (strict: any damage is DataLoss). Returns its last seq.
absl::StatusOr<uint64_t> ReadSnapshot(const std::string& path, const Wal::ReplayFn& fn,
                                      uint64_t* delivered) {
  ASSIGN_OR_RETURN(const std::string data, ReadFile(path));
  return ScanSnapshot(path, data, fn, delivered);
}

absl::StatusOr<uint64_t> ScanSnapshot(const std::string& path, absl::string_view data,
                                      const Wal::ReplayFn& fn, uint64_t* delivered) {
  auto bad = [&path](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": ", why));
  };
  if (data.size() < kSnapshotHeaderBytes + 4) return bad("truncated snapshot");
  if (std::memcmp(data.data(), kSnapshotMagic, 8) != 0) return bad("not a snapshot (bad magic)");
  if (LoadU32(data.data() + 8) != kSnapshotVersion) {
    return bad(absl::StrCat("unsupported snapshot version ", LoadU32(data.data() + 8)));
  }
  const uint32_t want_crc = LoadU32(data.data() + data.size() - 4);
  if (Crc32c(data.data(), data.size() - 4) != want_crc) return bad("snapshot checksum mismatch");
  const uint64_t last_seq = LoadU64(data.data() + 16);
  const uint64_t count = LoadU64(data.data() + 24);
  if (last_seq > kMaxWalSeq) return bad(absl::StrCat("implausible last seq ", last_seq));
  const absl::string_view body(data.data(), data.size() - 4);
  size_t off = kSnapshotHeaderBytes;
  uint64_t prev = 0;
  Parsed rec;
  for (uint64_t i = 0; i < count; ++i) {
    if (off >= body.size()) return bad(absl::StrCat("only ", i, " of ", count, " records"));
    if (std::optional<std::string> why = ParseRecordAt(body, off, &rec)) {
      return bad(absl::StrCat("record at offset ", off, ": ", *why));
    }
    if (rec.seq <= prev || rec.seq > last_seq) {
      return bad(absl::StrCat("record at offset ", off, " has seq ", rec.seq, " out of order"));
    }
    prev = rec.seq;
    RETURN_IF_ERROR(fn(rec.seq, rec.entry));
    ++*delivered;
    off += rec.size;
  }
  if (off != body.size()) return bad(absl::StrCat(body.size() - off, " trailing bytes"));
  return last_seq;
}

// Parses "<prefix><digits><suffix>".
std::optional<uint64_t> ParseNumbered(absl::string_view name, absl::string_view prefix,
                                      absl::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || !absl::StartsWith(name, prefix) ||
      !absl::EndsWith(name, suffix)) {
    return std::nullopt;
  }
  absl::string_view digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t v = 0;
  if (!absl::SimpleAtoi(digits, &v)) return std::nullopt;
  return v;
}

std::string SnapshotName(uint64_t last_seq) {
  return absl::StrFormat("snapshot-%020d.bin", last_seq);
}

uint64_t MicrosSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

// Writes seq into a framed record and (re)computes its length and checksum.
void SealRecord(std::string* rec, uint64_t seq) {
  const size_t len = rec->size() - kHeaderBytes;
  StoreU64(rec->data() + kHeaderBytes, seq);
  StoreU32(rec->data(), static_cast<uint32_t>(len));
  StoreU32(rec->data() + 4, Crc32c(rec->data() + kHeaderBytes, len));
}

// The record with seq and checksum left for SealRecord.
std::string EncodeUnsealed(const WalEntry& e) {
  std::string out;
  out.reserve(kHeaderBytes + kMinPayload + e.user_id.size() + e.item_id.size() + e.event.size());
  out.append(kHeaderBytes, '\0');
  PutU64(&out, 0);  // seq
  PutString(&out, e.user_id);
  PutString(&out, e.item_id);
  PutU64(&out, static_cast<uint64_t>(e.timestamp_s));
  uint32_t weight_bits = 0;
  std::memcpy(&weight_bits, &e.weight, 4);
  PutU32(&out, weight_bits);
  PutString(&out, e.event);
  if (e.kind != WalRecordKind::kEvent) PutU32(&out, static_cast<uint32_t>(e.kind));
  return out;
}

}  // namespace wal_internal

using wal_internal::EncodeUnsealed;
using wal_internal::SealRecord;

std::string WalSegmentName(uint64_t first_seq) {
  return absl::StrFormat("wal-%020d.log", first_seq);
}

std::string EncodeWalRecord(uint64_t seq, const WalEntry& e) {
  std::string out = EncodeUnsealed(e);
  SealRecord(&out, seq);
  return out;
}

}  // namespace recsys::gateway

// Fuzzes the gateway's write-ahead log decoding (gateway/wal_format.h).
// The first input byte picks a mode (low 2 bits) and the scan's options; the
// rest is:
//   mode 0: a raw segment, scanned from seq 1 (or a snapshot-covered seq),
//           strict or with a tail that may be torn;
//   mode 1: a raw snapshot file;
//   mode 2: payloads separated by '\n' + "\xff", each framed with a correct
//           length and CRC-32C into a segment - so the fuzzer reaches the
//           payload decoder behind the checksum;
//   mode 3: the same payloads framed into a snapshot with a correct header
//           and checksum.
// Invariants: every replayed record re-encodes (EncodeWalRecord) to the very
// bytes it was read from; a strict scan never reports torn-tail damage; the
// good prefix of a torn scan ends on a record boundary inside the data.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/io/crc32c.h"
#include "fuzz/fuzz_support.h"
#include "gateway/wal.h"
// Internal to the WAL; the fuzzer drives its decoder directly.
#include "gateway/wal_format.h"

namespace {

namespace wi = recsys::gateway::wal_internal;
using recsys::fuzz::Check;
using recsys::gateway::EncodeWalRecord;
using recsys::gateway::Wal;
using recsys::gateway::WalEntry;

// Frames each payload as a record: u32 length | u32 CRC-32C | payload.
std::string Frame(const std::vector<absl::string_view>& payloads) {
  std::string out;
  for (absl::string_view p : payloads) {
    wi::PutU32(&out, static_cast<uint32_t>(p.size()));
    wi::PutU32(&out, recsys::Crc32c(p));
    out.append(p.data(), p.size());
  }
  return out;
}

std::vector<absl::string_view> Payloads(absl::string_view rest) {
  std::vector<absl::string_view> parts;
  for (;;) {
    const size_t at = rest.find("\n\xff");
    if (at == absl::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + 2);
  }
  parts.push_back(rest);
  return parts;
}

// A replay callback that checks each record against the bytes of `data`: a
// replayed record re-encodes to bytes found at or after the end of the
// previous one (contiguous in an intact segment; recovery may step over
// damaged bytes and resynchronize at the next intact record), or at least
// somewhere in the segment.
struct Replayer {
  absl::string_view data;
  size_t off = 0;
  uint64_t last_seq = 0;
  bool in_order = true;

  Wal::ReplayFn Fn() {
    return [this](uint64_t seq, const WalEntry& e) -> absl::Status {
      in_order &= seq > last_seq;
      last_seq = seq;
      const std::string again = EncodeWalRecord(seq, e);
      // (The start offset is a guess when records before chain.next were
      // skipped over damage: fall back to the whole segment.)
      size_t at = off <= data.size() ? data.find(again, off) : absl::string_view::npos;
      if (at == absl::string_view::npos) at = data.find(again);
      Check(at != absl::string_view::npos,
            absl::StrCat("record seq ", seq, " after offset ", off,
                         " re-encodes to bytes not in the segment"));
      off = at + again.size();
      return absl::OkStatus();
    };
  }
};

void FuzzSegment(absl::string_view segment, uint8_t flags) {
  const bool strict = (flags & 4) != 0;
  // A snapshot may already cover the first records of the first segment.
  wi::Chain chain;
  chain.next = 1 + ((flags >> 3) & 3);
  Replayer r{segment};
  // Records below chain.next are scanned but not delivered: the replayer
  // then starts at the first delivered one, found by skipping framed sizes.
  size_t skip = 0;
  for (uint64_t s = 1; s < chain.next && skip + 4 <= segment.size(); ++s) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) {
      len |= static_cast<uint32_t>(static_cast<unsigned char>(segment[skip + i])) << (8 * i);
    }
    skip += 8 + static_cast<size_t>(len);
  }
  r.off = skip;
  wi::SegmentScan scan;
  const absl::Status status =
      wi::ScanSegment("fuzz.log", segment, 1, /*first_in_chain=*/true,
                      strict ? wi::TailPolicy::kStrict : wi::TailPolicy::kMayBeTorn, &chain,
                      r.Fn(), &scan);
  Check(r.in_order, "records replayed in sequence order");
  Check(scan.good_end <= segment.size(), "good_end inside the segment");
  if (status.ok()) {
    Check(!strict || scan.damage.empty(), "a strict scan reports no torn tail");
    Check(scan.damage.empty() == (scan.good_end == segment.size()),
          "damage iff the good prefix stops short of the end");
    if (chain.delivered > 0) Check(r.off == scan.good_end, "delivered records end at good_end");
  } else {
    Check(absl::IsDataLoss(status), absl::StrCat("segment error is DataLoss: ", status.ToString()));
  }
}

void FuzzSnapshot(absl::string_view snapshot) {
  Replayer r{snapshot, 32};  // records follow the 32-byte header
  uint64_t delivered = 0;
  auto last = wi::ScanSnapshot("fuzz.bin", snapshot, r.Fn(), &delivered);
  Check(r.in_order, "snapshot records replayed in sequence order");
  if (last.ok()) {
    Check(r.last_seq <= *last, "no record after the snapshot's last seq");
    Check(r.off + 4 == snapshot.size(), "records fill the snapshot up to its checksum");
  } else {
    Check(absl::IsDataLoss(last.status()),
          absl::StrCat("snapshot error is DataLoss: ", last.status().ToString()));
  }
}

std::string SnapshotOf(const std::vector<absl::string_view>& payloads, uint8_t flags) {
  std::string out(wi::kSnapshotMagic, 8);
  wi::PutU32(&out, wi::kSnapshotVersion);
  wi::PutU32(&out, 0);
  // Last seq: the payload count, or one more / one less to test the bounds.
  const uint64_t n = payloads.size();
  wi::PutU64(&out, n + ((flags >> 3) & 3) - 1);
  wi::PutU64(&out, (flags & 0x20) != 0 ? n + 1 : n);
  out += Frame(payloads);
  wi::PutU32(&out, recsys::Crc32c(out));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const absl::string_view rest = recsys::fuzz::AsView(data + 1, size - 1);
  switch (flags & 3) {
    case 0:
      FuzzSegment(rest, flags);
      break;
    case 1:
      FuzzSnapshot(rest);
      break;
    case 2:
      FuzzSegment(Frame(Payloads(rest)), flags);
      break;
    case 3:
      FuzzSnapshot(SnapshotOf(Payloads(rest), flags));
      break;
  }
  return 0;
}

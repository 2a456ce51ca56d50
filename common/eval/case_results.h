// Per-case evaluation results: for every leaderboard row, the recall@k and
// NDCG@k of each evaluated case, with a stable key per case, so that two
// bundles' results can be compared case by case (paired_comparison.h).
//
// Saved in a bundle as `leaderboard.cases` (kCaseResultsFileName), listed and
// hashed by the manifest like every other bundle file; bundles written before
// it existed have none, and readers treat its absence as "no per-case
// results", not as an error.
//
// File format, version 1, little-endian, read whole into the heap (a few MB:
// evaluation samples at most ~10,000 users per split, so a split of N cases
// with C rows costs 8 N + 8 C N bytes; 2 splits × 10,000 cases × 12 rows ≈
// 2 MB):
//   bytes 0..7    magic "RSYSCASE"
//   u32           format version (kCaseResultsFormatVersion)
//   u32           number of sections S (one per split), 1..kMaxCaseSections
//   u64           payload size in bytes: the rest of the file after this
//                 32-byte header
//   u32           CRC-32C (common/io/crc32c.h) of header bytes 0..23 followed
//                 by the payload
//   u32           reserved, 0
//   payload       S sections, each:
//     u32           split name length L (1..kMaxCaseNameBytes), then L bytes
//     u32           number of rows C (0..kMaxCaseColumns)
//     u64           number of cases N
//     u64 × N       case keys (CaseKey), distinct
//     C × row:
//       u32           model name length (1..kMaxCaseNameBytes), then its bytes
//       i32           k (1..1,000,000)
//       f32 × N       recall@k of each case, in key order
//       f32 × N       NDCG@k of each case, in key order
// Values are finite and in [0, 1]. Nothing follows the last section.
//
// Readers check, in order: the file holds a whole header; the magic; the
// version (0 is DataLoss, a newer one FailedPrecondition); that the payload
// size equals the rest of the file (truncated or padded files are refused);
// the CRC; the reserved word and section count; then every count against the
// bytes left before anything is sized from it; distinct keys; finite values
// in [0, 1]; (split, model, k) unique. Every error names the file. Writers
// validate the same rules before writing a byte.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys {

inline constexpr char kCaseResultsFileName[] = "leaderboard.cases";
inline constexpr uint32_t kCaseResultsFormatVersion = 1;
inline constexpr size_t kCaseResultsHeaderBytes = 32;
inline constexpr uint32_t kMaxCaseSections = 64;
inline constexpr uint32_t kMaxCaseColumns = 1024;
inline constexpr uint32_t kMaxCaseNameBytes = 256;

// The stable key of an evaluation case: a 64-bit hash of the external user
// id, the target item's external id and the target's timestamp (FNV-1a over
// "user\0item\0<decimal seconds>", then the SplitMix64 finaliser to spread the
// bits). The same on every build and platform, so two bundles evaluated on
// the same held-out events share keys whatever their internal indices; a
// different target (new data, another split) gives another key.
uint64_t CaseKey(absl::string_view user, absl::string_view item, int64_t timestamp_s);

// One leaderboard row's per-case values (indexed like its section's keys).
struct CaseColumn {
  std::string model;
  int32_t k = 10;
  std::vector<float> recall;
  std::vector<float> ndcg;
};

// The cases of one split and every row evaluated over them.
struct CaseSection {
  std::string split;
  std::vector<uint64_t> keys;
  std::vector<CaseColumn> columns;
};

// A view of one row's cases: keys[i] has recall[i] and ndcg[i]. Valid while
// the CaseResults it came from lives and is not modified.
struct CaseRowView {
  std::span<const uint64_t> keys;
  std::span<const float> recall;
  std::span<const float> ndcg;
  size_t size() const { return keys.size(); }
};

struct CaseResults {
  std::vector<CaseSection> sections;
  // The row (split, model, k), if present.
  std::optional<CaseRowView> Find(absl::string_view split, absl::string_view model, int k) const;
};

// Checks the format's rules (see above) without writing; InvalidArgument
// naming the offending section, row or case.
absl::Status ValidateCaseResults(const CaseResults& results);
// The file's bytes, or ValidateCaseResults' error.
absl::StatusOr<std::string> SerializeCaseResults(const CaseResults& results);
// Parses a file's bytes; DataLoss (FailedPrecondition for a newer version)
// naming `where`.
absl::StatusOr<CaseResults> ParseCaseResults(absl::string_view bytes, const std::string& where);

// Writes `path` durably (created or truncated, fsynced: WriteFileDurably).
absl::Status WriteCaseResults(const std::string& path, const CaseResults& results);
// Reads and parses `path`; NotFound if it cannot be opened.
absl::StatusOr<CaseResults> ReadCaseResults(const std::string& path);

}  // namespace recsys

#include "common/eval/case_results.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/io/crc32c.h"
#include "common/io/file.h"
#include "common/status.h"

namespace recsys {
namespace {

static_assert(std::endian::native == std::endian::little,
              "case result files are little-endian; add byte swapping for this host");

constexpr char kMagic[8] = {'R', 'S', 'Y', 'S', 'C', 'A', 'S', 'E'};
constexpr int32_t kMaxK = 1000000;

template <typename T>
void AppendPod(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
void AppendArray(std::string* out, const std::vector<T>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

bool ValidValue(float v) { return std::isfinite(v) && v >= 0.0f && v <= 1.0f; }

// Reads the payload front to back; every read checks the bytes left first.
class Cursor {
 public:
  Cursor(absl::string_view bytes, const std::string& where) : bytes_(bytes), where_(where) {}

  size_t left() const { return bytes_.size() - pos_; }
  size_t offset() const { return kCaseResultsHeaderBytes + pos_; }

  template <typename T>
  absl::StatusOr<T> Pod(absl::string_view what) {
    if (left() < sizeof(T)) return Truncated(what, sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  absl::StatusOr<std::string> Name(absl::string_view what) {
    ASSIGN_OR_RETURN(const uint32_t length, Pod<uint32_t>(absl::StrCat(what, " length")));
    if (length == 0 || length > kMaxCaseNameBytes) {
      return Error(absl::StrCat(what, " length ", length, " is not in 1..", kMaxCaseNameBytes));
    }
    if (left() < length) return Truncated(what, length);
    std::string s(bytes_.substr(pos_, length));
    pos_ += length;
    return s;
  }

  // `n` values of T.
  template <typename T>
  absl::StatusOr<std::vector<T>> Array(uint64_t n, absl::string_view what) {
    if (n > left() / sizeof(T)) return Truncated(what, n * sizeof(T));
    std::vector<T> v(n);
    std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }

  absl::Status Error(absl::string_view message) const {
    return absl::DataLossError(
        absl::StrCat(where_, ": ", message, " (at byte ", offset(), ")"));
  }

 private:
  absl::Status Truncated(absl::string_view what, uint64_t need) const {
    return Error(absl::StrCat(what, " needs ", need, " bytes, ", left(), " left in the file"));
  }

  absl::string_view bytes_;
  std::string where_;
  size_t pos_ = 0;
};

}  // namespace

uint64_t CaseKey(absl::string_view user, absl::string_view item, int64_t timestamp_s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;  // FNV-1a 64 prime
    }
  };
  const char separator[1] = {'\0'};
  mix(user);
  mix(absl::string_view(separator, 1));
  mix(item);
  mix(absl::string_view(separator, 1));
  mix(absl::StrCat(timestamp_s));
  // SplitMix64 finaliser.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

std::optional<CaseRowView> CaseResults::Find(absl::string_view split, absl::string_view model,
                                             int k) const {
  for (const CaseSection& s : sections) {
    if (s.split != split) continue;
    for (const CaseColumn& c : s.columns) {
      if (c.model == model && c.k == k) return CaseRowView{s.keys, c.recall, c.ndcg};
    }
  }
  return std::nullopt;
}

absl::Status ValidateCaseResults(const CaseResults& results) {
  if (results.sections.empty() || results.sections.size() > kMaxCaseSections) {
    return absl::InvalidArgumentError(absl::StrCat("per-case results: ", results.sections.size(),
                                                   " sections, want 1..", kMaxCaseSections));
  }
  std::set<std::tuple<std::string, std::string, int32_t>> rows;
  for (const CaseSection& s : results.sections) {
    if (s.split.empty() || s.split.size() > kMaxCaseNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "per-case results: split name of ", s.split.size(), " bytes, want 1..", kMaxCaseNameBytes));
    }
    if (s.columns.size() > kMaxCaseColumns) {
      return absl::InvalidArgumentError(absl::StrCat("per-case results: split ", s.split, " has ",
                                                     s.columns.size(), " rows, at most ",
                                                     kMaxCaseColumns));
    }
    absl::flat_hash_set<uint64_t> keys(s.keys.begin(), s.keys.end());
    if (keys.size() != s.keys.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("per-case results: split ", s.split, " has duplicate case keys"));
    }
    for (const CaseColumn& c : s.columns) {
      const std::string row = absl::StrCat("split ", s.split, " model ", c.model, " k ", c.k);
      if (c.model.empty() || c.model.size() > kMaxCaseNameBytes || c.k < 1 || c.k > kMaxK) {
        return absl::InvalidArgumentError(
            absl::StrCat("per-case results: bad row name or k: ", row));
      }
      if (!rows.emplace(s.split, c.model, c.k).second) {
        return absl::InvalidArgumentError(absl::StrCat("per-case results: ", row, " twice"));
      }
      if (c.recall.size() != s.keys.size() || c.ndcg.size() != s.keys.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "per-case results: ", row, " has ", c.recall.size(), " recall and ", c.ndcg.size(),
            " NDCG values for ", s.keys.size(), " cases"));
      }
      for (size_t i = 0; i < s.keys.size(); ++i) {
        if (!ValidValue(c.recall[i]) || !ValidValue(c.ndcg[i])) {
          return absl::InvalidArgumentError(absl::StrCat("per-case results: ", row, " case ", i,
                                                         ": recall ", c.recall[i], ", NDCG ",
                                                         c.ndcg[i], " (want finite, in [0, 1])"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SerializeCaseResults(const CaseResults& results) {
  RETURN_IF_ERROR(ValidateCaseResults(results));
  std::string payload;
  for (const CaseSection& s : results.sections) {
    AppendPod<uint32_t>(&payload, static_cast<uint32_t>(s.split.size()));
    payload += s.split;
    AppendPod<uint32_t>(&payload, static_cast<uint32_t>(s.columns.size()));
    AppendPod<uint64_t>(&payload, s.keys.size());
    AppendArray(&payload, s.keys);
    for (const CaseColumn& c : s.columns) {
      AppendPod<uint32_t>(&payload, static_cast<uint32_t>(c.model.size()));
      payload += c.model;
      AppendPod<int32_t>(&payload, c.k);
      AppendArray(&payload, c.recall);
      AppendArray(&payload, c.ndcg);
    }
  }
  std::string out(kMagic, sizeof(kMagic));
  AppendPod<uint32_t>(&out, kCaseResultsFormatVersion);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(results.sections.size()));
  AppendPod<uint64_t>(&out, payload.size());
  AppendPod<uint32_t>(&out, Crc32cExtend(Crc32c(out), payload.data(), payload.size()));
  AppendPod<uint32_t>(&out, 0);
  out += payload;
  return out;
}

absl::StatusOr<CaseResults> ParseCaseResults(absl::string_view bytes, const std::string& where) {
  auto error = [&where](absl::string_view message) {
    return absl::DataLossError(absl::StrCat(where, ": ", message));
  };
  if (bytes.size() < kCaseResultsHeaderBytes) {
    return error(absl::StrCat("truncated: ", bytes.size(), " bytes, a per-case results header has ",
                              kCaseResultsHeaderBytes));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return error("not a per-case results file (bad magic)");
  }
  auto u32 = [&bytes](size_t at) {
    uint32_t v;
    std::memcpy(&v, bytes.data() + at, sizeof(v));
    return v;
  };
  uint64_t payload_size;
  std::memcpy(&payload_size, bytes.data() + 16, sizeof(payload_size));
  const uint32_t version = u32(8), num_sections = u32(12), crc = u32(24), reserved = u32(28);
  if (version > kCaseResultsFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": per-case results format version ", version, ", this build reads up to ",
        kCaseResultsFormatVersion));
  }
  if (version == 0) return error("per-case results format version 0");
  const uint64_t rest = bytes.size() - kCaseResultsHeaderBytes;
  if (payload_size != rest) {
    return error(absl::StrCat(payload_size > rest ? "truncated" : "trailing bytes",
                              ": the header says ", payload_size, " payload bytes, the file has ",
                              rest));
  }
  const absl::string_view payload = bytes.substr(kCaseResultsHeaderBytes);
  if (Crc32cExtend(Crc32c(bytes.substr(0, 24)), payload.data(), payload.size()) != crc) {
    return error("CRC-32C mismatch (corrupt file)");
  }
  if (reserved != 0) return error(absl::StrCat("reserved header word is ", reserved, ", not 0"));
  if (num_sections == 0 || num_sections > kMaxCaseSections) {
    return error(absl::StrCat(num_sections, " sections, want 1..", kMaxCaseSections));
  }

  Cursor in(payload, where);
  CaseResults results;
  std::set<std::tuple<std::string, std::string, int32_t>> rows;
  for (uint32_t si = 0; si < num_sections; ++si) {
    CaseSection s;
    ASSIGN_OR_RETURN(s.split, in.Name("split name"));
    ASSIGN_OR_RETURN(const uint32_t num_columns, in.Pod<uint32_t>("row count"));
    if (num_columns > kMaxCaseColumns) {
      return in.Error(absl::StrCat("split ", s.split, ": ", num_columns, " rows, at most ",
                                   kMaxCaseColumns));
    }
    ASSIGN_OR_RETURN(const uint64_t n, in.Pod<uint64_t>("case count"));
    // Every case costs 8 key bytes plus 8 bytes per row: bound n by the bytes
    // left before allocating anything.
    if (n > in.left() / (8 + 8 * static_cast<uint64_t>(num_columns))) {
      return in.Error(absl::StrCat("split ", s.split, ": case count ", n, " with ", num_columns,
                                   " rows is larger than the ", in.left(),
                                   " bytes left in the file"));
    }
    ASSIGN_OR_RETURN(s.keys, in.Array<uint64_t>(n, "case keys"));
    absl::flat_hash_set<uint64_t> distinct(s.keys.begin(), s.keys.end());
    if (distinct.size() != s.keys.size()) {
      return in.Error(absl::StrCat("split ", s.split, ": duplicate case keys"));
    }
    for (uint32_t ci = 0; ci < num_columns; ++ci) {
      CaseColumn c;
      ASSIGN_OR_RETURN(c.model, in.Name("model name"));
      ASSIGN_OR_RETURN(c.k, in.Pod<int32_t>("k"));
      const std::string row = absl::StrCat("split ", s.split, " model ", c.model, " k ", c.k);
      if (c.k < 1 || c.k > kMaxK) return in.Error(absl::StrCat(row, ": k out of range"));
      if (!rows.emplace(s.split, c.model, c.k).second) {
        return in.Error(absl::StrCat(row, ": row appears twice"));
      }
      ASSIGN_OR_RETURN(c.recall, in.Array<float>(n, "recall values"));
      ASSIGN_OR_RETURN(c.ndcg, in.Array<float>(n, "NDCG values"));
      for (size_t i = 0; i < n; ++i) {
        if (!ValidValue(c.recall[i]) || !ValidValue(c.ndcg[i])) {
          return in.Error(absl::StrCat(row, " case ", i, ": recall ", c.recall[i], ", NDCG ",
                                       c.ndcg[i], " (want finite, in [0, 1])"));
        }
      }
      s.columns.push_back(std::move(c));
    }
    results.sections.push_back(std::move(s));
  }
  if (in.left() != 0) {
    return in.Error(absl::StrCat(in.left(), " bytes after the last section"));
  }
  return results;
}

absl::Status WriteCaseResults(const std::string& path, const CaseResults& results) {
  absl::StatusOr<std::string> bytes = SerializeCaseResults(results);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", bytes.status().message()));
  }
  return WriteFileDurably(path, *bytes);
}

absl::StatusOr<CaseResults> ReadCaseResults(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  return ParseCaseResults(bytes, path);
}

}  // namespace recsys

// MovieLens "latest" layout: ratings.csv, movies.csv, optional tags.csv.
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/data/loader.h"
#include "common/data/record_reader.h"
#include "common/data/text_reader.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

namespace {

constexpr RecordFormat kQuotedCsv = {',', RecordFormat::Quoting::kCsv};
// ratings.csv has no quoted fields: a plain split is enough and cheaper.
constexpr RecordFormat kPlainCsv = {',', RecordFormat::Quoting::kNone};

absl::Status ExpectHeader(RecordReader& reader, absl::string_view expected_prefix) {
  ASSIGN_OR_RETURN(const std::string line, reader.ReadHeader());
  if (!absl::StartsWith(line, expected_prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(reader.path(), ":1: expected header '",
                                                   expected_prefix, "...', got '", line, "'"));
  }
  return absl::OkStatus();
}

absl::Status LoadMovies(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader,
                   RecordReader::Open(path, kQuotedCsv, options, &out->report));
  RETURN_IF_ERROR(ExpectHeader(reader, "movieId,title,genres"));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    int64_t id;
    if (f.size() != 3) return reader.Bad(absl::StrCat("expected 3 fields, got ", f.size()));
    if (!ParseInt64(f[0], &id)) return reader.Bad(absl::StrCat("bad movieId '", f[0], "'"));
    const ItemIndex item = out->ItemOrAdd(f[0]);
    ItemInfo& info = out->item_info[item];
    info.title = f[1];
    info.release_time_s = ReleaseTimeFromTitle(f[1]);
    info.has_metadata = true;
    info.categories.clear();
    if (f[2] != "(no genres listed)") {
      for (absl::string_view g : absl::StrSplit(f[2], '|', absl::SkipEmpty())) {
        info.categories.emplace_back(g);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status LoadRatings(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader,
                   RecordReader::Open(path, kPlainCsv, options, &out->report));
  RETURN_IF_ERROR(ExpectHeader(reader, "userId,movieId,rating,timestamp"));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    int64_t user, movie, ts;
    float rating;
    if (f.size() != 4) return reader.Bad(absl::StrCat("expected 4 fields, got ", f.size()));
    if (!ParseInt64(f[0], &user) || !ParseInt64(f[1], &movie)) {
      return reader.Bad("bad userId or movieId");
    }
    if (!ParseFloat(f[2], &rating) || rating < 0) {
      return reader.Bad(absl::StrCat("bad rating '", f[2], "'"));
    }
    if (!ParseInt64(f[3], &ts) || ts < 0) {
      return reader.Bad(absl::StrCat("bad timestamp '", f[3], "'"));
    }
    const ItemIndex item = out->ItemOrAdd(f[1]);
    if (!out->item_info[item].has_metadata) ++out->report.unknown_item_refs;
    out->interactions.push_back(Interaction{out->users.GetOrAdd(f[0]), item, ts, rating});
    return absl::OkStatus();
  });
}

// Tags are appended to the item's free text (lower-cased words keep their case;
// the content model normalises).
absl::Status LoadTags(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader,
                   RecordReader::Open(path, kQuotedCsv, options, &out->report));
  RETURN_IF_ERROR(ExpectHeader(reader, "userId,movieId,tag,timestamp"));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    if (f.size() != 4) return reader.Bad(absl::StrCat("expected 4 fields, got ", f.size()));
    auto item = out->items.Find(f[1]);
    if (!item) {
      // A tag on a movie absent from movies.csv: nothing to attach it to.
      ++out->report.unknown_item_refs;
      return absl::OkStatus();
    }
    std::string& text = out->item_info[*item].text;
    if (!text.empty()) text.push_back(' ');
    text.append(f[2]);
    return absl::OkStatus();
  });
}

}  // namespace

absl::Status LoadMovieLensLatest(const std::string& dir, const LoadOptions& options,
                                 Dataset* out) {
  const fs::path root(dir);
  RETURN_IF_ERROR(LoadMovies((root / "movies.csv").string(), options, out));
  RETURN_IF_ERROR(LoadRatings((root / "ratings.csv").string(), options, out));
  std::error_code ec;
  if (fs::exists(root / "tags.csv", ec)) {
    RETURN_IF_ERROR(LoadTags((root / "tags.csv").string(), options, out));
  }
  return absl::OkStatus();
}

}  // namespace recsys

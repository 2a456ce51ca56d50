// MovieLens "latest" layout: ratings.csv, movies.csv, optional tags.csv.
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/data/loader.h"
#include "common/data/text_reader.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

namespace {

absl::Status ExpectHeader(LineReader& reader, absl::string_view expected_prefix,
                          std::string* line) {
  if (!reader.Next(line)) {
    return absl::InvalidArgumentError(absl::StrCat(reader.path(), ": empty file"));
  }
  if (!absl::StartsWith(*line, expected_prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(reader.path(), ":1: expected header '",
                                                   expected_prefix, "...', got '", *line, "'"));
  }
  return absl::OkStatus();
}

absl::Status LoadMovies(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(LineReader reader, LineReader::Open(path));
  out->report.files.push_back(path);
  BadLines bad(options, &out->report);
  std::string line;
  RETURN_IF_ERROR(ExpectHeader(reader, "movieId,title,genres", &line));
  std::vector<std::string> f;
  while (reader.Next(&line)) {
    ++out->report.lines_read;
    if (line.empty()) continue;
    if (!SplitCsv(line, ',', &f)) {
      RETURN_IF_ERROR(bad.Report(reader, "malformed quoting"));
      continue;
    }
    int64_t id;
    if (f.size() != 3) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("expected 3 fields, got ", f.size())));
      continue;
    }
    if (!ParseInt64(f[0], &id)) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("bad movieId '", f[0], "'")));
      continue;
    }
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
  }
  return absl::OkStatus();
}

absl::Status LoadRatings(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(LineReader reader, LineReader::Open(path));
  out->report.files.push_back(path);
  BadLines bad(options, &out->report);
  std::string line;
  RETURN_IF_ERROR(ExpectHeader(reader, "userId,movieId,rating,timestamp", &line));
  std::vector<std::string> f;
  while (reader.Next(&line)) {
    ++out->report.lines_read;
    if (line.empty()) continue;
    SplitPlain(line, ',', &f);
    int64_t user, movie, ts;
    float rating;
    if (f.size() != 4) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("expected 4 fields, got ", f.size())));
      continue;
    }
    if (!ParseInt64(f[0], &user) || !ParseInt64(f[1], &movie)) {
      RETURN_IF_ERROR(bad.Report(reader, "bad userId or movieId"));
      continue;
    }
    if (!ParseFloat(f[2], &rating) || rating < 0) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("bad rating '", f[2], "'")));
      continue;
    }
    if (!ParseInt64(f[3], &ts) || ts < 0) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("bad timestamp '", f[3], "'")));
      continue;
    }
    const ItemIndex item = out->ItemOrAdd(f[1]);
    if (!out->item_info[item].has_metadata) ++out->report.unknown_item_refs;
    out->interactions.push_back(
        Interaction{out->users.GetOrAdd(f[0]), item, ts, rating});
  }
  return absl::OkStatus();
}

// Tags are appended to the item's free text (lower-cased words keep their case;
// the content model normalises).
absl::Status LoadTags(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(LineReader reader, LineReader::Open(path));
  out->report.files.push_back(path);
  BadLines bad(options, &out->report);
  std::string line;
  RETURN_IF_ERROR(ExpectHeader(reader, "userId,movieId,tag,timestamp", &line));
  std::vector<std::string> f;
  while (reader.Next(&line)) {
    ++out->report.lines_read;
    if (line.empty()) continue;
    if (!SplitCsv(line, ',', &f)) {
      RETURN_IF_ERROR(bad.Report(reader, "malformed quoting"));
      continue;
    }
    if (f.size() != 4) {
      RETURN_IF_ERROR(bad.Report(reader, absl::StrCat("expected 4 fields, got ", f.size())));
      continue;
    }
    auto item = out->items.Find(f[1]);
    if (!item) {
      // A tag on a movie absent from movies.csv: nothing to attach it to.
      ++out->report.unknown_item_refs;
      continue;
    }
    std::string& text = out->item_info[*item].text;
    if (!text.empty()) text.push_back(' ');
    text.append(f[2]);
  }
  return absl::OkStatus();
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

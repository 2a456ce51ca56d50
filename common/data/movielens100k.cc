// MovieLens 100k layout: u.data (ratings), u.item (latin-1 catalogue), u.genre.
#include <array>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/data/loader.h"
#include "common/data/record_reader.h"
#include "common/data/text_reader.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

namespace {

// u.item columns before the genre flags: id, title, release date, video
// release date, IMDb url.
constexpr size_t kItemFixedFields = 5;

// The genres of the published ml-100k, used when u.genre is absent.
const std::vector<std::string>& DefaultGenres() {
  static const auto* genres = new std::vector<std::string>{
      "unknown", "Action",  "Adventure", "Animation", "Children's", "Comedy",  "Crime",
      "Documentary", "Drama", "Fantasy", "Film-Noir",  "Horror",     "Musical", "Mystery",
      "Romance", "Sci-Fi",  "Thriller",  "War",       "Western"};
  return *genres;
}

// "01-Jan-1995" -> Unix seconds of that day (UTC). False if malformed.
bool ParseReleaseDate(absl::string_view s, int64_t* out) {
  static constexpr std::array<absl::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::vector<absl::string_view> parts = absl::StrSplit(s, '-');
  if (parts.size() != 3) return false;
  int64_t day, year;
  if (!ParseInt64(parts[0], &day) || !ParseInt64(parts[2], &year)) return false;
  int month = 0;
  for (size_t m = 0; m < kMonths.size(); ++m) {
    if (parts[1] == kMonths[m]) month = static_cast<int>(m) + 1;
  }
  if (month == 0 || year < 1800 || year > 2200 || day < 1 || day > 31) return false;
  const absl::CivilDay civil(year, month, day);
  if (civil.day() != day) return false;  // e.g. 31-Feb normalised into March
  *out = absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  return true;
}

constexpr RecordFormat kPipes = {'|', RecordFormat::Quoting::kNone};
constexpr RecordFormat kLatin1Pipes = {'|', RecordFormat::Quoting::kNone, /*latin1=*/true};
constexpr RecordFormat kTabs = {'\t', RecordFormat::Quoting::kNone};

// u.genre: "name|index" lines, indices 0..n-1 in any order.
absl::Status LoadGenres(const std::string& path, const LoadOptions& options, Dataset* out,
                        std::vector<std::string>* genres) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kPipes, options, &out->report));
  genres->clear();
  std::vector<bool> seen;
  RETURN_IF_ERROR(reader.ForEachRecord([&](std::vector<std::string>& f) {
    int64_t index;
    if (f.size() != 2) return reader.Bad(absl::StrCat("expected 2 fields, got ", f.size()));
    if (!ParseInt64(f[1], &index) || index < 0 || index >= 1024) {
      return reader.Bad(absl::StrCat("bad genre index '", f[1], "'"));
    }
    if (index < static_cast<int64_t>(seen.size()) && seen[index]) {
      return reader.Bad(absl::StrCat("duplicate genre index ", index));
    }
    if (index >= static_cast<int64_t>(genres->size())) {
      genres->resize(index + 1);
      seen.resize(index + 1, false);
    }
    (*genres)[index] = Latin1ToUtf8(f[0]);
    seen[index] = true;
    return absl::OkStatus();
  }));
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": genre index ", i, " is missing"));
    }
  }
  if (genres->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no genres"));
  }
  return absl::OkStatus();
}

absl::Status LoadItems(const std::string& path, const std::vector<std::string>& genres,
                       const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader,
                   RecordReader::Open(path, kLatin1Pipes, options, &out->report));
  const size_t expected_fields = kItemFixedFields + genres.size();
  std::vector<std::string> categories;
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    int64_t id;
    if (f.size() != expected_fields) {
      return reader.Bad(absl::StrCat("expected ", expected_fields, " fields, got ", f.size()));
    }
    if (!ParseInt64(f[0], &id)) return reader.Bad(absl::StrCat("bad movie id '", f[0], "'"));
    int64_t release_time_s = 0;
    if (!f[2].empty() && !ParseReleaseDate(f[2], &release_time_s)) {
      return reader.Bad(absl::StrCat("bad release date '", f[2], "'"));
    }
    categories.clear();
    for (size_t g = 0; g < genres.size(); ++g) {
      const std::string& flag = f[kItemFixedFields + g];
      if (flag == "1") {
        if (genres[g] != "unknown") categories.push_back(genres[g]);
      } else if (flag != "0") {
        return reader.Bad(absl::StrCat("bad genre flag '", flag, "'"));
      }
    }
    const ItemIndex item = out->ItemOrAdd(f[0]);
    ItemInfo& info = out->item_info[item];
    info.title = f[1];
    info.release_time_s = f[2].empty() ? ReleaseTimeFromTitle(f[1]) : release_time_s;
    info.has_metadata = true;
    info.categories = categories;
    return absl::OkStatus();
  });
}

// u.data: "user<TAB>item<TAB>rating<TAB>timestamp", no header.
absl::Status LoadRatings(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kTabs, options, &out->report));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    int64_t user, movie, ts;
    float rating;
    if (f.size() != 4) return reader.Bad(absl::StrCat("expected 4 fields, got ", f.size()));
    if (!ParseInt64(f[0], &user) || !ParseInt64(f[1], &movie)) {
      return reader.Bad("bad user id or item id");
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

}  // namespace

absl::Status LoadMovieLens100k(const std::string& dir, const LoadOptions& options,
                               Dataset* out) {
  const fs::path root(dir);
  std::vector<std::string> genres;
  std::error_code ec;
  if (fs::exists(root / "u.genre", ec)) {
    RETURN_IF_ERROR(LoadGenres((root / "u.genre").string(), options, out, &genres));
  } else {
    genres = DefaultGenres();
  }
  RETURN_IF_ERROR(LoadItems((root / "u.item").string(), genres, options, out));
  RETURN_IF_ERROR(LoadRatings((root / "u.data").string(), options, out));
  return absl::OkStatus();
}

}  // namespace recsys

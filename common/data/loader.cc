#include "common/data/loader.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

absl::StatusOr<DataFormat> DetectDataFormat(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("data directory not found: ", dir));
  }
  auto has = [&](const char* name) { return fs::exists(fs::path(dir) / name, ec); };
  if (has("ratings.csv") && has("movies.csv")) return DataFormat::kMovieLensLatest;
  if (has("u.data") && has("u.item")) return DataFormat::kMovieLens100k;
  if (has("behaviors.tsv") && has("news.tsv")) return DataFormat::kMind;
  if (has("interactions.csv")) return DataFormat::kGeneric;
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot detect the data layout of ", dir,
      ": expected ratings.csv+movies.csv (movielens), u.data+u.item (movielens-100k), "
      "behaviors.tsv+news.tsv (mind) or interactions.csv (generic)"));
}

absl::StatusOr<Dataset> LoadDataset(const std::string& dir, const LoadOptions& options) {
  DataFormat format = options.format;
  if (format == DataFormat::kAuto) {
    ASSIGN_OR_RETURN(format, DetectDataFormat(dir));
  }
  Dataset data;
  data.report.format = format;
  switch (format) {
    case DataFormat::kMovieLensLatest:
      RETURN_IF_ERROR(LoadMovieLensLatest(dir, options, &data));
      break;
    case DataFormat::kMovieLens100k:
      RETURN_IF_ERROR(LoadMovieLens100k(dir, options, &data));
      break;
    case DataFormat::kMind:
      RETURN_IF_ERROR(LoadMind(dir, options, &data));
      break;
    case DataFormat::kGeneric:
      RETURN_IF_ERROR(LoadGeneric(dir, options, &data));
      break;
    case DataFormat::kAuto:
      return absl::InternalError("unreachable");
  }
  if (data.interactions.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no interactions loaded from ", dir));
  }
  return data;
}

int64_t ReleaseTimeFromTitle(absl::string_view title) {
  // Trailing "(YYYY)", possibly followed by spaces.
  while (!title.empty() && title.back() == ' ') title.remove_suffix(1);
  if (title.size() < 6 || title.back() != ')' || title[title.size() - 6] != '(') return 0;
  int year = 0;
  for (size_t i = title.size() - 5; i < title.size() - 1; ++i) {
    if (title[i] < '0' || title[i] > '9') return 0;
    year = year * 10 + (title[i] - '0');
  }
  if (year < 1870 || year > 2100) return 0;
  // Days from 1970-01-01 to Jan 1 of `year` (proleptic Gregorian).
  auto days_before = [](int y) {
    int64_t n = y - 1;
    return n * 365 + n / 4 - n / 100 + n / 400;
  };
  return (days_before(year) - days_before(1970)) * 86400;
}

}  // namespace recsys

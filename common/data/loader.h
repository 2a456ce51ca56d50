// Data set loaders. Every loader streams its files line by line, and every bad
// line is an error naming file and line (or is skipped and counted, by policy).
//
// Layouts (detected from the files in the directory, or forced by format):
//   movielens       ratings.csv, movies.csv, [tags.csv]          (ml-latest*)
//   movielens-100k  u.data, u.item (latin-1), u.genre            (ml-100k)
//   mind            news.tsv, behaviors.tsv                      (MIND)
//   generic         interactions.csv (user,item,timestamp[,weight]),
//                   [items.csv (item,title,text,category)]
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"

namespace recsys {

// Detects the layout of `dir` from the files it holds.
absl::StatusOr<DataFormat> DetectDataFormat(const std::string& dir);

// Loads a data set directory. The report in the result says what was skipped.
absl::StatusOr<Dataset> LoadDataset(const std::string& dir, const LoadOptions& options);

// Per-layout loaders (append into *out; used by LoadDataset).
absl::Status LoadMovieLensLatest(const std::string& dir, const LoadOptions& options,
                                 Dataset* out);
absl::Status LoadMovieLens100k(const std::string& dir, const LoadOptions& options,
                               Dataset* out);
absl::Status LoadMind(const std::string& dir, const LoadOptions& options, Dataset* out);
absl::Status LoadGeneric(const std::string& dir, const LoadOptions& options, Dataset* out);

// Release year "(1995)" at the end of a MovieLens title -> Unix seconds of Jan 1
// of that year; 0 if absent.
int64_t ReleaseTimeFromTitle(absl::string_view title);

}  // namespace recsys

// The one record loop of every data loader: opens a file, reads it line by
// line, splits each line into fields by the file's format, counts lines, and
// applies the bad-line policy of LoadOptions to the lines a loader refuses.
//
//   ASSIGN_OR_RETURN(RecordReader reader,
//                    RecordReader::Open(path, kCsvFormat, options, &out->report));
//   RETURN_IF_ERROR(reader.ForEachRecord([&](std::vector<std::string>& f) {
//     if (f.size() != 3) return reader.Bad(absl::StrCat("expected 3 fields, got ", f.size()));
//     ...
//     return absl::OkStatus();
//   }));
//
// Counting: every line after the header is counted in report->lines_read,
// empty ones included; empty lines are then skipped. A bad line (refused by
// the handler, or with broken CSV quoting) is, with BadLinePolicy::kFail, an
// INVALID_ARGUMENT error "<file>:<line>: <reason> (use --on_bad_line=skip ...)";
// with kSkip it is counted in report->bad_lines and its message kept among the
// first options.max_reported_bad_lines.
// Not thread-safe; one reader per file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset.h"
#include "common/data/text_reader.h"

namespace recsys {

// How a file's lines split into fields.
struct RecordFormat {
  enum class Quoting {
    kNone,  // the delimiter always splits (TSV, pipe-separated, plain CSV)
    kCsv,   // RFC 4180 quoting; a line with broken quoting is a bad line
  };
  char delimiter = ',';
  Quoting quoting = Quoting::kNone;
  // ISO-8859-1 lines are converted to UTF-8 before splitting (the delimiter
  // is ASCII, so the split is the same).
  bool latin1 = false;
};

class RecordReader {
 public:
  // Opens `path` (NOT_FOUND naming it if it cannot be opened) and appends it
  // to report->files. `options` and `report` must outlive the reader.
  static absl::StatusOr<RecordReader> Open(const std::string& path, RecordFormat format,
                                           const LoadOptions& options, LoadReport* report);
  RecordReader(RecordReader&&) = default;

  // The first line, as a header: not split and not counted in lines_read.
  // INVALID_ARGUMENT "<file>: empty file" when the file has no line.
  absl::StatusOr<std::string> ReadHeader();

  // Calls handle(fields) for every remaining non-empty line whose fields
  // split; `fields` may be moved from. Stops at the first error, from the
  // handler or from the bad-line policy, and returns it.
  absl::Status ForEachRecord(
      absl::FunctionRef<absl::Status(std::vector<std::string>& fields)> handle);

  // The current line is bad for `reason`: an error with kFail, OK (the line
  // counted and skipped) with kSkip. A handler returns this.
  absl::Status Bad(absl::string_view reason);

  const std::string& path() const { return lines_.path(); }
  int64_t line_number() const { return lines_.line_number(); }

 private:
  RecordReader(LineReader lines, RecordFormat format, const LoadOptions& options,
               LoadReport* report)
      : lines_(std::move(lines)), format_(format), options_(&options), report_(report) {}

  LineReader lines_;
  RecordFormat format_;
  const LoadOptions* options_;
  LoadReport* report_;
};

}  // namespace recsys

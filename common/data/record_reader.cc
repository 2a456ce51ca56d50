#include "common/data/record_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace recsys {

absl::StatusOr<RecordReader> RecordReader::Open(const std::string& path, RecordFormat format,
                                                const LoadOptions& options, LoadReport* report) {
  ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(path));
  report->files.push_back(path);
  return RecordReader(std::move(lines), format, options, report);
}

absl::StatusOr<std::string> RecordReader::ReadHeader() {
  std::string line;
  if (!lines_.Next(&line)) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": empty file"));
  }
  return line;
}

absl::Status RecordReader::ForEachRecord(
    absl::FunctionRef<absl::Status(std::vector<std::string>& fields)> handle) {
  std::string line;
  std::vector<std::string> fields;
  while (lines_.Next(&line)) {
    ++report_->lines_read;
    if (line.empty()) continue;
    if (format_.latin1) line = Latin1ToUtf8(line);
    if (format_.quoting == RecordFormat::Quoting::kCsv) {
      if (!SplitCsv(line, format_.delimiter, &fields)) {
        RETURN_IF_ERROR(Bad("malformed quoting"));
        continue;
      }
    } else {
      SplitPlain(line, format_.delimiter, &fields);
    }
    RETURN_IF_ERROR(handle(fields));
  }
  return absl::OkStatus();
}

absl::Status RecordReader::Bad(absl::string_view reason) {
  std::string message = absl::StrCat(path(), ":", line_number(), ": ", reason);
  if (options_->on_bad_line == BadLinePolicy::kFail) {
    return absl::InvalidArgumentError(
        absl::StrCat(message, " (use --on_bad_line=skip to skip and count bad lines)"));
  }
  ++report_->bad_lines;
  if (static_cast<int>(report_->bad_line_messages.size()) < options_->max_reported_bad_lines) {
    report_->bad_line_messages.push_back(std::move(message));
  }
  return absl::OkStatus();
}

}  // namespace recsys

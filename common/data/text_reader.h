// Text primitives of the data loaders: a streaming line reader with line
// numbers, delimited-field splitting and strict field parsing. The loaders'
// record loop and bad-line policy are in record_reader.h.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys {

// Reads a text file line by line (LF or CRLF), tracking the 1-based line number.
// A UTF-8 byte-order mark at the start is dropped.
class LineReader {
 public:
  static absl::StatusOr<LineReader> Open(const std::string& path);
  LineReader(LineReader&&) = default;

  // Next line without its terminator; false at end of file.
  bool Next(std::string* line);
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  explicit LineReader(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::ifstream in_;
  int64_t line_number_ = 0;
};

// Splits one CSV record (RFC 4180 quoting: "a, b" and "" escapes) on `sep`.
// Returns false on an unterminated quote or a quote inside an unquoted field
// followed by garbage.
bool SplitCsv(absl::string_view line, char sep, std::vector<std::string>* fields);

// Splits on `sep` with no quoting (TSV, pipe-separated files).
void SplitPlain(absl::string_view line, char sep, std::vector<std::string>* fields);

// Strict integer / float parsing of a whole field (surrounding spaces allowed).
bool ParseInt64(absl::string_view s, int64_t* out);
bool ParseFloat(absl::string_view s, float* out);

// Unix seconds from "123456789" or an RFC 3339 time ("2019-11-11T09:05:58Z",
// four-digit year; absl's "infinite-future" and longer years are refused).
bool ParseTimestamp(absl::string_view s, int64_t* out);

// Converts ISO-8859-1 bytes to UTF-8.
std::string Latin1ToUtf8(absl::string_view s);

}  // namespace recsys

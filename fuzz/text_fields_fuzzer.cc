// Fuzzes the data loaders' field primitives (common/data/text_reader.h and
// ReleaseTimeFromTitle): CSV and plain splitting, integer, float and
// timestamp parsing, Latin-1 conversion, on the same bytes.
// Checks: a plain split has one more field than separators; a CSV split of
// a line without quotes equals the plain split; Latin-1 conversion yields
// one or two bytes per input byte; a field that parses as an integer is the
// same timestamp (Unix seconds); a parsed float is finite.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/data/loader.h"
#include "common/data/text_reader.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using recsys::fuzz::Check;
  const absl::string_view s = recsys::fuzz::AsView(data, size);
  const char sep = size > 0 && (data[0] & 1) ? '\t' : ',';

  std::vector<std::string> plain, csv;
  recsys::SplitPlain(s, sep, &plain);
  Check(plain.size() == static_cast<size_t>(std::count(s.begin(), s.end(), sep)) + 1,
        "plain split: separators + 1 fields");
  const bool csv_ok = recsys::SplitCsv(s, sep, &csv);
  if (s.find('"') == absl::string_view::npos) {
    Check(csv_ok && csv == plain, "CSV split without quotes equals the plain split");
  }

  int64_t i = 0;
  if (recsys::ParseInt64(s, &i)) {
    int64_t t = 0;
    Check(recsys::ParseTimestamp(s, &t) && t == i,
          absl::StrCat("an integer field is that timestamp: ", i));
  } else {
    int64_t t = 0;
    recsys::ParseTimestamp(s, &t);
  }
  float f = 0;
  if (recsys::ParseFloat(s, &f)) Check(std::isfinite(f), "a parsed float is finite");

  const std::string utf8 = recsys::Latin1ToUtf8(s);
  Check(utf8.size() >= s.size() && utf8.size() <= 2 * s.size(), "Latin-1: 1..2 bytes per byte");
  recsys::ReleaseTimeFromTitle(s);
  return 0;
}

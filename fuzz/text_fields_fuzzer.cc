// Fuzzes the data loaders' field primitives (common/data/text_reader.h and
// ReleaseTimeFromTitle): CSV and plain splitting, integer, float and
// timestamp parsing, Latin-1 conversion, on the same bytes.
// Checks: a plain split has one more field than separators; a CSV split of
// a line without quotes equals the plain split; Latin-1 conversion yields
// one or two bytes per input byte; a field that parses as an integer is the
// same timestamp (Unix seconds), and any other accepted timestamp is an RFC
// 3339 time, whose four-digit year bounds it to 0000..9999; a parsed float
// is finite.
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
    // RFC 3339 times span 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
    constexpr int64_t kYear0 = -62167219200, kYear10000 = 253402300800;
    int64_t t = 0;
    if (recsys::ParseTimestamp(s, &t)) {
      Check(t >= kYear0 - 86400 && t < kYear10000 + 86400,  // +- a day of UTC offsets
            absl::StrCat("an RFC 3339 timestamp has a four-digit year: ", t));
    }
  }
  float f = 0;
  if (recsys::ParseFloat(s, &f)) Check(std::isfinite(f), "a parsed float is finite");

  const std::string utf8 = recsys::Latin1ToUtf8(s);
  Check(utf8.size() >= s.size() && utf8.size() <= 2 * s.size(), "Latin-1: 1..2 bytes per byte");
  recsys::ReleaseTimeFromTitle(s);
  return 0;
}

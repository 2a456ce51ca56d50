#include "common/data/text_reader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace recsys {

absl::StatusOr<LineReader> LineReader::Open(const std::string& path) {
  LineReader reader(path);
  reader.in_.open(path, std::ios::in | std::ios::binary);
  if (!reader.in_.is_open()) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return reader;
}

bool LineReader::Next(std::string* line) {
  if (!std::getline(in_, *line)) return false;
  ++line_number_;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  if (line_number_ == 1 && line->size() >= 3 &&
      std::memcmp(line->data(), "\xEF\xBB\xBF", 3) == 0) {
    line->erase(0, 3);
  }
  return true;
}

bool SplitCsv(absl::string_view line, char sep, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    field.clear();
    if (i < n && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        if (line[i] == '"') {
          if (i + 1 < n && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
          } else {
            ++i;
            closed = true;
            break;
          }
        } else {
          field.push_back(line[i++]);
        }
      }
      if (!closed) return false;
      if (i < n && line[i] != sep) return false;  // garbage after closing quote
    } else {
      while (i < n && line[i] != sep) field.push_back(line[i++]);
    }
    fields->push_back(field);
    if (i >= n) break;
    ++i;  // skip separator
  }
  return true;
}

void SplitPlain(absl::string_view line, char sep, std::vector<std::string>* fields) {
  fields->clear();
  size_t start = 0;
  while (true) {
    size_t pos = line.find(sep, start);
    if (pos == absl::string_view::npos) {
      fields->emplace_back(line.substr(start));
      return;
    }
    fields->emplace_back(line.substr(start, pos - start));
    start = pos + 1;
  }
}

bool ParseInt64(absl::string_view s, int64_t* out) {
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(s), out);
}

bool ParseFloat(absl::string_view s, float* out) {
  return absl::SimpleAtof(absl::StripAsciiWhitespace(s), out) && std::isfinite(*out);
}

bool ParseTimestamp(absl::string_view s, int64_t* out) {
  s = absl::StripAsciiWhitespace(s);
  if (ParseInt64(s, out)) return true;
  // RFC 3339 starts with a four-digit year. absl::ParseTime alone also takes
  // "infinite-future" / "infinite-past" (INT64_MAX / INT64_MIN seconds) and
  // years of any length.
  if (s.size() < 5 || !std::all_of(s.begin(), s.begin() + 4, absl::ascii_isdigit) || s[4] != '-') {
    return false;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err)) {
    *out = absl::ToUnixSeconds(t);
    return true;
  }
  return false;
}

std::string Latin1ToUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace recsys

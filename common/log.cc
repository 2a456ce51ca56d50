#include "common/log.h"
#include "common/vlog.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace recsys {
namespace {

std::atomic<int> g_min_severity{0};
std::atomic<int> g_format{0};
constexpr char kLetters[] = {'I', 'W', 'E', 'F'};
constexpr const char* kNames[] = {"INFO", "WARNING", "ERROR", "FATAL"};

absl::string_view BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// Length of the valid UTF-8 sequence at the start of `s` (1..4), or 0 if the
// first byte does not start one (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

// Text values are written bare unless they would be ambiguous.
bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7F) return true;
  }
  return false;
}

}  // namespace

void SetMinLogSeverity(LogSeverity s) { g_min_severity = static_cast<int>(s); }

namespace {
std::atomic<int> g_verbosity{0};
}  // namespace
void SetVerbosity(int level) { g_verbosity = level; }
int Verbosity() { return g_verbosity.load(std::memory_order_relaxed); }
LogSeverity MinLogSeverity() { return static_cast<LogSeverity>(g_min_severity.load()); }

void SetLogFormat(LogFormat format) { g_format = static_cast<int>(format); }
LogFormat CurrentLogFormat() { return static_cast<LogFormat>(g_format.load()); }

bool ParseLogFormat(absl::string_view name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

const char* LogSeverityName(LogSeverity s) { return kNames[static_cast<int>(s)]; }

LogField LogField::String(std::string key, std::string value) {
  return LogField{std::move(key), std::move(value), false};
}

LogField LogField::Number(std::string key, double value) {
  if (!std::isfinite(value)) return String(std::move(key), absl::StrCat(value));
  return LogField{std::move(key), absl::StrCat(value), true};
}

LogField LogField::Integer(std::string key, int64_t value) {
  return LogField{std::move(key), absl::StrCat(value), true};
}

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

std::string FormatLogLine(LogFormat format, const LogRecord& r) {
  std::string out;
  const absl::string_view file = BaseName(r.file);
  if (format == LogFormat::kJson) {
    out.append("{\"ts\":\"");
    out.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", r.time, absl::UTCTimeZone()));
    out.append("\",\"level\":\"");
    out.append(LogSeverityName(r.severity));
    out.append("\",\"msg\":");
    AppendJsonString(r.msg, &out);
    out.append(",\"file\":");
    AppendJsonString(file, &out);
    absl::StrAppend(&out, ",\"line\":", r.line);
    if (r.fields != nullptr) {
      for (const LogField& f : *r.fields) {
        out.push_back(',');
        AppendJsonString(f.key, &out);
        out.push_back(':');
        if (f.is_number) {
          out.append(f.value);
        } else {
          AppendJsonString(f.value, &out);
        }
      }
    }
    out.append("}\n");
    return out;
  }
  out.push_back(kLetters[static_cast<int>(r.severity)]);
  out.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", r.time, absl::UTCTimeZone()));
  absl::StrAppend(&out, file, ":", r.line, "] ", r.msg);
  if (r.fields != nullptr) {
    for (const LogField& f : *r.fields) {
      absl::StrAppend(&out, " ", f.key, "=");
      if (!f.is_number && NeedsQuotes(f.value)) {
        AppendJsonString(f.value, &out);
      } else {
        out.append(f.value);
      }
    }
  }
  out.push_back('\n');
  return out;
}

namespace {

void Write(LogSeverity severity, const char* file, int line, absl::string_view msg,
           const std::vector<LogField>* fields) {
  LogRecord record;
  record.time = absl::Now();
  record.severity = severity;
  record.file = file;
  record.line = line;
  record.msg = msg;
  record.fields = fields;
  const std::string s = FormatLogLine(CurrentLogFormat(), record);
  ssize_t unused = ::write(STDERR_FILENO, s.data(), s.size());
  (void)unused;
  if (severity == LogSeverity::kFatal) std::abort();
}

}  // namespace

void LogWithFields(LogSeverity severity, const char* file, int line, absl::string_view msg,
                   const std::vector<LogField>& fields) {
  if (severity < MinLogSeverity()) return;
  Write(severity, file, line, msg, &fields);
}

LogMessage::LogMessage(LogSeverity severity, const char* file, int line)
    : severity_(severity), file_(file), line_(line) {}

LogMessage::~LogMessage() { Write(severity_, file_, line_, stream_.str(), nullptr); }

}  // namespace recsys

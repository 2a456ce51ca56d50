// Minimal leveled logging to stderr (absl 20220623 has no absl/log).
//   LOG(INFO) << "loaded " << n << " items";
//   LogWithFields(LogSeverity::kInfo, __FILE__, __LINE__, "access",
//                 {LogField::String("method", m), LogField::Number("latency_ms", 1.5)});
// Two formats, chosen once at start-up (SetLogFormat):
//   text: "I2026-01-02T03:04:05.678Z file.cc:12] message key=value ..."
//   json: one JSON object per line: {"ts":"2026-01-02T03:04:05.678901Z","level":"INFO",
//         "msg":"message","file":"file.cc","line":12, ...structured fields}.
//         Any bytes are escaped (control characters as \uXXXX, invalid UTF-8 as U+FFFD),
//         so a record is always exactly one line of valid JSON.
// Thread-safe: each record is written with one write call.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace recsys {

enum class LogSeverity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };
enum class LogFormat { kText = 0, kJson = 1 };

// Messages below this severity are dropped. Default kInfo.
void SetMinLogSeverity(LogSeverity s);
LogSeverity MinLogSeverity();

// Default kText. Set once before threads log (later changes are safe but lines
// written concurrently may use either format).
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
// "text" / "json" -> true and *format; anything else -> false.
bool ParseLogFormat(absl::string_view name, LogFormat* format);

// One structured field of a record. A number is written bare in JSON (finite
// values only: a NaN or infinity is written as a string).
struct LogField {
  std::string key;
  std::string value;
  bool is_number = false;

  static LogField String(std::string key, std::string value);
  static LogField Number(std::string key, double value);
  static LogField Integer(std::string key, int64_t value);
};

struct LogRecord {
  absl::Time time;
  LogSeverity severity = LogSeverity::kInfo;
  absl::string_view file;  // a path; only its base name is written
  int line = 0;
  absl::string_view msg;
  const std::vector<LogField>* fields = nullptr;  // may be null
};

// The full line for `record` in `format`, ending in '\n'.
std::string FormatLogLine(LogFormat format, const LogRecord& record);
// Appends `s` as a quoted JSON string: '"' and '\\' escaped, control characters
// and DEL as \n, \t, ... or \u00XX, invalid UTF-8 bytes (including overlong
// forms, surrogates and values above U+10FFFF) as \ufffd each. Valid UTF-8 is
// copied as is.
void AppendJsonString(absl::string_view s, std::string* out);
// "INFO", "WARNING", "ERROR", "FATAL".
const char* LogSeverityName(LogSeverity s);

// Writes one record (now, current format) if `severity` passes the minimum;
// aborts after writing a kFatal one.
void LogWithFields(LogSeverity severity, const char* file, int line, absl::string_view msg,
                   const std::vector<LogField>& fields);

class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();  // writes the line; aborts for kFatal
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

}  // namespace recsys

#define RECSYS_LOG_INFO ::recsys::LogSeverity::kInfo
#define RECSYS_LOG_WARNING ::recsys::LogSeverity::kWarning
#define RECSYS_LOG_ERROR ::recsys::LogSeverity::kError
#define RECSYS_LOG_FATAL ::recsys::LogSeverity::kFatal
#define LOG(sev)                                              \
  if (RECSYS_LOG_##sev < ::recsys::MinLogSeverity()) {        \
  } else                                                      \
    ::recsys::LogMessage(RECSYS_LOG_##sev, __FILE__, __LINE__).stream()

// Minimal leveled logging to stderr (absl 20220623 has no absl/log).
//   LOG(INFO) << "loaded " << n << " items";
// Thread-safe: each statement is written with one write call.
#pragma once

#include <sstream>

namespace recsys {

enum class LogSeverity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Default kInfo.
void SetMinLogSeverity(LogSeverity s);
LogSeverity MinLogSeverity();

class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();  // writes the line; aborts for kFatal
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
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

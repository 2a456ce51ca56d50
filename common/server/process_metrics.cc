#include "common/server/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace recsys {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<double> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {m}};
}

}  // namespace

bool ParseProcStat(absl::string_view stat, double ticks_per_second, double page_bytes,
                   double boot_time_seconds, ProcessFigures* out) {
  // "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the
  // fields are counted from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) return false;
  std::vector<absl::string_view> f = absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state): field N is f[N - 3].
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStart = 22 - 3, kVsize = 23 - 3,
                   kRss = 24 - 3;
  if (f.size() <= kRss || ticks_per_second <= 0) return false;
  double utime, stime, start, vsize, rss;
  if (!absl::SimpleAtod(f[kUtime], &utime) || !absl::SimpleAtod(f[kStime], &stime) ||
      !absl::SimpleAtod(f[kStart], &start) || !absl::SimpleAtod(f[kVsize], &vsize) ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(f[kRss]), &rss)) {
    return false;
  }
  out->cpu_seconds = (utime + stime) / ticks_per_second;
  out->virtual_bytes = vsize;
  out->resident_bytes = rss * page_bytes;
  if (boot_time_seconds > 0) out->start_time_seconds = boot_time_seconds + start / ticks_per_second;
  return true;
}

std::optional<double> ParseMaxOpenFiles(absl::string_view limits) {
  for (absl::string_view line : absl::StrSplit(limits, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    double soft;
    if (!f.empty() && absl::SimpleAtod(f[0], &soft)) return soft;
    return std::nullopt;
  }
  return std::nullopt;
}

double ParseBootTime(absl::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    double t;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(line), &t)) return t;
  }
  return 0;
}

ProcessFigures ReadProcessFigures() {
  ProcessFigures p;
  // Boot time is fixed: read /proc/stat once per process.
  static const double boot_time = ParseBootTime(ReadSmallFile("/proc/stat"));
  ParseProcStat(ReadSmallFile("/proc/self/stat"), static_cast<double>(sysconf(_SC_CLK_TCK)),
                static_cast<double>(sysconf(_SC_PAGESIZE)), boot_time, &p);
  p.open_fds = CountOpenFds();
  p.max_fds = ParseMaxOpenFiles(ReadSmallFile("/proc/self/limits"));
  return p;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  const ProcessFigures p = ReadProcessFigures();
  std::vector<prometheus::MetricFamily> out;
  auto add = [&out](const std::optional<double>& v, const char* name, const char* help,
                    MetricType type) {
    if (v) out.push_back(Family(name, help, type, *v));
  };
  add(p.cpu_seconds, "process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.", MetricType::Counter);
  add(p.resident_bytes, "process_resident_memory_bytes", "Resident memory size in bytes.",
      MetricType::Gauge);
  add(p.virtual_bytes, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
      MetricType::Gauge);
  add(p.open_fds, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  add(p.max_fds, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge);
  add(p.start_time_seconds, "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", MetricType::Gauge);
  return out;
}

}  // namespace recsys

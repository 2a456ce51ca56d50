// Process metrics in the Prometheus client libraries' standard names, read
// from /proc at collection time (every scrape sees fresh values):
//   process_cpu_seconds_total       counter, user + system CPU time (s)
//   process_resident_memory_bytes   gauge, resident set size
//   process_virtual_memory_bytes    gauge, virtual memory size
//   process_open_fds                gauge, entries of /proc/self/fd
//   process_max_fds                 gauge, soft "Max open files" limit
//   process_start_time_seconds      gauge, process start (Unix seconds)
// A figure that cannot be read (no /proc, e.g. not Linux) is left out rather
// than exported as 0.
// Threading: Collect() is safe to call concurrently. Cost: a few small /proc
// reads and one directory listing (~tens of µs).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys {

// The figures one collection reads; absent = unreadable.
struct ProcessFigures {
  std::optional<double> cpu_seconds;
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  std::optional<double> start_time_seconds;
};

// Parses the contents of /proc/<pid>/stat. `ticks_per_second` (sysconf
// _SC_CLK_TCK), `page_bytes` and `boot_time_seconds` (btime of /proc/stat)
// convert its units. Sets cpu_seconds, resident_bytes, virtual_bytes and
// start_time_seconds (the last only when boot_time_seconds > 0); false if the
// text is malformed.
bool ParseProcStat(absl::string_view stat, double ticks_per_second, double page_bytes,
                   double boot_time_seconds, ProcessFigures* out);
// The soft limit of "Max open files" in the contents of /proc/<pid>/limits
// ("unlimited" → absent).
std::optional<double> ParseMaxOpenFiles(absl::string_view limits);
// The "btime" line of /proc/stat, 0 if absent.
double ParseBootTime(absl::string_view proc_stat);

// Reads the figures of the calling process.
ProcessFigures ReadProcessFigures();

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace recsys

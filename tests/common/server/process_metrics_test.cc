#include "common/server/process_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/build_info.h"
#include "common/server/metrics.h"
#include "tests/common/server/raw_http_client.h"

namespace recsys {
namespace {

// Sample lines of the exposition without labels: name → value.
std::map<std::string, double> UnlabelledSamples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#' || absl::StrContains(line, "{")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    double v;
    if (f.size() >= 2 && absl::SimpleAtod(f[1], &v)) out[std::string(f[0])] = v;
  }
  return out;
}

// A stat line whose command name holds spaces and parentheses parses from the last ')'.
TEST(ProcessMetricsTest, ParsesProcStatWithAwkwardCommandName) {
  // Fields 3..24: state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice threads itrealvalue
  // starttime vsize rss.
  const std::string stat =
      "1234 (my (odd) proc) S 1 2 3 0 -1 4194304 10 0 0 0 250 150 0 0 20 0 4 0 "
      "5000 104857600 2560 18446744073709551615\n";
  ProcessFigures p;
  ASSERT_TRUE(ParseProcStat(stat, 100, 4096, 1700000000, &p));
  EXPECT_DOUBLE_EQ(*p.cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(*p.virtual_bytes, 104857600);
  EXPECT_DOUBLE_EQ(*p.resident_bytes, 2560.0 * 4096);
  EXPECT_DOUBLE_EQ(*p.start_time_seconds, 1700000050);
  ProcessFigures bad;
  EXPECT_FALSE(ParseProcStat("1234 (x) S 1 2", 100, 4096, 0, &bad));
  EXPECT_FALSE(bad.cpu_seconds.has_value());
}

// The soft open-files limit is read; "unlimited" is left out.
TEST(ProcessMetricsTest, ParsesMaxOpenFilesAndBootTime) {
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n";
  EXPECT_EQ(ParseMaxOpenFiles(limits), 1024);
  EXPECT_FALSE(ParseMaxOpenFiles("Max open files  unlimited unlimited files\n").has_value());
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\n"), 0);
}

// A live scrape carries the six process figures with sane values, and the build info.
TEST(ProcessMetricsTest, ScrapeHasSaneProcessFiguresAndBuildInfo) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::string response =
      testing::Exchange((*metrics)->port(), testing::RequestText("GET", "/metrics"));
  ASSERT_TRUE(absl::StrContains(response, " 200 ")) << response.substr(0, 200);
  const std::map<std::string, double> s = UnlabelledSamples(response);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    ASSERT_TRUE(s.count(name)) << name << " missing from\n" << response;
  }
  EXPECT_GE(s.at("process_cpu_seconds_total"), 0);
  EXPECT_GT(s.at("process_resident_memory_bytes"), 0);
  EXPECT_GE(s.at("process_virtual_memory_bytes"), s.at("process_resident_memory_bytes"));
  EXPECT_GE(s.at("process_open_fds"), 3);  // stdin, stdout, stderr at least
  EXPECT_GE(s.at("process_max_fds"), s.at("process_open_fds"));
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  // This test process started within the last hour, and not in the future
  // (start time has clock-tick resolution: allow a second).
  EXPECT_LE(s.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(s.at("process_start_time_seconds"), now - 3600);
  EXPECT_TRUE(absl::StrContains(response, "# TYPE process_cpu_seconds_total counter"));

  const BuildInfo& b = GetBuildInfo();
  const std::string build_line = std::string("recsys_build_info{build_type=\"") + b.build_type +
                                 "\",commit=\"" + b.commit + "\",version=\"" + b.version + "\"} 1";
  EXPECT_TRUE(absl::StrContains(response, build_line)) << build_line << "\n" << response;
}

// Values are read per scrape: open descriptors follow the process.
TEST(ProcessMetricsTest, FiguresAreFreshPerCollection) {
  const double before = *ReadProcessFigures().open_fds;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const double during = *ReadProcessFigures().open_fds;
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(during, before + 2);
  EXPECT_EQ(*ReadProcessFigures().open_fds, before);
}

}  // namespace
}  // namespace recsys

// Latency recording and reporting for recsys-load, plus the open-loop schedule.
// Nothing here touches the network, so all of it is unit-tested with a fake clock.
//
//   StatsRecorder recorder;                        // shared by every gRPC thread
//   recorder.Record(code, message, latency);       // once per measured call
//   LoadStats stats = recorder.Merged();           // after the run
//   Report report = BuildReport(stats, total);
//   std::cout << FormatText(report);  WriteFile(path, FormatJson(report, now, options));
//
// The JSON carries ghz's report fields (count, total, average, fastest, slowest,
// rps, latencyDistribution, histogram, statusCodeDistribution, errorDistribution,
// date, options), durations in nanoseconds, so ghz tooling can read it. It adds
// fields ghz does not have: latency percentiles per status code (how fast a
// refusal is, next to how fast an answer is) and, for Recommend, the answers per
// path and the degraded ones with the notes that explain them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace recsys::load {

// An HDR-style histogram of non-negative integers (nanoseconds here): values below
// 2^(kSubBucketBits+1) are exact, larger ones fall in log-linear buckets of relative
// width <= 2^-kSubBucketBits (0.78 %). Memory is fixed (~58 KiB) whatever the run
// length or the range (0 .. 2^63 ns). Not thread-safe: StatsRecorder shards it.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;

  LatencyHistogram();

  // Negative values are recorded as 0.
  void Record(int64_t value);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  // Exact extremes and sum of the recorded values; 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const;

  // Nearest-rank percentile (the value of the ceil(p/100 * count)-th smallest
  // sample, as ghz computes it), reported as the highest value of its bucket and
  // clamped to [min, max]: exact below 256, else at most 0.78 % above the sample.
  // `percentile` in [0, 100]; 0 when empty.
  int64_t ValueAtPercentile(double percentile) const;

  // Calls fn(lowest, highest, count) for every non-empty bucket in increasing
  // order; [lowest, highest] are the inclusive value bounds of the bucket.
  template <typename Fn>
  void ForEachBucket(Fn fn) const {
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] != 0) fn(BucketLowest(i), BucketHighest(i), counts_[i]);
    }
  }

  // Bucket arithmetic, public for tests.
  static size_t BucketIndex(int64_t value);
  static int64_t BucketLowest(size_t index);
  static int64_t BucketHighest(size_t index);

 private:
  std::vector<int64_t> counts_;  // size NumBuckets()
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

// Everything measured in one run (or one shard of it). Keys of status_counts are
// gRPC canonical code names ("OK", "DEADLINE_EXCEEDED", ...) plus
// kClientOverloaded for calls the client dropped instead of sending.
struct LoadStats {
  // Every measured call: answered, failed, or dropped by the client.
  int64_t count = 0;
  // Latencies of calls that got an answer, any status (`average`, like ghz).
  LatencyHistogram answered_latency;
  // Latencies of OK calls only (fastest/slowest/percentiles/histogram, like ghz).
  LatencyHistogram ok_latency;
  std::map<std::string, int64_t> status_counts;
  // "CODE: message" -> count. At most kMaxDistinctErrors keys per shard; the rest
  // are counted under kOtherErrors so an error text with ids cannot grow memory.
  std::map<std::string, int64_t> errors;
  // Latencies of answered calls per status code name (OK included).
  std::map<std::string, LatencyHistogram> latency_by_code;
  // Recommend only, OK answers: count per path name ("PATH_FULL", ...), the
  // number marked degraded, and their notes joined by "; " -> count (capped at
  // kMaxDistinctErrors keys per shard like `errors`).
  std::map<std::string, int64_t> paths;
  int64_t degraded = 0;
  std::map<std::string, int64_t> degraded_notes;

  void Merge(const LoadStats& other);
};

inline constexpr char kClientOverloaded[] = "CLIENT_OVERLOADED";
inline constexpr char kClientOverloadedError[] = "client overloaded";
inline constexpr char kOtherErrors[] = "(other errors)";
inline constexpr size_t kMaxDistinctErrors = 100;

// gRPC canonical name of a status code number ("OK", "INVALID_ARGUMENT", ...);
// "CODE_<n>" for numbers outside 0..16.
std::string StatusCodeName(int code);

// Thread-safe collector: any number of threads record concurrently (calls land
// in one of a few mutex-guarded shards chosen by thread), Merged() combines them.
class StatsRecorder {
 public:
  StatsRecorder();

  // One answered call: `code` is the gRPC status code number, `message` its
  // error message (ignored for OK), `latency` from the intended send time.
  void Record(int code, absl::string_view message, absl::Duration latency);
  // What an OK Recommend answer said about itself: its path name, whether it is
  // degraded and, if so, its notes joined by "; ". Called after Record().
  void RecordAnswer(absl::string_view path, bool degraded, absl::string_view notes);
  // One call the client did not send because too many were outstanding.
  void RecordClientOverloaded();

  LoadStats Merged() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    LoadStats stats ABSL_GUARDED_BY(mu);
  };
  Shard& ShardForThisThread();

  static constexpr int kShards = 8;
  std::unique_ptr<Shard[]> shards_;
};

// Latency of the answered calls with one status code.
struct CodeLatency {
  int64_t count = 0;
  absl::Duration p50;
  absl::Duration p90;
  absl::Duration p99;
  absl::Duration max;
};

struct HistogramBucket {
  double mark_s = 0;  // upper bound of the bucket, seconds (ghz "mark")
  int64_t count = 0;
  double frequency = 0;  // count / OK calls
};

// The summary printed and written as JSON.
struct Report {
  int64_t count = 0;
  absl::Duration total;    // measured wall time (first intended send .. last answer)
  absl::Duration average;  // over every answered call, OK or not (as ghz)
  absl::Duration fastest;  // over OK calls (as ghz)
  absl::Duration slowest;
  double rps = 0;  // count / total
  // (percentage, latency) for 10, 25, 50, 75, 90, 95, 99, 99.9 over OK calls.
  std::vector<std::pair<double, absl::Duration>> percentiles;
  // The same over every answered call (OK or not); not in ghz's JSON. Differs
  // from `percentiles` when calls fail, e.g. at saturation, where the slowest
  // calls are the ones that hit their deadline.
  std::vector<std::pair<double, absl::Duration>> percentiles_answered;
  int64_t answered = 0;
  // 11 marks from fastest to slowest in 10 equal steps; each counts the OK calls
  // in (previous mark, mark] (the first: == fastest), as ghz does.
  std::vector<HistogramBucket> histogram;
  std::map<std::string, int64_t> status_codes;
  std::map<std::string, int64_t> errors;
  // Not in ghz's JSON (see LoadStats).
  std::map<std::string, CodeLatency> latency_by_code;
  std::map<std::string, int64_t> paths;
  int64_t degraded = 0;
  std::map<std::string, int64_t> degraded_notes;
};

// `total` is the measured wall time of the run.
Report BuildReport(const LoadStats& stats, absl::Duration total);

// Human-readable summary in ghz's layout.
std::string FormatText(const Report& report);

// One value of the JSON "options" object.
using OptionValue = std::variant<std::string, int64_t, double, bool>;
using Options = std::vector<std::pair<std::string, OptionValue>>;

// ghz's JSON report. Durations are integer nanoseconds, `rps` and histogram marks
// (seconds) are floats, `date` is RFC 3339. `options` is written in order.
std::string FormatJson(const Report& report, absl::Time date, const Options& options);

// Writes `contents` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// --- Open loop ------------------------------------------------------------------

// Time source of the load loops. Now() must be monotonic; tests use a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Returns at or after `t` (at once if `t` has passed).
  virtual void SleepUntil(absl::Time t) = 0;
};

// std::chrono::steady_clock expressed as absl::Time (not wall time: only
// differences are meaningful). Thread-safe.
class SteadyClock : public Clock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time t) override;
};

// The intended send times of an open-loop run at `rate` calls per second: call i
// is due at start + i / rate, whatever happened to earlier calls. Latency is
// measured from that intended time, so a stalled client or server shows up as
// latency instead of silently sending less (no coordinated omission).
// Not thread-safe: one scheduling thread owns it.
class OpenLoopScheduler {
 public:
  // `rate` > 0 calls per second; calls are due in [start, end).
  OpenLoopScheduler(double rate, absl::Time start, absl::Time end = absl::InfiniteFuture());

  absl::Time IntendedSendTime(int64_t i) const;

  struct Tick {
    int64_t index;
    absl::Time intended;
  };
  // Sleeps on `clock` until the next call is due and returns it; nullopt (at
  // once, without sleeping) when the next call would be due at or after `end`.
  // When the caller is behind schedule it returns at once: the intended time
  // stays on schedule, so late calls are charged the lag.
  std::optional<Tick> Next(Clock& clock);

 private:
  double rate_;
  absl::Time start_;
  absl::Time end_;
  int64_t next_ = 0;
};

// Latency charged to a call: from its intended send time to its completion.
inline absl::Duration LatencyFromIntended(absl::Time intended, absl::Time completed) {
  return completed - intended;
}

}  // namespace recsys::load

#include "bench/load/load_stats.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace recsys::load {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// A clock that only moves when told to, or when slept on.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() override { return now_; }
  void SleepUntil(absl::Time t) override {
    ++sleeps_;
    if (t > now_) now_ = t;
  }
  void Set(absl::Time t) { now_ = t; }
  int sleeps() const { return sleeps_; }

 private:
  absl::Time now_;
  int sleeps_ = 0;
};

const absl::Time kT0 = absl::FromUnixSeconds(1000);

Struct ParseJson(const std::string& json) {
  Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

double Number(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  EXPECT_NE(it, s.fields().end()) << key;
  return it == s.fields().end() ? -1 : it->second.number_value();
}

// 1..100 ns are recorded exactly, so nearest-rank percentiles are the ranks themselves.
TEST(LatencyHistogramTest, PercentilesOfHandMadeDistribution) {
  LatencyHistogram h;
  for (int v = 100; v >= 1; --v) h.Record(v);
  EXPECT_EQ(h.count(), 100);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_EQ(h.ValueAtPercentile(10), 10);
  EXPECT_EQ(h.ValueAtPercentile(25), 25);
  EXPECT_EQ(h.ValueAtPercentile(50), 50);
  EXPECT_EQ(h.ValueAtPercentile(75), 75);
  EXPECT_EQ(h.ValueAtPercentile(90), 90);
  EXPECT_EQ(h.ValueAtPercentile(95), 95);
  EXPECT_EQ(h.ValueAtPercentile(99), 99);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 100);
  EXPECT_EQ(h.ValueAtPercentile(0), 1);
  EXPECT_EQ(h.ValueAtPercentile(100), 100);
}

// A long tail in realistic units: 990 x 1 ms, 9 x 10 ms, 1 x 100 ms.
TEST(LatencyHistogramTest, TailPercentilesWithinOnePercentAndNeverBelow) {
  LatencyHistogram h;
  for (int i = 0; i < 990; ++i) h.Record(1'000'000);
  for (int i = 0; i < 9; ++i) h.Record(10'000'000);
  h.Record(100'000'000);
  EXPECT_GE(h.ValueAtPercentile(50), 1'000'000);  // the top of 1 ms's bucket
  EXPECT_LE(h.ValueAtPercentile(50), 1'010'000);
  EXPECT_GE(h.ValueAtPercentile(99), 1'000'000);
  EXPECT_LE(h.ValueAtPercentile(99), 1'010'000);
  EXPECT_GE(h.ValueAtPercentile(99.9), 10'000'000);  // rank 999 of 1000
  EXPECT_LE(h.ValueAtPercentile(99.9), 10'100'000);
  EXPECT_EQ(h.ValueAtPercentile(100), 100'000'000);
  EXPECT_EQ(h.max(), 100'000'000);
}

// Every value lies in its bucket; buckets tile the range; width <= 1/128 of the value.
TEST(LatencyHistogramTest, BucketPrecision) {
  std::vector<int64_t> values;
  for (int64_t v = 0; v < 5000; ++v) values.push_back(v);
  for (double v = 5000; v < 9e18; v *= 1.0137) values.push_back(static_cast<int64_t>(v));
  values.push_back(std::numeric_limits<int64_t>::max());
  for (int64_t v : values) {
    const size_t i = LatencyHistogram::BucketIndex(v);
    const int64_t lo = LatencyHistogram::BucketLowest(i);
    const int64_t hi = LatencyHistogram::BucketHighest(i);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    if (v < 256) {
      ASSERT_EQ(lo, v);
      ASSERT_EQ(hi, v);
    } else {
      ASSERT_LE(static_cast<double>(hi - lo + 1) / static_cast<double>(lo), 1.0 / 128) << v;
    }
  }
  const size_t last = LatencyHistogram::BucketIndex(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(LatencyHistogram::BucketHighest(last), std::numeric_limits<int64_t>::max());
  for (size_t i = 0; i < last; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketHighest(i) + 1, LatencyHistogram::BucketLowest(i + 1)) << i;
  }
}

// Recording into two histograms and merging equals recording into one.
TEST(LatencyHistogramTest, MergeEqualsSingleRecording) {
  LatencyHistogram a, b, all;
  for (int64_t v = 1; v < 200'000; v = v * 3 + 1) {
    ((v % 2) ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {10.0, 50.0, 90.0, 99.0}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

// Four threads record concurrently; the merged stats see every call.
TEST(StatsRecorderTest, MergesAcrossThreads) {
  StatsRecorder recorder;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&recorder, t] {
      for (int i = 0; i < 1000; ++i) {
        if (t == 0 && i % 10 == 0) {
          recorder.Record(4, "Deadline Exceeded", absl::Milliseconds(50));
        } else {
          recorder.Record(0, "", absl::Microseconds(100 + i));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  recorder.RecordClientOverloaded();
  const LoadStats stats = recorder.Merged();
  EXPECT_EQ(stats.count, 4001);
  EXPECT_EQ(stats.answered_latency.count(), 4000);
  EXPECT_EQ(stats.answered_latency.max(), 50'000'000);
  EXPECT_EQ(stats.ok_latency.count(), 3900);
  EXPECT_EQ(stats.status_counts.at("OK"), 3900);
  EXPECT_EQ(stats.status_counts.at("DEADLINE_EXCEEDED"), 100);
  EXPECT_EQ(stats.status_counts.at(kClientOverloaded), 1);
  EXPECT_EQ(stats.errors.at("DEADLINE_EXCEEDED: Deadline Exceeded"), 100);
  EXPECT_EQ(stats.errors.at("client overloaded"), 1);
  EXPECT_EQ(stats.ok_latency.min(), 100'000);
  EXPECT_EQ(stats.ok_latency.max(), 1'099'000);
}

// Error texts with ids cannot grow the error map without bound.
TEST(StatsRecorderTest, DistinctErrorsAreCapped) {
  StatsRecorder recorder;
  for (int i = 0; i < 500; ++i) {
    recorder.Record(5, "unknown user u" + std::to_string(i), absl::Milliseconds(1));
  }
  const LoadStats stats = recorder.Merged();
  EXPECT_EQ(stats.errors.size(), kMaxDistinctErrors + 1);
  EXPECT_EQ(stats.errors.at(kOtherErrors), 500 - static_cast<int64_t>(kMaxDistinctErrors));
}

TEST(StatusCodeNameTest, CanonicalNames) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(1), "CANCELLED");
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(8), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(14), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(17), "CODE_17");
}

// 10 OK calls of 1..10 ms and one error of 100 ms over 2 s: ghz's definitions.
TEST(ReportTest, GhzDefinitions) {
  StatsRecorder recorder;
  for (int ms = 1; ms <= 10; ++ms) recorder.Record(0, "", absl::Milliseconds(ms));
  recorder.Record(14, "connection refused", absl::Milliseconds(100));
  const Report r = BuildReport(recorder.Merged(), absl::Seconds(2));
  EXPECT_EQ(r.count, 11);
  EXPECT_DOUBLE_EQ(r.rps, 5.5);
  EXPECT_EQ(r.average, absl::Nanoseconds(14090909));  // 155 ms / 11: every answered call
  EXPECT_EQ(r.fastest, absl::Milliseconds(1));        // OK calls only
  EXPECT_EQ(r.slowest, absl::Milliseconds(10));
  ASSERT_EQ(r.percentiles.size(), 8u);
  EXPECT_EQ(r.percentiles[2].first, 50);
  EXPECT_GE(r.percentiles[2].second, absl::Milliseconds(5));
  EXPECT_LE(r.percentiles[2].second, absl::Microseconds(5040));
  ASSERT_EQ(r.histogram.size(), 11u);
  EXPECT_DOUBLE_EQ(r.histogram.front().mark_s, 0.001);
  EXPECT_DOUBLE_EQ(r.histogram.back().mark_s, 0.010);
  int64_t in_histogram = 0;
  for (const HistogramBucket& b : r.histogram) in_histogram += b.count;
  EXPECT_EQ(in_histogram, 10);
  // Marks step 0.9 ms: 1 ms -> mark 0; 2 ms -> mark 2 (1.9 < 2 <= 2.8); 10 ms -> last.
  EXPECT_EQ(r.histogram[0].count, 1);
  EXPECT_EQ(r.histogram[1].count, 0);
  EXPECT_EQ(r.histogram[2].count, 1);
  EXPECT_EQ(r.histogram[10].count, 1);
  EXPECT_DOUBLE_EQ(r.histogram[0].frequency, 0.1);
  const std::string text = FormatText(r);
  EXPECT_NE(text.find("Count:        11"), std::string::npos) << text;
  EXPECT_NE(text.find("[UNAVAILABLE]"), std::string::npos) << text;
  EXPECT_NE(text.find("99.9 % in"), std::string::npos) << text;
  // The failed call is the slowest answered one: only the second table shows it.
  EXPECT_EQ(r.answered, 11);
  ASSERT_EQ(r.percentiles_answered.size(), 8u);
  EXPECT_EQ(r.percentiles_answered.back().second, absl::Milliseconds(100));
  EXPECT_NE(text.find("every answered call"), std::string::npos) << text;
}

// The JSON parses, uses ghz's field names, and durations are integer nanoseconds.
TEST(ReportTest, JsonHasGhzFieldsInNanoseconds) {
  StatsRecorder recorder;
  for (int ms = 1; ms <= 10; ++ms) recorder.Record(0, "", absl::Milliseconds(ms));
  recorder.Record(3, "bad \"user\"\n", absl::Milliseconds(1));
  const Report r = BuildReport(recorder.Merged(), absl::Seconds(2));
  const std::string json = FormatJson(r, absl::FromUnixSeconds(1700000000),
                                      {{"host", std::string("localhost:1")},
                                       {"concurrency", int64_t{8}},
                                       {"qps", 0.0},
                                       {"insecure", true}});
  const Struct s = ParseJson(json);
  EXPECT_EQ(Number(s, "count"), 11);
  EXPECT_EQ(Number(s, "total"), 2e9);
  EXPECT_EQ(Number(s, "fastest"), 1e6);
  EXPECT_EQ(Number(s, "slowest"), 1e7);
  EXPECT_EQ(Number(s, "average"), 5090909);  // (55 + 1) ms / 11, rounded ns
  EXPECT_DOUBLE_EQ(Number(s, "rps"), 5.5);
  EXPECT_EQ(s.fields().at("date").string_value(), "2023-11-14T22:13:20+00:00");

  const Struct& options = s.fields().at("options").struct_value();
  EXPECT_EQ(options.fields().at("host").string_value(), "localhost:1");
  EXPECT_EQ(Number(options, "concurrency"), 8);
  EXPECT_TRUE(options.fields().at("insecure").bool_value());

  const Struct& codes = s.fields().at("statusCodeDistribution").struct_value();
  EXPECT_EQ(Number(codes, "OK"), 10);
  EXPECT_EQ(Number(codes, "INVALID_ARGUMENT"), 1);
  const Struct& errors = s.fields().at("errorDistribution").struct_value();
  EXPECT_EQ(Number(errors, "INVALID_ARGUMENT: bad \"user\"\n"), 1);

  const auto& latencies = s.fields().at("latencyDistribution").list_value().values();
  ASSERT_EQ(latencies.size(), 7);
  const int expected_percentages[] = {10, 25, 50, 75, 90, 95, 99};
  for (int i = 0; i < 7; ++i) {
    const Struct& entry = latencies[i].struct_value();
    EXPECT_EQ(Number(entry, "percentage"), expected_percentages[i]);
    EXPECT_GE(Number(entry, "latency"), 1e6);  // ns, not ms or s
    EXPECT_LE(Number(entry, "latency"), 1e7);
  }
  const auto& histogram = s.fields().at("histogram").list_value().values();
  ASSERT_EQ(histogram.size(), 11);
  EXPECT_DOUBLE_EQ(Number(histogram[0].struct_value(), "mark"), 0.001);  // seconds
  EXPECT_DOUBLE_EQ(Number(histogram[10].struct_value(), "mark"), 0.010);
  EXPECT_DOUBLE_EQ(Number(histogram[0].struct_value(), "frequency"), 0.1);
  EXPECT_EQ(Number(histogram[0].struct_value(), "count"), 1);
}

// With no OK call, fastest/slowest/distributions are empty but the JSON still parses.
TEST(ReportTest, AllFailedStillValidJson) {
  StatsRecorder recorder;
  recorder.RecordClientOverloaded();
  const Report r = BuildReport(recorder.Merged(), absl::ZeroDuration());
  EXPECT_EQ(r.rps, 0);
  EXPECT_TRUE(r.histogram.empty());
  const Struct s = ParseJson(FormatJson(r, kT0, {}));
  EXPECT_EQ(Number(s, "count"), 1);
  EXPECT_EQ(Number(s.fields().at("statusCodeDistribution").struct_value(), kClientOverloaded), 1);
}

// Refusals and answers get their own percentiles: a fast RESOURCE_EXHAUSTED is
// not hidden among slow OK calls, in the text and in the JSON.
TEST(ReportTest, LatencyPerStatusCode) {
  StatsRecorder recorder;
  for (int ms = 1; ms <= 100; ++ms) recorder.Record(0, "", absl::Milliseconds(ms));
  for (int us = 1; us <= 10; ++us) {
    recorder.Record(8, "too many requests in flight", absl::Microseconds(100 * us));
  }
  const Report r = BuildReport(recorder.Merged(), absl::Seconds(1));
  ASSERT_EQ(r.latency_by_code.size(), 2u);
  const CodeLatency& ok = r.latency_by_code.at("OK");
  EXPECT_EQ(ok.count, 100);
  EXPECT_GE(ok.p99, absl::Milliseconds(99));
  EXPECT_LE(ok.p99, absl::Microseconds(99'800));
  EXPECT_EQ(ok.max, absl::Milliseconds(100));
  const CodeLatency& refused = r.latency_by_code.at("RESOURCE_EXHAUSTED");
  EXPECT_EQ(refused.count, 10);
  EXPECT_GE(refused.p50, absl::Microseconds(500));
  EXPECT_LE(refused.p50, absl::Microseconds(504));
  EXPECT_GE(refused.p99, absl::Milliseconds(1));
  EXPECT_LE(refused.p99, absl::Microseconds(1008));
  EXPECT_EQ(refused.max, absl::Milliseconds(1));
  const std::string text = FormatText(r);
  EXPECT_NE(text.find("Latency by status code"), std::string::npos) << text;
  EXPECT_NE(text.find("[RESOURCE_EXHAUSTED]\t10 calls"), std::string::npos) << text;

  const Struct s = ParseJson(FormatJson(r, kT0, {}));
  const Struct& by_code = s.fields().at("latencyByStatusCode").struct_value();
  const Struct& json_refused = by_code.fields().at("RESOURCE_EXHAUSTED").struct_value();
  EXPECT_EQ(Number(json_refused, "count"), 10);
  EXPECT_EQ(Number(json_refused, "max"), 1e6);  // ns
  EXPECT_EQ(Number(json_refused, "p99"), absl::ToInt64Nanoseconds(refused.p99));
  EXPECT_EQ(Number(by_code.fields().at("OK").struct_value(), "count"), 100);
}

// Recommend answers are counted per path; degraded ones with their notes.
TEST(ReportTest, PathsAndDegradedAnswers) {
  StatsRecorder recorder;
  for (int i = 0; i < 7; ++i) {
    recorder.Record(0, "", absl::Milliseconds(2));
    recorder.RecordAnswer("PATH_FULL", false, "");
  }
  for (int i = 0; i < 2; ++i) {
    recorder.Record(0, "", absl::Milliseconds(1));
    recorder.RecordAnswer("PATH_TRENDING_FALLBACK", true, "retrieval failed: UNAVAILABLE");
  }
  recorder.Record(0, "", absl::Milliseconds(1));
  recorder.RecordAnswer("PATH_COLD_START", false, "");
  const Report r = BuildReport(recorder.Merged(), absl::Seconds(1));
  EXPECT_EQ(r.paths.at("PATH_FULL"), 7);
  EXPECT_EQ(r.paths.at("PATH_TRENDING_FALLBACK"), 2);
  EXPECT_EQ(r.paths.at("PATH_COLD_START"), 1);
  EXPECT_EQ(r.degraded, 2);
  EXPECT_EQ(r.degraded_notes.at("retrieval failed: UNAVAILABLE"), 2);
  const std::string text = FormatText(r);
  EXPECT_NE(text.find("Degraded:     2"), std::string::npos) << text;

  const Struct s = ParseJson(FormatJson(r, kT0, {}));
  EXPECT_EQ(Number(s, "degraded"), 2);
  EXPECT_EQ(Number(s.fields().at("pathDistribution").struct_value(), "PATH_FULL"), 7);
  EXPECT_EQ(Number(s.fields().at("degradedNotes").struct_value(), "retrieval failed: UNAVAILABLE"),
            2);
}

// Notes with ids cannot grow the degraded-notes map without bound either.
TEST(StatsRecorderTest, DistinctDegradedNotesAreCapped) {
  StatsRecorder recorder;
  for (int i = 0; i < 300; ++i) {
    recorder.RecordAnswer("PATH_RETRIEVAL_ONLY", true, "ranking failed " + std::to_string(i));
  }
  const LoadStats stats = recorder.Merged();
  EXPECT_EQ(stats.degraded, 300);
  EXPECT_EQ(stats.degraded_notes.size(), kMaxDistinctErrors + 1);
  EXPECT_EQ(stats.degraded_notes.at(kOtherErrors), 300 - static_cast<int64_t>(kMaxDistinctErrors));
}

// Intended send times are t0 + i / R, computed afresh (no drift).
TEST(OpenLoopSchedulerTest, IntendedTimesFollowTheRate) {
  OpenLoopScheduler at_1000(1000, kT0);
  EXPECT_EQ(at_1000.IntendedSendTime(0), kT0);
  EXPECT_EQ(at_1000.IntendedSendTime(1), kT0 + absl::Milliseconds(1));
  EXPECT_EQ(at_1000.IntendedSendTime(123456), kT0 + absl::Milliseconds(123456));
  OpenLoopScheduler at_3(3, kT0);
  EXPECT_EQ(at_3.IntendedSendTime(1), kT0 + absl::Nanoseconds(333333333));
  EXPECT_EQ(at_3.IntendedSendTime(3), kT0 + absl::Seconds(1));
  EXPECT_EQ(at_3.IntendedSendTime(3'000'000), kT0 + absl::Seconds(1'000'000));
  OpenLoopScheduler at_half(0.5, kT0);
  EXPECT_EQ(at_half.IntendedSendTime(2), kT0 + absl::Seconds(4));
}

// On time, Next sleeps until each call is due and returns that time.
TEST(OpenLoopSchedulerTest, NextSleepsUntilDue) {
  FakeClock clock(kT0);
  OpenLoopScheduler schedule(100, kT0, kT0 + absl::Milliseconds(50));
  for (int i = 0; i < 5; ++i) {
    auto tick = schedule.Next(clock);
    ASSERT_TRUE(tick.has_value());
    EXPECT_EQ(tick->index, i);
    EXPECT_EQ(tick->intended, kT0 + absl::Milliseconds(10 * i));
    EXPECT_EQ(clock.Now(), tick->intended);
  }
  // The sixth call would be due at the end: none, and no sleep for it.
  const int sleeps = clock.sleeps();
  EXPECT_FALSE(schedule.Next(clock).has_value());
  EXPECT_EQ(clock.sleeps(), sleeps);
}

// A sender stalled for 45 ms keeps the schedule: the late calls go out at once
// and their latency counts from when they were due, not from when they were sent.
TEST(OpenLoopSchedulerTest, LateCallsAreChargedTheWait) {
  FakeClock clock(kT0);
  OpenLoopScheduler schedule(100, kT0);
  ASSERT_EQ(schedule.Next(clock)->intended, kT0);
  clock.Set(kT0 + absl::Milliseconds(45));  // the sender stalls
  std::vector<absl::Time> due;
  for (int i = 0; i < 4; ++i) {
    auto tick = schedule.Next(clock);
    due.push_back(tick->intended);
    EXPECT_EQ(clock.Now(), kT0 + absl::Milliseconds(45)) << "no sleep while behind";
  }
  EXPECT_EQ(due[0], kT0 + absl::Milliseconds(10));
  EXPECT_EQ(due[3], kT0 + absl::Milliseconds(40));
  // Sent at 45 ms, answered 2 ms later: 37 ms of latency, not 2.
  const absl::Time completed = clock.Now() + absl::Milliseconds(2);
  EXPECT_EQ(LatencyFromIntended(due[0], completed), absl::Milliseconds(37));
  // Back on schedule: the next call (50 ms) is slept for.
  EXPECT_EQ(schedule.Next(clock)->intended, kT0 + absl::Milliseconds(50));
  EXPECT_EQ(clock.Now(), kT0 + absl::Milliseconds(50));
}

}  // namespace
}  // namespace recsys::load

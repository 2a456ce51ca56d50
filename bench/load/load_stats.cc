#include "bench/load/load_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace recsys::load {
namespace {

constexpr int64_t kSubBuckets = int64_t{1} << LatencyHistogram::kSubBucketBits;
// Values below this are their own bucket.
constexpr int64_t kExactLimit = 2 * kSubBuckets;
// Highest bucket index + 1: int64 values have their top bit at most at 62.
constexpr size_t kNumBuckets =
    static_cast<size_t>((62 - LatencyHistogram::kSubBucketBits + 2) * kSubBuckets);

int64_t ToNanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

std::string FormatMs(absl::Duration d) {
  return absl::StrFormat("%.3f ms", absl::ToDoubleMilliseconds(d));
}

// A finite JSON number (NaN / infinity are not JSON).
std::string JsonNumber(double v) {
  if (!std::isfinite(v)) v = 0;
  return absl::StrFormat("%.10g", v);
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonCountMap(const std::map<std::string, int64_t>& m) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, n] : m) {
    absl::StrAppend(&out, first ? "" : ", ", JsonString(key), ": ", n);
    first = false;
  }
  out += "}";
  return out;
}

void AddCount(std::map<std::string, int64_t>& m, const std::string& key, int64_t n) { m[key] += n; }

// Counts `key` in `m`, or under kOtherErrors once `m` holds kMaxDistinctErrors keys.
void AddCapped(std::map<std::string, int64_t>& m, std::string key) {
  if (m.size() >= kMaxDistinctErrors && !m.contains(key)) key = kOtherErrors;
  ++m[key];
}

}  // namespace

// --- LatencyHistogram -------------------------------------------------------------

LatencyHistogram::LatencyHistogram() : counts_(kNumBuckets, 0) {}

size_t LatencyHistogram::BucketIndex(int64_t value) {
  if (value < kExactLimit) return static_cast<size_t>(std::max<int64_t>(value, 0));
  const int msb = 63 - __builtin_clzll(static_cast<uint64_t>(value));
  const int shift = msb - kSubBucketBits;  // >= 1
  const int64_t top = value >> shift;      // in [kSubBuckets, 2 * kSubBuckets)
  return static_cast<size_t>((shift + 1) * kSubBuckets + (top - kSubBuckets));
}

int64_t LatencyHistogram::BucketLowest(size_t index) {
  const int64_t i = static_cast<int64_t>(index);
  if (i < kExactLimit) return i;
  const int shift = static_cast<int>(i / kSubBuckets) - 1;
  const int64_t top = i % kSubBuckets + kSubBuckets;
  return top << shift;
}

int64_t LatencyHistogram::BucketHighest(size_t index) {
  const int64_t i = static_cast<int64_t>(index);
  if (i < kExactLimit) return i;
  const int shift = static_cast<int>(i / kSubBuckets) - 1;
  return BucketLowest(index) + ((int64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  ++counts_[BucketIndex(value)];
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  ++count_;
  sum_ += static_cast<double>(value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0 : sum_ / static_cast<double>(count_);
}

int64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // Nearest rank; the epsilon keeps e.g. 99.9 % of 1000 at rank 999 despite
  // 99.9 not being exact in binary.
  const double exact_rank = percentile / 100.0 * static_cast<double>(count_);
  int64_t rank = static_cast<int64_t>(std::ceil(exact_rank - 1e-9 * std::max(1.0, exact_rank)));
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), min_, max_);
  }
  return max_;
}

// --- LoadStats / StatsRecorder ----------------------------------------------------

void LoadStats::Merge(const LoadStats& other) {
  count += other.count;
  answered_latency.Merge(other.answered_latency);
  ok_latency.Merge(other.ok_latency);
  for (const auto& [key, n] : other.status_counts) AddCount(status_counts, key, n);
  for (const auto& [key, n] : other.errors) AddCount(errors, key, n);
  for (const auto& [key, h] : other.latency_by_code) latency_by_code[key].Merge(h);
  for (const auto& [key, n] : other.paths) AddCount(paths, key, n);
  degraded += other.degraded;
  for (const auto& [key, n] : other.degraded_notes) AddCount(degraded_notes, key, n);
}

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

StatsRecorder::StatsRecorder() : shards_(new Shard[kShards]) {}

StatsRecorder::Shard& StatsRecorder::ShardForThisThread() {
  // Sequential per-thread numbers spread threads evenly (a hash of the thread id
  // is a pointer whose low bits are often all equal).
  static std::atomic<int> next_thread{0};
  thread_local const int thread_number = next_thread.fetch_add(1, std::memory_order_relaxed);
  return shards_[thread_number % kShards];
}

void StatsRecorder::Record(int code, absl::string_view message, absl::Duration latency) {
  const int64_t ns = std::max<int64_t>(ToNanos(latency), 0);
  const std::string name = StatusCodeName(code);
  Shard& shard = ShardForThisThread();
  absl::MutexLock lock(&shard.mu);
  LoadStats& s = shard.stats;
  ++s.count;
  s.answered_latency.Record(ns);
  ++s.status_counts[name];
  s.latency_by_code[name].Record(ns);
  if (code == 0) {
    s.ok_latency.Record(ns);
    return;
  }
  AddCapped(s.errors, absl::StrCat(name, ": ", message));
}

void StatsRecorder::RecordAnswer(absl::string_view path, bool degraded, absl::string_view notes) {
  Shard& shard = ShardForThisThread();
  absl::MutexLock lock(&shard.mu);
  LoadStats& s = shard.stats;
  ++s.paths[std::string(path)];
  if (!degraded) return;
  ++s.degraded;
  AddCapped(s.degraded_notes, std::string(notes));
}

void StatsRecorder::RecordClientOverloaded() {
  Shard& shard = ShardForThisThread();
  absl::MutexLock lock(&shard.mu);
  ++shard.stats.count;
  ++shard.stats.status_counts[kClientOverloaded];
  ++shard.stats.errors[kClientOverloadedError];
}

LoadStats StatsRecorder::Merged() const {
  LoadStats out;
  for (int i = 0; i < kShards; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    out.Merge(shards_[i].stats);
  }
  return out;
}

// --- Report -----------------------------------------------------------------------

Report BuildReport(const LoadStats& stats, absl::Duration total) {
  Report r;
  r.count = stats.count;
  r.total = total;
  r.status_codes = stats.status_counts;
  r.errors = stats.errors;
  for (const auto& [code, h] : stats.latency_by_code) {
    r.latency_by_code[code] =
        CodeLatency{h.count(), absl::Nanoseconds(h.ValueAtPercentile(50)),
                    absl::Nanoseconds(h.ValueAtPercentile(90)),
                    absl::Nanoseconds(h.ValueAtPercentile(99)), absl::Nanoseconds(h.max())};
  }
  r.paths = stats.paths;
  r.degraded = stats.degraded;
  r.degraded_notes = stats.degraded_notes;
  const LatencyHistogram& answered = stats.answered_latency;
  r.answered = answered.count();
  if (answered.count() > 0) r.average = absl::Nanoseconds(std::llround(answered.mean()));
  if (total > absl::ZeroDuration()) {
    r.rps = static_cast<double>(stats.count) / absl::ToDoubleSeconds(total);
  }
  constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};
  if (answered.count() > 0) {
    for (double p : kPercentiles) {
      r.percentiles_answered.emplace_back(p, absl::Nanoseconds(answered.ValueAtPercentile(p)));
    }
  }
  const LatencyHistogram& ok = stats.ok_latency;
  if (ok.count() == 0) return r;
  r.fastest = absl::Nanoseconds(ok.min());
  r.slowest = absl::Nanoseconds(ok.max());
  for (double p : kPercentiles) {
    r.percentiles.emplace_back(p, absl::Nanoseconds(ok.ValueAtPercentile(p)));
  }

  // ghz's histogram: marks fastest + i * (slowest - fastest) / 10, i = 0..10; a
  // latency counts in the first mark >= it. Each HDR bucket is placed by its
  // midpoint (0.4 % from any of its values), except that the buckets holding the
  // exact fastest and slowest values are placed there (the first and last marks).
  constexpr int kBuckets = 10;
  const double fastest_s = absl::ToDoubleSeconds(r.fastest);
  const double slowest_s = absl::ToDoubleSeconds(r.slowest);
  const double step = (slowest_s - fastest_s) / kBuckets;
  r.histogram.resize(kBuckets + 1);
  for (int i = 0; i < kBuckets; ++i) r.histogram[i].mark_s = fastest_s + step * i;
  r.histogram[kBuckets].mark_s = slowest_s;
  ok.ForEachBucket([&](int64_t lowest, int64_t highest, int64_t n) {
    int64_t where = lowest + (highest - lowest) / 2;
    if (lowest <= ok.min()) {
      where = ok.min();
    } else if (highest >= ok.max()) {
      where = ok.max();
    }
    const double v = static_cast<double>(where) * 1e-9;
    int b = 0;
    if (step > 0) {
      b = static_cast<int>(std::ceil((v - fastest_s) / step - 1e-9));
      b = std::clamp(b, 0, kBuckets);
    }
    r.histogram[b].count += n;
  });
  for (HistogramBucket& b : r.histogram) {
    b.frequency = static_cast<double>(b.count) / static_cast<double>(ok.count());
  }
  return r;
}

std::string FormatText(const Report& r) {
  std::string out = "Summary:\n";
  absl::StrAppendFormat(&out, "  Count:        %d\n", r.count);
  absl::StrAppendFormat(&out, "  Total:        %s\n", FormatMs(r.total));
  absl::StrAppendFormat(&out, "  Slowest:      %s\n", FormatMs(r.slowest));
  absl::StrAppendFormat(&out, "  Fastest:      %s\n", FormatMs(r.fastest));
  absl::StrAppendFormat(&out, "  Average:      %s\n", FormatMs(r.average));
  absl::StrAppendFormat(&out, "  Requests/sec: %.2f\n", r.rps);

  if (!r.histogram.empty()) {
    out += "\nResponse time histogram (OK calls, ms):\n";
    int64_t most = 1;
    for (const HistogramBucket& b : r.histogram) most = std::max(most, b.count);
    for (const HistogramBucket& b : r.histogram) {
      const int bar = static_cast<int>(40 * b.count / most);
      std::string bars;
      for (int i = 0; i < bar; ++i) bars += "\xe2\x88\x8e";  // U+220E, as ghz
      absl::StrAppendFormat(&out, "  %10.3f [%d]\t|%s\n", b.mark_s * 1e3, b.count, bars);
    }
  }
  if (!r.percentiles.empty()) {
    out += "\nLatency distribution (OK calls):\n";
    for (const auto& [p, latency] : r.percentiles) {
      absl::StrAppendFormat(&out, "  %g %% in %s\n", p, FormatMs(latency));
    }
  }
  const auto ok = r.status_codes.find("OK");
  const int64_t ok_count = ok == r.status_codes.end() ? 0 : ok->second;
  if (r.answered > ok_count) {
    out += "\nLatency distribution (every answered call, OK or not):\n";
    for (const auto& [p, latency] : r.percentiles_answered) {
      absl::StrAppendFormat(&out, "  %g %% in %s\n", p, FormatMs(latency));
    }
  }
  out += "\nStatus code distribution:\n";
  for (const auto& [code, n] : r.status_codes) {
    absl::StrAppendFormat(&out, "  [%s]\t%d responses\n", code, n);
  }
  if (r.latency_by_code.size() > 1) {
    out += "\nLatency by status code (p50 / p90 / p99 / max):\n";
    for (const auto& [code, l] : r.latency_by_code) {
      absl::StrAppendFormat(&out, "  [%s]\t%d calls\t%s / %s / %s / %s\n", code, l.count,
                            FormatMs(l.p50), FormatMs(l.p90), FormatMs(l.p99), FormatMs(l.max));
    }
  }
  if (!r.errors.empty()) {
    out += "\nError distribution:\n";
    for (const auto& [message, n] : r.errors) {
      absl::StrAppendFormat(&out, "  [%d]\t%s\n", n, message);
    }
  }
  if (!r.paths.empty()) {
    out += "\nAnswers by path (OK calls):\n";
    for (const auto& [path, n] : r.paths) absl::StrAppendFormat(&out, "  [%s]\t%d\n", path, n);
    absl::StrAppendFormat(&out, "  Degraded:     %d\n", r.degraded);
    for (const auto& [notes, n] : r.degraded_notes) {
      absl::StrAppendFormat(&out, "  [%d]\t%s\n", n, notes);
    }
  }
  return out;
}

std::string FormatJson(const Report& r, absl::Time date, const Options& options) {
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"date\": ",
                  JsonString(absl::FormatTime(absl::RFC3339_sec, date, absl::UTCTimeZone())),
                  ",\n");
  out += "  \"options\": {";
  bool first = true;
  for (const auto& [key, value] : options) {
    absl::StrAppend(&out, first ? "" : ", ", JsonString(key), ": ");
    first = false;
    if (const auto* s = std::get_if<std::string>(&value)) {
      out += JsonString(*s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      absl::StrAppend(&out, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      out += JsonNumber(*d);
    } else {
      out += std::get<bool>(value) ? "true" : "false";
    }
  }
  out += "},\n";
  absl::StrAppend(&out, "  \"count\": ", r.count, ",\n");
  absl::StrAppend(&out, "  \"total\": ", ToNanos(r.total), ",\n");
  absl::StrAppend(&out, "  \"average\": ", ToNanos(r.average), ",\n");
  absl::StrAppend(&out, "  \"fastest\": ", ToNanos(r.fastest), ",\n");
  absl::StrAppend(&out, "  \"slowest\": ", ToNanos(r.slowest), ",\n");
  absl::StrAppend(&out, "  \"rps\": ", JsonNumber(r.rps), ",\n");
  absl::StrAppend(&out, "  \"errorDistribution\": ", JsonCountMap(r.errors), ",\n");
  absl::StrAppend(&out, "  \"statusCodeDistribution\": ", JsonCountMap(r.status_codes), ",\n");
  out += "  \"latencyByStatusCode\": {";
  first = true;
  for (const auto& [code, l] : r.latency_by_code) {
    absl::StrAppend(&out, first ? "" : ", ", JsonString(code), ": {\"count\": ", l.count,
                    ", \"p50\": ", ToNanos(l.p50), ", \"p90\": ", ToNanos(l.p90),
                    ", \"p99\": ", ToNanos(l.p99), ", \"max\": ", ToNanos(l.max), "}");
    first = false;
  }
  out += "},\n";
  absl::StrAppend(&out, "  \"pathDistribution\": ", JsonCountMap(r.paths), ",\n");
  absl::StrAppend(&out, "  \"degraded\": ", r.degraded, ",\n");
  absl::StrAppend(&out, "  \"degradedNotes\": ", JsonCountMap(r.degraded_notes), ",\n");
  // ghz lists integer percentages only (no 99.9).
  out += "  \"latencyDistribution\": [";
  first = true;
  for (const auto& [p, latency] : r.percentiles) {
    if (p != std::floor(p)) continue;
    absl::StrAppend(&out, first ? "" : ", ", "{\"percentage\": ", static_cast<int>(p),
                    ", \"latency\": ", ToNanos(latency), "}");
    first = false;
  }
  out += "],\n";
  out += "  \"histogram\": [";
  first = true;
  for (const HistogramBucket& b : r.histogram) {
    absl::StrAppend(&out, first ? "" : ", ", "{\"mark\": ", JsonNumber(b.mark_s),
                    ", \"count\": ", b.count, ", \"frequency\": ", JsonNumber(b.frequency), "}");
    first = false;
  }
  out += "]\n}\n";
  return out;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::UnavailableError(absl::StrCat("cannot open ", path, " for writing"));
  f.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

// --- Clocks and the open-loop schedule --------------------------------------------

absl::Time SteadyClock::Now() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

void SteadyClock::SleepUntil(absl::Time t) {
  const absl::Duration wait = t - Now();
  if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
}

OpenLoopScheduler::OpenLoopScheduler(double rate, absl::Time start, absl::Time end)
    : rate_(rate), start_(start), end_(end) {}

absl::Time OpenLoopScheduler::IntendedSendTime(int64_t i) const {
  // Integer nanoseconds: exact for integer rates dividing 1e9 and i < 9e6, and
  // within 1 ns otherwise; no drift accumulates since each time is computed afresh.
  const double ns = static_cast<double>(i) * 1e9 / rate_;
  return start_ + absl::Nanoseconds(std::llround(ns));
}

std::optional<OpenLoopScheduler::Tick> OpenLoopScheduler::Next(Clock& clock) {
  const absl::Time due = IntendedSendTime(next_);
  if (due >= end_) return std::nullopt;
  clock.SleepUntil(due);
  return Tick{next_++, due};
}

}  // namespace recsys::load

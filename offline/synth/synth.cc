#include "offline/synth/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "offline/synth/synth_items.h"
#include "offline/synth/synth_random.h"
#include "offline/synth/synth_writer.h"

namespace recsys::synth {
namespace {

namespace fs = std::filesystem;

constexpr double kActivitySigma = 1.2;  // lognormal user activity
constexpr double kSuccessorProb = 0.45;
constexpr double kGlobalProb = 0.05;
constexpr double kTopicSwitchProb = 0.08;
constexpr double kSessionEndProb = 1.0 / 6;
constexpr int kDrawAttempts = 10;  // draws tried before a repeat is accepted

// Events per user: 3 + a lognormal share of the rest, at most `items`, summing
// exactly to o.events (the rounding remainder is dealt out round-robin).
std::vector<int32_t> UserActivity(const SynthOptions& o) {
  std::vector<double> weight(o.users);
  double total = 0;
  for (int64_t u = 0; u < o.users; ++u) {
    Rng rng(StreamSeed(o.seed, kActivityStream, u));
    weight[u] = std::exp(kActivitySigma * rng.Normal());
    total += weight[u];
  }
  const int64_t cap = std::max<int64_t>(3, std::min<int64_t>(o.items, INT32_MAX));
  const double extra = static_cast<double>(o.events - 3 * o.users);
  std::vector<int32_t> count(o.users);
  int64_t sum = 0;
  for (int64_t u = 0; u < o.users; ++u) {
    count[u] = static_cast<int32_t>(
        std::min<int64_t>(cap, 3 + static_cast<int64_t>(extra * weight[u] / total)));
    sum += count[u];
  }
  for (int64_t left = o.events - sum; left > 0;) {
    for (int64_t u = 0; u < o.users && left > 0; ++u) {
      if (count[u] < cap) ++count[u], --left;
    }
  }
  return count;
}

// Per-user set of items already consumed: open addressing over a shared
// table, entries stamped with the user's generation so nothing is cleared.
class SeenSet {
 public:
  explicit SeenSet(int64_t max_size) {
    size_t cap = 16;
    while (cap < static_cast<size_t>(2 * max_size)) cap <<= 1;
    slots_.resize(cap);
  }
  void Reset(int64_t size) {
    ++generation_;
    mask_ = 15;
    while (mask_ + 1 < static_cast<size_t>(2 * size)) mask_ = (mask_ << 1) | 1;
  }
  // True if `item` was not in the set (it is now).
  bool Insert(int32_t item) {
    for (size_t h = Mix64(static_cast<uint64_t>(item)) & mask_;; h = (h + 1) & mask_) {
      Slot& s = slots_[h];
      if (s.generation != generation_) {
        s = {item, generation_};
        return true;
      }
      if (s.item == item) return false;
    }
  }

 private:
  struct Slot {
    int32_t item = 0;
    uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 15;
  uint32_t generation_ = 0;
};

// Streams every user's events (in user order, increasing time) to `out`.
absl::Status WriteInteractions(const SynthOptions& o, const Model& m,
                               const std::vector<int32_t>& activity, BufferedFile& out) {
  const SynthItems& it = m.items;
  const int64_t topics = it.topics;
  const double span = o.years * kSecondsPerYear;
  const int32_t max_events = *std::max_element(activity.begin(), activity.end());
  SeenSet seen(max_events);
  std::vector<double> gaps;  // per user: > 0 seconds within a session, < 0 session units
  out.Append("user,item,timestamp,weight\n");

  for (int64_t u = 0; u < o.users; ++u) {
    Rng rng(StreamSeed(o.seed, kUserStream, u));
    const int32_t n = activity[u];
    // 1-3 distinct preferred topics, drawn by topic popularity, weights 1, 1/2, 1/4.
    int32_t prefs[3];
    int num_prefs = 0;
    const int want = static_cast<int>(std::min<int64_t>(topics, 1 + rng.Below(3)));
    for (int attempt = 0; num_prefs < want && attempt < 16; ++attempt) {
      const auto k = static_cast<int32_t>(SampleCumulative(m.topic_cum.data(), topics, rng));
      if (std::find(prefs, prefs + num_prefs, k) == prefs + num_prefs) prefs[num_prefs++] = k;
    }
    const double pref_cum[3] = {1.0, 1.5, 1.75};
    auto draw_topic = [&] { return prefs[SampleCumulative(pref_cum, num_prefs, rng)]; };

    // Active window [begin, end) inside the span. Gaps between events: within a
    // session 20 s + Exp(4 min); between sessions (probability kSessionEndProb)
    // Exp(1) units, scaled so that the sessions fill the window, at least 1 h.
    const double begin = 0.85 * span * rng.Uniform();
    const double window = (span - begin) * (0.25 + 0.75 * rng.Uniform());
    gaps.resize(n);
    double session_units = 0;
    for (int32_t e = 1; e < n; ++e) {
      if (rng.Bernoulli(kSessionEndProb)) {
        gaps[e] = -rng.Exponential(1.0);
        session_units -= gaps[e];
      } else {
        gaps[e] = 20.0 + rng.Exponential(240.0);
      }
    }
    const double seconds_per_unit = window / std::max(1.0, session_units);
    int64_t t = o.start_s + static_cast<int64_t>(begin);
    seen.Reset(n);
    int32_t prev = -1;
    int32_t topic = draw_topic();
    for (int32_t e = 0; e < n; ++e) {
      if (e > 0) {
        if (gaps[e] < 0) {
          t += std::max<int64_t>(3600, static_cast<int64_t>(-gaps[e] * seconds_per_unit));
          topic = draw_topic();
        } else {
          t += static_cast<int64_t>(gaps[e]);
        }
      }
      // Items released by t are exactly [0, released): release times follow index order.
      const int64_t released =
          std::upper_bound(it.release_s.begin(), it.release_s.end(), t) - it.release_s.begin();
      int32_t item = -1;
      for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
        int64_t pick = -1;
        if (attempt == 0 && prev >= 0 && rng.Bernoulli(kSuccessorProb) &&
            it.successor[prev] >= 0 && it.successor[prev] < released) {
          pick = it.successor[prev];
        } else {
          const double r = rng.Uniform();
          if (r >= kGlobalProb) {
            if (r < kGlobalProb + kTopicSwitchProb) topic = draw_topic();
            const int32_t* first = m.members.data() + m.topic_begin[topic];
            const int32_t* last = m.members.data() + m.topic_begin[topic + 1];
            const int64_t prefix = std::lower_bound(first, last, released) - first;
            // The last attempt draws uniformly: a heavy user who has seen the
            // popular items of a topic moves on to its tail instead of repeating.
            if (prefix > 0) {
              pick = attempt + 1 < kDrawAttempts
                         ? first[SampleCumulative(m.member_cum.data() + m.topic_begin[topic],
                                                  prefix, rng)]
                         : first[rng.Below(prefix)];
            }
          }
          if (pick < 0) {
            pick = attempt + 1 < kDrawAttempts
                       ? SampleCumulative(m.global_cum.data(), released, rng)
                       : static_cast<int64_t>(rng.Below(released));
          }
        }
        item = static_cast<int32_t>(pick);
        if (seen.Insert(item)) break;
      }
      prev = item;
      out.Append("u");
      out.AppendInt(u);
      out.Append(",i");
      out.AppendInt(item);
      out.Append(",");
      out.AppendInt(t);
      out.Append(",1\n");
    }
    RETURN_IF_ERROR(out.status());
  }
  return absl::OkStatus();
}

}  // namespace

int64_t DefaultTopics(int64_t items) {
  return std::max<int64_t>(1, std::min<int64_t>(items, std::max<int64_t>(8, items / 5000)));
}

absl::Status ValidateSynthOptions(const SynthOptions& o) {
  constexpr int64_t kMaxIds = 100'000'000;
  if (o.items <= 0 || o.items > kMaxIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--items must be in [1, ", kMaxIds, "], got ", o.items));
  }
  if (o.users <= 0 || o.users > kMaxIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--users must be in [1, ", kMaxIds, "], got ", o.users));
  }
  if (o.events < 3 * o.users) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--events must be at least 3 * --users = ", 3 * o.users, " (every user has >= 3 "
        "events), got ", o.events));
  }
  const int64_t most = o.users * std::max<int64_t>(3, o.items);
  if (o.events > most) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--events must be at most --users * max(3, --items) = ", most,
        " (a user sees each item about once), got ", o.events));
  }
  if (o.topics < 0 || o.topics > o.items) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--topics must be in [0, --items] (0 = default), got ", o.topics));
  }
  if (!(o.years > 0 && o.years <= 100)) {
    return absl::InvalidArgumentError(absl::StrCat("--years must be in (0, 100], got ", o.years));
  }
  if (o.start_s < 0 || o.start_s > (int64_t{1} << 40)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--start must be non-negative Unix seconds, got ", o.start_s));
  }
  return absl::OkStatus();
}

absl::StatusOr<SynthItems> MakeSynthItems(const SynthOptions& options) {
  Model m;
  RETURN_IF_ERROR(BuildModel(options, &m));
  return std::move(m.items);
}

absl::StatusOr<SynthReport> GenerateCatalogue(const SynthOptions& options,
                                              const std::string& out_dir) {
  const absl::Time t0 = absl::Now();
  RETURN_IF_ERROR(ValidateSynthOptions(options));
  if (out_dir.empty()) return absl::InvalidArgumentError("--out must name a directory");
  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create output directory ", out_dir, ": ", ec.message()));
  }
  const fs::path items_path = dir / "items.csv";
  const fs::path events_path = dir / "interactions.csv";
  for (const fs::path& p : {items_path, events_path}) {
    if (!options.force && fs::exists(p, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat(p.string(), " exists; pass --force to overwrite it"));
    }
  }
  Model m;
  RETURN_IF_ERROR(BuildModel(options, &m));
  SynthReport report;
  report.items = options.items;
  report.users = options.users;
  report.events = options.events;
  report.topics = m.items.topics;
  const std::string items_tmp = items_path.string() + ".tmp";
  const std::string events_tmp = events_path.string() + ".tmp";
  RETURN_IF_ERROR(WriteItems(options, m, items_tmp, &report.items_bytes));
  {
    const std::vector<int32_t> activity = UserActivity(options);
    ASSIGN_OR_RETURN(auto out, BufferedFile::Create(events_tmp));
    RETURN_IF_ERROR(WriteInteractions(options, m, activity, *out));
    RETURN_IF_ERROR(out->Close());
    report.interactions_bytes = out->bytes();
  }
  for (const auto& [from, to] : {std::pair{fs::path(items_tmp), items_path},
                                 std::pair{fs::path(events_tmp), events_path}}) {
    fs::rename(from, to, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot rename ", from.string(), " to ", to.string(), ": ", ec.message()));
    }
  }
  report.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  return report;
}

}  // namespace recsys::synth
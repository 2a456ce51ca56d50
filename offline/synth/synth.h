// Deterministic synthetic catalogues in the generic layout (common/data/generic.cc):
// items.csv (item,title,text,category) and interactions.csv (user,item,timestamp,weight),
// at any size up to 10^6 items, 10^6 users and 5*10^7 events.
//
// The model of the data (every draw from one seeded splitmix64 stream per item
// block / per user, with samplers written here, so the same options give
// byte-identical files on every standard library):
//   - items "i<n>", n = release order, split into topics; topic sizes and item
//     popularity follow Zipf laws (exponent ~1 for items, over a seeded
//     permutation, so popularity is heavy-tailed both globally and per topic);
//   - each topic has its own made-up vocabulary and sub-topics; text = topic
//     and sub-topic words plus a few shared words; title = the series' own
//     made-up name, a topic word and the episode number;
//     category = "t<topic>|t<topic>.s<sub>";
//   - within a topic, consecutive items form series (chains of 1-12 items, like
//     episodes); an item's successor is the next item of its series;
//   - users "u<n>" with lognormal activity (>= 3 events each, total exactly
//     `events`) and 1-3 preferred topics; sessions (hours to weeks apart) in
//     which the next event is the successor of the previous item with
//     probability ~0.45, otherwise a popularity draw from a preferred topic, or
//     now and then a globally popular item; repeats are mostly avoided
//     (draws are retried, the last one uniform over the topic);
//   - timestamps increase within each user over `years` from `start_s`; 70% of
//     the catalogue exists at the start, the rest is released uniformly over
//     the span, and nothing is consumed before its release.
// Memory: O(items + users) plus a 4 MiB write buffer; events are streamed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recsys::synth {

struct SynthOptions {
  int64_t items = 20000;
  int64_t users = 5000;
  // Total interactions written (exactly this many); >= 3 * users.
  int64_t events = 200000;
  // 0 = DefaultTopics(items).
  int64_t topics = 0;
  uint64_t seed = 1;
  // Unix seconds of the first possible event (default 2019-01-01T00:00:00Z).
  int64_t start_s = 1546300800;
  // Length of the event span in years (365.25 days); > 0.
  double years = 3;
  // Overwrite items.csv / interactions.csv if they exist.
  bool force = false;
};

struct SynthReport {
  int64_t items = 0;
  int64_t users = 0;
  int64_t events = 0;
  int64_t topics = 0;
  int64_t items_bytes = 0;         // size of items.csv
  int64_t interactions_bytes = 0;  // size of interactions.csv
  double seconds = 0;              // wall time of GenerateCatalogue
};

// max(8, items / 5000), never more than `items`.
int64_t DefaultTopics(int64_t items);

// INVALID_ARGUMENT naming the offending option (items/users/topics <= 0,
// events < 3 * users, more events than users * items, years <= 0, ...).
absl::Status ValidateSynthOptions(const SynthOptions& options);

// The item side of a catalogue (deterministic for the options), exposed so
// that tests can check the events against the model. Sizes: `items` each.
struct SynthItems {
  int64_t topics = 0;
  std::vector<int32_t> topic;      // topic of each item, [0, topics)
  std::vector<int32_t> successor;  // next item of the same series, or -1
  std::vector<double> popularity;  // unnormalised draw weight (> 0)
  std::vector<int64_t> release_s;  // Unix seconds from which the item may be consumed
};
absl::StatusOr<SynthItems> MakeSynthItems(const SynthOptions& options);

// Writes items.csv and interactions.csv into `out_dir` (created if missing).
// Refuses (FAILED_PRECONDITION) when either file exists unless options.force.
// Files are written under temporary names and renamed at the end, so an
// interrupted run never leaves a truncated file under the final name.
absl::StatusOr<SynthReport> GenerateCatalogue(const SynthOptions& options,
                                              const std::string& out_dir);

}  // namespace recsys::synth

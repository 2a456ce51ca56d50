// The item side of a synthetic catalogue (internal to recsys_synth): topics,
// popularity, series, release times, the sampling tables built from them, and
// items.csv. See synth.h for the model of the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "offline/synth/synth.h"

namespace recsys::synth {

// Stream kinds of StreamSeed.
enum Stream : uint64_t {
  kTopicStream = 1,
  kPopularityStream,
  kSeriesStream,
  kVocabularyStream,
  kActivityStream,
  kUserStream,
  kItemTextStream,
  kSeriesTitleStream,
};

constexpr double kSecondsPerYear = 365.25 * 86400;

// Items plus what sampling and text need.
struct Model {
  SynthItems items;
  std::vector<int64_t> topic_begin;  // CSR over topics, size topics + 1
  std::vector<int32_t> members;      // items of each topic in index (= release) order
  std::vector<double> member_cum;    // popularity prefix sums per topic, parallel to members
  std::vector<double> global_cum;    // popularity prefix sums over all items
  std::vector<double> topic_cum;     // prefix sums of each topic's popularity mass
  std::vector<int32_t> series_head;  // first item of each item's series
  std::vector<int16_t> episode;      // 1-based position in its series
  std::vector<uint8_t> subtopic;
};

// Builds the items of `o` (validated first). O(items) time and memory.
absl::Status BuildModel(const SynthOptions& o, Model* m);

// Writes items.csv of model `m` to `path`; *bytes = its size.
absl::Status WriteItems(const SynthOptions& o, const Model& m, const std::string& path,
                        int64_t* bytes);

}  // namespace recsys::synth

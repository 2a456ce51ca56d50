// In-memory interaction log and item catalogue, as produced by the loaders.
// External ids are strings; every model works on dense int32 indices assigned
// in first-seen order (deterministic for a given file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace recsys {

using UserIndex = int32_t;
using ItemIndex = int32_t;

// Bidirectional map between external string ids and dense indices [0, size).
class IdMap {
 public:
  // Returns the index of `id`, assigning the next free one if it is new.
  int32_t GetOrAdd(absl::string_view id);
  std::optional<int32_t> Find(absl::string_view id) const;
  const std::string& Name(int32_t index) const { return names_[index]; }
  const std::vector<std::string>& names() const { return names_; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }

 private:
  absl::flat_hash_map<std::string, int32_t> index_;
  std::vector<std::string> names_;
};

// What the catalogue says about one item. All fields may be empty.
struct ItemInfo {
  std::string title;
  // Free text used by the content model (genres, tags, abstract, ...).
  std::string text;
  // Categories / genres, most specific last (MIND: category, subcategory).
  std::vector<std::string> categories;
  // Unix seconds of the item's release/publication; 0 = unknown.
  int64_t release_time_s = 0;
  // False for ids that appear in the interaction log but not in the catalogue.
  bool has_metadata = false;
};

struct Interaction {
  UserIndex user;
  ItemIndex item;
  int64_t timestamp_s;  // Unix seconds
  float weight;         // rating or 1.0 for implicit events
};

// A labelled impression (MIND): items shown to a user at a time, with clicks.
struct Impression {
  UserIndex user;
  int64_t timestamp_s;
  std::vector<ItemIndex> items;
  std::vector<uint8_t> clicked;  // same length as items; 1 = clicked
};

enum class DataFormat { kAuto, kMovieLensLatest, kMovieLens100k, kMind, kGeneric };

const char* DataFormatName(DataFormat f);
// Parses "auto", "movielens", "movielens-100k", "mind", "generic".
std::optional<DataFormat> ParseDataFormat(absl::string_view name);

enum class BadLinePolicy { kFail, kSkip };

struct LoadOptions {
  DataFormat format = DataFormat::kAuto;
  BadLinePolicy on_bad_line = BadLinePolicy::kFail;
  // With kSkip, how many bad-line messages to keep in the report.
  int max_reported_bad_lines = 20;
};

struct LoadReport {
  DataFormat format = DataFormat::kAuto;
  std::vector<std::string> files;  // files read, in order
  int64_t lines_read = 0;
  int64_t bad_lines = 0;  // skipped with BadLinePolicy::kSkip
  std::vector<std::string> bad_line_messages;  // "file:line: reason", first N
  // Interactions/impressions naming items absent from the catalogue (kept,
  // without metadata).
  int64_t unknown_item_refs = 0;
  // Impression entries without a click label (MIND test files); ignored.
  int64_t unlabelled_impressions = 0;
};

struct Dataset {
  IdMap users;
  IdMap items;
  std::vector<ItemInfo> item_info;  // indexed by ItemIndex, size == items.size()
  std::vector<Interaction> interactions;  // in file order
  std::vector<Impression> impressions;    // empty unless the format has them
  LoadReport report;

  int32_t num_users() const { return users.size(); }
  int32_t num_items() const { return items.size(); }
  // Index of `id`, registering it (without metadata) if the catalogue lacks it.
  ItemIndex ItemOrAdd(absl::string_view id);
};

}  // namespace recsys

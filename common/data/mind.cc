// MIND layout (Microsoft News Dataset): news.tsv (catalogue) and behaviors.tsv
// (impression logs with each user's click history).
//
// Turning behaviors into the interaction log:
//  * behaviors.tsv is streamed once; users are registered in first-seen file
//    order and each row's labelled impressions are parsed and kept.
//  * MIND repeats a user's click history on every row of that user, so only one
//    history per user is used: the one on the row with the user's earliest
//    impression time (the first such row in file order on ties).
//  * Rows are then processed by (time, file order). At a user's earliest row,
//    the history clicks become interactions of weight 1 at timestamps
//    earliest_time - len(history) + i (i = 0..len-1), so they keep their order
//    and precede every impression of that user.
//  * Every clicked impression entry ("N123-1") becomes an interaction of weight 1
//    at the impression time, and every row with at least one labelled entry
//    becomes an Impression (all labelled items with their clicked flags).
//  * Entries without a label (MIND test files: "N123") are counted in
//    report.unlabelled_impressions and ignored.
//  * News ids absent from news.tsv are registered without metadata; every
//    reference that ends up in an interaction or impression is counted in
//    report.unknown_item_refs (histories of non-earliest rows are not used, so
//    they are not counted).
// Hence out->interactions is ordered by row time, not by file position.
#include <algorithm>
#include <filesystem>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/data/loader.h"
#include "common/data/record_reader.h"
#include "common/data/text_reader.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

namespace {

constexpr RecordFormat kTsv = {'\t', RecordFormat::Quoting::kNone};

// Parses 1..max_digits ASCII digits (no sign, no spaces).
bool ParseDigits(absl::string_view s, size_t max_digits, int* out) {
  if (s.empty() || s.size() > max_digits) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// "11/11/2019 9:05:58 AM" (month/day/year, 12-hour clock, UTC) -> Unix seconds.
bool ParseMindTime(absl::string_view s, int64_t* out) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(s), ' ', absl::SkipEmpty());
  if (parts.size() != 3) return false;
  std::vector<absl::string_view> date = absl::StrSplit(parts[0], '/');
  std::vector<absl::string_view> clock = absl::StrSplit(parts[1], ':');
  if (date.size() != 3 || clock.size() != 3) return false;
  int month, day, year, hour, minute, second;
  if (!ParseDigits(date[0], 2, &month) || !ParseDigits(date[1], 2, &day) ||
      !ParseDigits(date[2], 4, &year) || !ParseDigits(clock[0], 2, &hour) ||
      !ParseDigits(clock[1], 2, &minute) || !ParseDigits(clock[2], 2, &second)) {
    return false;
  }
  const bool pm = absl::EqualsIgnoreCase(parts[2], "PM");
  if (!pm && !absl::EqualsIgnoreCase(parts[2], "AM")) return false;
  if (hour < 1 || hour > 12 || minute > 59 || second > 59) return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1970) return false;
  hour = hour % 12 + (pm ? 12 : 0);  // 12 AM = 0h, 12 PM = 12h
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.day() != day) return false;  // e.g. 2/30 normalised into March
  *out = absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  return true;
}

// news.tsv: news_id, category, subcategory, title, abstract, url, title_entities,
// abstract_entities. The columns after the title may be missing.
absl::Status LoadNews(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kTsv, options, &out->report));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    if (f.size() < 4 || f.size() > 8) {
      return reader.Bad(absl::StrCat("expected 4 to 8 fields, got ", f.size()));
    }
    if (f[0].empty()) return reader.Bad("empty news id");
    const ItemIndex item = out->ItemOrAdd(f[0]);
    ItemInfo& info = out->item_info[item];
    info.title = f[3];
    info.text = f.size() > 4 ? f[4] : std::string();
    info.categories.clear();
    for (int c : {1, 2}) {
      if (!f[c].empty()) info.categories.push_back(f[c]);
    }
    info.has_metadata = true;
    return absl::OkStatus();
  });
}

// One behaviors.tsv row, kept until every row has been read.
struct BehaviorRow {
  UserIndex user;
  int64_t time_s;
  std::vector<ItemIndex> items;   // labelled impression entries
  std::vector<uint8_t> clicked;
};

absl::Status LoadBehaviors(const std::string& path, const LoadOptions& options,
                           Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kTsv, options, &out->report));

  std::vector<BehaviorRow> rows;
  // Per user: time of the earliest row so far and that row's history.
  std::vector<int64_t> earliest_time;
  std::vector<std::string> history;

  std::vector<std::pair<absl::string_view, uint8_t>> labelled;
  RETURN_IF_ERROR(reader.ForEachRecord([&](std::vector<std::string>& f) {
    if (f.size() != 5) return reader.Bad(absl::StrCat("expected 5 fields, got ", f.size()));
    if (f[1].empty()) return reader.Bad("empty user id");
    int64_t time_s;
    if (!ParseMindTime(f[2], &time_s)) return reader.Bad(absl::StrCat("bad time '", f[2], "'"));
    // Validate every impression entry before registering anything.
    labelled.clear();
    int64_t unlabelled = 0;
    for (absl::string_view token : absl::StrSplit(f[4], ' ', absl::SkipEmpty())) {
      const size_t dash = token.rfind('-');
      if (dash == absl::string_view::npos) {
        ++unlabelled;
        continue;
      }
      const absl::string_view id = token.substr(0, dash);
      const absl::string_view label = token.substr(dash + 1);
      if (id.empty() || (label != "0" && label != "1")) {
        return reader.Bad(absl::StrCat("bad impression entry '", token, "'"));
      }
      labelled.emplace_back(id, label == "1" ? 1 : 0);
    }

    out->report.unlabelled_impressions += unlabelled;
    const UserIndex user = out->users.GetOrAdd(f[1]);
    if (user >= static_cast<UserIndex>(earliest_time.size())) {
      earliest_time.push_back(time_s);
      history.push_back(std::move(f[3]));
    } else if (time_s < earliest_time[user]) {
      earliest_time[user] = time_s;
      history[user] = std::move(f[3]);
    }
    BehaviorRow row{user, time_s, {}, {}};
    row.items.reserve(labelled.size());
    row.clicked.reserve(labelled.size());
    for (const auto& [id, click] : labelled) {
      const ItemIndex item = out->ItemOrAdd(id);
      if (!out->item_info[item].has_metadata) ++out->report.unknown_item_refs;
      row.items.push_back(item);
      row.clicked.push_back(click);
    }
    rows.push_back(std::move(row));
    return absl::OkStatus();
  }));

  // Chronological, file order within equal times.
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows[a].time_s < rows[b].time_s; });
  std::vector<bool> history_done(history.size(), false);
  for (size_t r : order) {
    BehaviorRow& row = rows[r];
    if (!history_done[row.user]) {
      // The first row of this user in this order is the earliest one.
      history_done[row.user] = true;
      std::vector<absl::string_view> clicks =
          absl::StrSplit(history[row.user], ' ', absl::SkipEmpty());
      const int64_t start = row.time_s - static_cast<int64_t>(clicks.size());
      for (size_t i = 0; i < clicks.size(); ++i) {
        const ItemIndex item = out->ItemOrAdd(clicks[i]);
        if (!out->item_info[item].has_metadata) ++out->report.unknown_item_refs;
        out->interactions.push_back(
            Interaction{row.user, item, start + static_cast<int64_t>(i), 1.0f});
      }
      std::string().swap(history[row.user]);
    }
    for (size_t i = 0; i < row.items.size(); ++i) {
      if (row.clicked[i]) {
        out->interactions.push_back(Interaction{row.user, row.items[i], row.time_s, 1.0f});
      }
    }
    if (!row.items.empty()) {
      out->impressions.push_back(Impression{row.user, row.time_s, std::move(row.items),
                                            std::move(row.clicked)});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadMind(const std::string& dir, const LoadOptions& options, Dataset* out) {
  const fs::path root(dir);
  RETURN_IF_ERROR(LoadNews((root / "news.tsv").string(), options, out));
  RETURN_IF_ERROR(LoadBehaviors((root / "behaviors.tsv").string(), options, out));
  return absl::OkStatus();
}

}  // namespace recsys

// Generic layout: interactions.csv (user,item,timestamp[,weight]) and an optional
// items.csv (item[,title][,text][,category]). Columns are matched by header name
// (case-insensitive, any order; unknown columns are ignored).
#include <cmath>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/data/loader.h"
#include "common/data/record_reader.h"
#include "common/data/text_reader.h"
#include "common/status.h"

namespace recsys {
namespace fs = std::filesystem;

namespace {

constexpr RecordFormat kCsv = {',', RecordFormat::Quoting::kCsv};

// Column positions named by a header row; -1 = absent.
struct Header {
  std::vector<int> column;  // parallel to the `names` given to ReadHeader
  size_t num_fields = 0;
};

// Reads the header of `reader` and finds the columns `names`; the first
// `num_required` of them must be present.
absl::Status ReadHeader(RecordReader& reader, const std::vector<absl::string_view>& names,
                        size_t num_required, Header* header) {
  ASSIGN_OR_RETURN(const std::string line, reader.ReadHeader());
  std::vector<std::string> f;
  if (!SplitCsv(line, ',', &f)) {
    return absl::InvalidArgumentError(
        absl::StrCat(reader.path(), ":1: malformed quoting in header"));
  }
  header->column.assign(names.size(), -1);
  header->num_fields = f.size();
  for (size_t c = 0; c < f.size(); ++c) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(f[c]));
    for (size_t n = 0; n < names.size(); ++n) {
      if (name != names[n]) continue;
      if (header->column[n] >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            reader.path(), ":1: duplicate column '", names[n], "' in header '", line, "'"));
      }
      header->column[n] = static_cast<int>(c);
    }
  }
  for (size_t n = 0; n < num_required; ++n) {
    if (header->column[n] < 0) {
      std::vector<absl::string_view> required(names.begin(), names.begin() + num_required);
      return absl::InvalidArgumentError(absl::StrCat(
          reader.path(), ":1: header lacks column '", names[n], "' (required: ",
          absl::StrJoin(required, ","), "), got '", line, "'"));
    }
  }
  return absl::OkStatus();
}

// items.csv: item (required), title, text, category ('|'-separated values).
absl::Status LoadItems(const std::string& path, const LoadOptions& options, Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kCsv, options, &out->report));
  enum { kItem, kTitle, kText, kCategory };
  Header header;
  RETURN_IF_ERROR(ReadHeader(reader, {"item", "title", "text", "category"}, 1, &header));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    if (f.size() != header.num_fields) {
      return reader.Bad(absl::StrCat("expected ", header.num_fields, " fields, got ", f.size()));
    }
    const std::string& id = f[header.column[kItem]];
    if (id.empty()) return reader.Bad("empty item id");
    const ItemIndex item = out->ItemOrAdd(id);
    ItemInfo& info = out->item_info[item];
    if (header.column[kTitle] >= 0) info.title = f[header.column[kTitle]];
    if (header.column[kText] >= 0) info.text = f[header.column[kText]];
    info.categories.clear();
    if (header.column[kCategory] >= 0) {
      for (absl::string_view c :
           absl::StrSplit(f[header.column[kCategory]], '|', absl::SkipWhitespace())) {
        info.categories.emplace_back(absl::StripAsciiWhitespace(c));
      }
    }
    info.has_metadata = true;
    return absl::OkStatus();
  });
}

// interactions.csv: user, item, timestamp (Unix seconds or RFC 3339) and an
// optional weight (default 1, also for an empty field; finite and >= 0).
absl::Status LoadInteractions(const std::string& path, const LoadOptions& options,
                              Dataset* out) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path, kCsv, options, &out->report));
  enum { kUser, kItem, kTimestamp, kWeight };
  Header header;
  RETURN_IF_ERROR(ReadHeader(reader, {"user", "item", "timestamp", "weight"}, 3, &header));
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    if (f.size() != header.num_fields) {
      return reader.Bad(absl::StrCat("expected ", header.num_fields, " fields, got ", f.size()));
    }
    const std::string& user_id = f[header.column[kUser]];
    const std::string& item_id = f[header.column[kItem]];
    if (user_id.empty() || item_id.empty()) return reader.Bad("empty user or item id");
    int64_t ts;
    const std::string& ts_field = f[header.column[kTimestamp]];
    if (!ParseTimestamp(ts_field, &ts) || ts < 0) {
      return reader.Bad(absl::StrCat("bad timestamp '", ts_field, "'"));
    }
    float weight = 1.0f;
    if (header.column[kWeight] >= 0) {
      const std::string& w = f[header.column[kWeight]];
      if (!absl::StripAsciiWhitespace(w).empty() &&
          (!ParseFloat(w, &weight) || !std::isfinite(weight) || weight < 0)) {
        return reader.Bad(absl::StrCat("bad weight '", w, "'"));
      }
    }
    const ItemIndex item = out->ItemOrAdd(item_id);
    if (!out->item_info[item].has_metadata) ++out->report.unknown_item_refs;
    out->interactions.push_back(Interaction{out->users.GetOrAdd(user_id), item, ts, weight});
    return absl::OkStatus();
  });
}

}  // namespace

absl::Status LoadGeneric(const std::string& dir, const LoadOptions& options, Dataset* out) {
  const fs::path root(dir);
  std::error_code ec;
  // The catalogue first, so its order fixes the item indices.
  if (fs::exists(root / "items.csv", ec)) {
    RETURN_IF_ERROR(LoadItems((root / "items.csv").string(), options, out));
  }
  RETURN_IF_ERROR(LoadInteractions((root / "interactions.csv").string(), options, out));
  return absl::OkStatus();
}

}  // namespace recsys

#include "fuzz/data_fuzz.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/data/loader.h"
#include "fuzz/fuzz_support.h"

namespace recsys::fuzz {

void FuzzDataLoader(DataFormat format, const std::vector<std::string>& files, const uint8_t* data,
                    size_t size) {
  if (size == 0) return;
  const uint8_t flags = data[0];
  const std::vector<absl::string_view> parts =
      SplitParts(AsView(data + 1, size - 1), '\0', files.size());
  // One directory per layout, so a detecting load sees only this layout's files.
  const std::string dir = absl::StrCat(ScratchDir(), "/", DataFormatName(format));
  static std::vector<std::string> made;
  if (std::find(made.begin(), made.end(), dir) == made.end()) {
    std::filesystem::create_directories(dir);
    made.push_back(dir);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string path = dir + "/" + files[i];
    if (i < parts.size()) {
      WriteScratchFile(path, parts[i]);
    } else {
      RemoveScratchFile(path);
    }
  }
  LoadOptions options;
  options.on_bad_line = (flags & 1) != 0 ? BadLinePolicy::kSkip : BadLinePolicy::kFail;
  options.format = (flags & 2) != 0 ? DataFormat::kAuto : format;
  auto loaded = LoadDataset(dir, options);
  if (!loaded.ok()) return;
  const Dataset& d = *loaded;
  Check(d.item_info.size() == static_cast<size_t>(d.num_items()), "one ItemInfo per item");
  for (const Interaction& e : d.interactions) {
    Check(e.user >= 0 && e.user < d.num_users(), "interaction user registered");
    Check(e.item >= 0 && e.item < d.num_items(), "interaction item registered");
  }
  for (const Impression& imp : d.impressions) {
    Check(imp.user >= 0 && imp.user < d.num_users(), "impression user registered");
    Check(imp.items.size() == imp.clicked.size(), "one click label per impression item");
    for (ItemIndex item : imp.items) {
      Check(item >= 0 && item < d.num_items(), "impression item registered");
    }
  }
  for (int32_t i = 0; i < d.num_items(); ++i) {
    Check(d.items.Find(d.items.Name(i)) == i, "item ids map back to their index");
  }
  if (options.on_bad_line == BadLinePolicy::kFail) {
    Check(d.report.bad_lines == 0, "kFail skips no line");
  }
  Check(d.report.bad_lines <= d.report.lines_read, "bad lines are read lines");
}

}  // namespace recsys::fuzz

#include "common/bundle/bundle_files.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace recsys {

BundleFiles::BundleFiles(std::string dir, bool verified_only)
    : dir_(std::move(dir)), verified_only_(verified_only) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

std::string BundleFiles::Path(const std::string& name) const {
  return absl::StrCat(dir_, "/", name);
}

absl::Status BundleFiles::MapVerified(const std::string& name, int64_t size_bytes,
                                      const std::string& sha256_hex) {
  const std::string path = Path(name);
  ASSIGN_OR_RETURN(std::shared_ptr<const Mapping> file, Mapping::Open(path));
  if (static_cast<int64_t>(file->size()) != size_bytes) {
    return absl::DataLossError(absl::StrCat(path, ": size ", file->size(),
                                            " bytes, the manifest says ", size_bytes));
  }
  const std::string sha = file->Sha256Hex();
  if (sha != sha256_hex) {
    return absl::DataLossError(absl::StrCat(path, ": SHA-256 mismatch (file ", sha,
                                            ", manifest ", sha256_hex, ")"));
  }
  mapped_[name] = std::move(file);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Mapping>> BundleFiles::Map(const std::string& name) {
  auto it = mapped_.find(name);
  if (it != mapped_.end()) return it->second;
  if (verified_only_) {
    return absl::DataLossError(
        absl::StrCat(Path(name), ": not verified against the manifest (not listed there)"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Mapping> file, Mapping::Open(Path(name)));
  mapped_.emplace(name, file);
  return file;
}

template <typename T>
absl::StatusOr<ArrayStore<T>> BundleFiles::MapVector(const std::string& name) {
  ASSIGN_OR_RETURN(MappedArray<T> array, MapArray<T>(name));
  if (array.dims.size() != 1) {
    return absl::DataLossError(absl::StrCat(Path(name), ": expected a 1-d array, got ",
                                            array.dims.size(), " dimensions"));
  }
  return std::move(array.values);
}
template absl::StatusOr<ArrayStore<float>> BundleFiles::MapVector<float>(const std::string&);
template absl::StatusOr<ArrayStore<int32_t>> BundleFiles::MapVector<int32_t>(const std::string&);
template absl::StatusOr<ArrayStore<int64_t>> BundleFiles::MapVector<int64_t>(const std::string&);

absl::StatusOr<std::vector<std::string>> BundleFiles::ReadStrings(const std::string& name) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Mapping> file, Map(name));
  return ParseStringArray(*file);
}

}  // namespace recsys

// BundleFiles: the array files of one bundle directory, each mapped at most
// once, for the model loaders.
//
// ModelBundle::Load verifies every file the manifest lists by mapping it and
// hashing the mapping (VerifyBundle's `mapped` argument); the loaders then
// take their arrays from those very mappings, so the bytes that were checked
// are the bytes that serve, and no file is read twice or copied into the heap.
// Without `verified_only`, a name that was not verified is mapped on first use
// without a checksum (the Load(dir) forms of the model loaders, used by tests
// and tools); with it, such a name is an error.
// Not thread-safe (one loader at a time); the mappings it hands out are
// immutable and outlive it (mapping.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/bundle/array_file.h"
#include "common/bundle/mapping.h"

namespace recsys {

class BundleFiles {
 public:
  explicit BundleFiles(std::string dir, bool verified_only = false);

  const std::string& dir() const { return dir_; }
  // dir/name.
  std::string Path(const std::string& name) const;

  // Maps dir/name and checks that it has `size_bytes` bytes and the SHA-256
  // `sha256_hex` (computed over the mapping, streaming, once). DataLoss naming
  // the file on a mismatch; then the mapping is dropped and never handed out.
  absl::Status MapVerified(const std::string& name, int64_t size_bytes,
                           const std::string& sha256_hex);
  // The verified mapping of `name`, or (not verified_only) a new unverified
  // one; with verified_only, DataLoss for a name MapVerified did not accept.
  absl::StatusOr<std::shared_ptr<const Mapping>> Map(const std::string& name);

  // Typed views (array_file.h) of Map(name).
  template <typename T>
  absl::StatusOr<MappedArray<T>> MapArray(const std::string& name) {
    auto file = Map(name);
    if (!file.ok()) return file.status();
    return recsys::MapArray<T>(*std::move(file));
  }
  // A 1-d array's values; DataLoss naming the file for another shape.
  template <typename T>
  absl::StatusOr<ArrayStore<T>> MapVector(const std::string& name);
  absl::StatusOr<std::vector<std::string>> ReadStrings(const std::string& name);

 private:
  std::string dir_;
  bool verified_only_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Mapping>> mapped_;
};

}  // namespace recsys

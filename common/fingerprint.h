// 64-bit FNV-1a, for fingerprints that must agree across processes and builds
// (absl::Hash is seeded per process). Not for adversarial inputs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace recsys {

class Fingerprint64 {
 public:
  Fingerprint64& Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 1099511628211ull;
    }
    return *this;
  }
  template <typename T>
  Fingerprint64& Value(T v) {
    return Bytes(&v, sizeof(v));
  }
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  Fingerprint64& String(absl::string_view s) {
    Value<uint64_t>(s.size());
    return Bytes(s.data(), s.size());
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 14695981039346656037ull;
};

}  // namespace recsys

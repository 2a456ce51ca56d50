// SHA-256 (FIPS 180-4) digests as lower-case hex, for bundle file checksums
// and data fingerprints. Computed by OpenSSL's libcrypto (EVP interface).
// Thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys {

// 64 lower-case hex digits of the SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// The same for a file's contents, read in 64 KiB chunks (constant memory).
// NotFound if it cannot be opened, DataLoss on a read error; both name the file.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace recsys

#include "common/io/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

// Streaming SHA-256 over an EVP digest context. Failures of libcrypto here
// mean it could not allocate a few hundred bytes or lost its SHA-256
// implementation: not something a caller can handle, so they abort.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    Check(ctx_ != nullptr && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1,
          "EVP_DigestInit_ex");
  }

  void Update(const void* data, size_t n) {
    Check(EVP_DigestUpdate(ctx_.get(), data, n) == 1, "EVP_DigestUpdate");
  }

  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    Check(EVP_DigestFinal_ex(ctx_.get(), digest, &len) == 1 && len == 32, "EVP_DigestFinal_ex");
    constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 0xF]);
    }
    return hex;
  }

 private:
  static void Check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "FATAL sha256: %s failed\n", what);
    std::abort();
  }

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

std::string Sha256Hex(absl::string_view bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.HexDigest();
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Sha256 h;
  std::unique_ptr<char[]> buf(new char[1 << 16]);
  while (in) {
    in.read(buf.get(), 1 << 16);
    h.Update(buf.get(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("read error on ", path));
  return h.HexDigest();
}

}  // namespace recsys

#include "common/io/sha256.h"

#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

#include "common/io/file.h"

namespace recsys {
namespace {

std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "sha256_test-XXXXXX";
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

// SHA-256 of "", "abc" and the 448-bit message equal the FIPS 180-2 / NIST test vectors.
TEST(Sha256, FipsVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// One million 'a' (the NIST long-message vector) hashed from memory.
TEST(Sha256, MillionAFromBytes) {
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Hashing a file (one million 'a', crossing many internal buffers) matches the
// FIPS vector and Sha256Hex of the same bytes.
TEST(Sha256, FileMatchesBytes) {
  const std::string path = MakeTempDir() + "/million_a";
  const std::string bytes(1000000, 'a');
  ASSERT_TRUE(WriteFileDurably(path, bytes).ok());
  auto sha = Sha256File(path);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(*sha, Sha256Hex(bytes));
}

// An empty file hashes like the empty string; a missing one is NotFound naming it.
TEST(Sha256, EmptyAndMissingFiles) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteFileDurably(dir + "/empty", "").ok());
  auto empty = Sha256File(dir + "/empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, Sha256Hex(""));
  auto missing = Sha256File(dir + "/missing");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find(dir + "/missing"), std::string::npos);
}

// Bytes with NULs and high bits are hashed as bytes, not as a C string.
TEST(Sha256, BinaryBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(Sha256Hex(with_nul), Sha256Hex("a"));
  EXPECT_EQ(Sha256Hex(with_nul).size(), 64u);
}

}  // namespace
}  // namespace recsys

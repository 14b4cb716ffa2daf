// SPDX-License-Identifier: Apache-2.0

#include "policy/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace modgate {
namespace {

TEST(Sha256, KnownDigestOfAbc) {
  const std::string abc = "abc";
  EXPECT_EQ(to_hex(sha256({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, FileDigestEqualsBufferDigest) {
  std::string path = ::testing::TempDir() + "/sha256_file_test.bin";
  std::string content(3 * 1024 * 1024 + 17, 'x');  // spans several read blocks
  std::ofstream(path, std::ios::binary) << content;
  auto h = sha256_file(path);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(*h, sha256({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()}));
  std::remove(path.c_str());
}

TEST(Sha256, MissingFileNamesThePath) {
  auto h = sha256_file("/nonexistent/modgate.ko");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("/nonexistent/modgate.ko"), std::string::npos);
  EXPECT_NE(h.error().message.find("No such file"), std::string::npos);
}

TEST(Sha256, HexRoundTrip) {
  const std::string hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
  auto h = sha256_from_hex(hex);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(to_hex(*h), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, HexRejectsWrongLengthAndBadDigit) {
  auto short_hex = sha256_from_hex("abcd");
  ASSERT_FALSE(short_hex.ok());
  EXPECT_NE(short_hex.error().message.find("got 4"), std::string::npos);
  std::string bad(64, '0');
  bad[10] = 'g';
  auto bad_digit = sha256_from_hex(bad);
  ASSERT_FALSE(bad_digit.ok());
  EXPECT_NE(bad_digit.error().message.find("'g' at position 11"), std::string::npos)
      << bad_digit.error().message;
}

}  // namespace
}  // namespace modgate

// SPDX-License-Identifier: Apache-2.0
// The BPF SHA-256 (bpf/lib/sha256.h) on the build machine's real verifier and JIT, checked against
// FIPS 180-4's published digests and against OpenSSL.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "policy/sha256.h"
#include "tests/bpf/sha256_runner.h"

namespace modgate {
namespace {

constexpr size_t kCapacity = 4u << 20;

class BpfSha256 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = BpfSha256Runner::open(kCapacity);
    ASSERT_TRUE(r.ok()) << r.error().message;
    runner_ = std::move(r).value().release();
  }
  static void TearDownTestSuite() {
    delete runner_;
    runner_ = nullptr;
  }

  static std::string bpf_hex(std::span<const std::uint8_t> data) {
    auto h = runner_->hash(data);
    EXPECT_TRUE(h.ok()) << h.error().message;
    return h.ok() ? to_hex(*h) : std::string("error");
  }
  static std::string bpf_hex(const std::string& s) {
    return bpf_hex({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }

  static BpfSha256Runner* runner_;
};
BpfSha256Runner* BpfSha256::runner_ = nullptr;

// FIPS 180-4 example messages (NIST CSRC "Examples with intermediate values", SHA-256).
TEST_F(BpfSha256, FipsEmpty) {
  EXPECT_EQ(bpf_hex(std::string()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(BpfSha256, FipsAbc) {
  EXPECT_EQ(bpf_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(BpfSha256, Fips448Bit) {
  EXPECT_EQ(bpf_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_F(BpfSha256, Fips896Bit) {
  EXPECT_EQ(
      bpf_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
              "klmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_F(BpfSha256, FipsMillionA) {
  EXPECT_EQ(bpf_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding boundaries (one vs two final blocks) and this implementation's 4 KiB read chunks.
TEST_F(BpfSha256, BoundaryLengthsMatchOpenSsl) {
  std::mt19937_64 rng(0x6d6f6467);
  for (size_t len : {1,   55,   56,   57,   63,   64,   65,   119,  120,  127,          128,
                     129, 4031, 4032, 4095, 4096, 4097, 8191, 8192, 8193, 4096 * 3 + 56}) {
    std::vector<std::uint8_t> data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(bpf_hex(data), to_hex(sha256(data))) << "length " << len;
  }
}

TEST_F(BpfSha256, RandomBuffersMatchOpenSsl) {
  std::mt19937_64 rng(20261126);
  std::uniform_int_distribution<size_t> size(0, kCapacity);
  std::vector<std::uint8_t> data;
  for (int i = 0; i < 200; i++) {
    size_t len = size(rng);
    data.resize(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    ASSERT_EQ(bpf_hex(data), to_hex(sha256(data))) << "buffer " << i << " of " << len << " bytes";
  }
}

// One flipped bit anywhere must change the digest: the property the allowlist relies on.
TEST_F(BpfSha256, FlippedBitChangesDigest) {
  std::vector<std::uint8_t> data(100000, 0x5a);
  std::string base = bpf_hex(data);
  for (size_t pos : {size_t{0}, size_t{4095}, size_t{4096}, size_t{99999}}) {
    data[pos] ^= 1;
    EXPECT_NE(bpf_hex(data), base) << "bit flip at " << pos;
    data[pos] ^= 1;
  }
  EXPECT_EQ(bpf_hex(data), base);
}

}  // namespace
}  // namespace modgate

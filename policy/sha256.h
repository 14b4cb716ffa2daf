// SPDX-License-Identifier: Apache-2.0
// Userspace SHA-256 through OpenSSL's EVP interface; the digests the allowlist is built from.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "policy/result.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of every includer

namespace modgate {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::span<const std::uint8_t> data);

// SHA-256 of bytes given in pieces: the same digest as sha256() of them joined.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(std::string_view bytes);
  Sha256 finish();

 private:
  ::evp_md_ctx_st* ctx_;
};

// Streams the file in blocks, so a module of any size hashes in constant memory.
Result<Sha256> sha256_file(const std::string& path);

std::string to_hex(std::span<const std::uint8_t> bytes);

// Accepts exactly 64 hex digits, either case.
Result<Sha256> sha256_from_hex(std::string_view hex);

// For hash tables keyed by digest: the policy parser and compiler index every entry by its hash,
// and a std::map of 100 k digests spent most of a parse in memcmp. Whoever writes a policy picks
// the keys, so the mix is seeded once per process: no file can make all of its entries collide.
struct Sha256Hash {
  std::size_t operator()(const Sha256& h) const noexcept;
};

}  // namespace modgate

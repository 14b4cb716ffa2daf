// SPDX-License-Identifier: Apache-2.0

#include "policy/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

namespace modgate {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// EVP failures here mean OpenSSL itself is broken (allocation, provider); nothing to recover.
MdCtx new_sha256_ctx() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  return ctx;
}

Sha256 finish(EVP_MD_CTX* ctx) {
  Sha256 out{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &n) != 1 || n != out.size())
    throw std::runtime_error("OpenSSL: SHA-256 finalisation failed");
  return out;
}

// A table rather than three range tests: a fleet-size policy decodes millions of digits.
constexpr std::array<signed char, 256> kHexValue = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; c++)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; c++)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; c++)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'A' + 10);
  return t;
}();

int hex_value(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

}  // namespace

Sha256 sha256(std::span<const std::uint8_t> data) {
  auto ctx = new_sha256_ctx();
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
  return finish(ctx.get());
}

Sha256Stream::Sha256Stream() : ctx_(new_sha256_ctx().release()) {}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
}

Sha256 Sha256Stream::finish() { return ::modgate::finish(ctx_); }

Result<Sha256> sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  auto ctx = new_sha256_ctx();
  std::vector<std::uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error{path + ": read failed: " + std::strerror(err)};
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
      ::close(fd);
      throw std::runtime_error("OpenSSL: SHA-256 update failed");
    }
  }
  ::close(fd);
  return finish(ctx.get());
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 0xf]);
  }
  return s;
}

Result<Sha256> sha256_from_hex(std::string_view hex) {
  Sha256 out{};
  if (hex.size() != out.size() * 2)
    return Error{"a sha256 is 64 hex digits, got " + std::to_string(hex.size()) + " characters"};
  for (size_t i = 0; i < out.size(); i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Error{"a sha256 is 64 hex digits; '" +
                   std::string(hex.substr(2 * i + (hi < 0 ? 0 : 1), 1)) + "' at position " +
                   std::to_string(2 * i + (hi < 0 ? 1 : 2)) + " is not one"};
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::size_t Sha256Hash::operator()(const Sha256& h) const noexcept {
  static const std::uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  std::uint64_t x = seed;
  for (std::size_t i = 0; i < h.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, h.data() + i, sizeof w);
    x = (x ^ w) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
  }
  return static_cast<std::size_t>(x);
}

}  // namespace modgate

// SPDX-License-Identifier: Apache-2.0

#include "policy/dpkg.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "policy/sha256.h"

namespace modgate::policy {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMergedUsr = "usr/";

bool parse_md5(std::string_view hex, std::array<std::uint8_t, 16>& out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; i++) {
    unsigned v = 0;
    for (char c : hex.substr(2 * i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else
        return false;
    }
    out[i] = static_cast<std::uint8_t>(v);
  }
  return true;
}

struct Digests {
  std::array<std::uint8_t, 16> md5{};
  Sha256 sha256{};
};

// MD5 is what dpkg records; it is compared, never trusted alone (the SHA-256 of the same bytes
// must be the one the scan listed).
Result<Digests> digest_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Error{std::strerror(errno)};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md5(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md5 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1) {
    ::close(fd);
    throw std::runtime_error("OpenSSL: cannot initialise MD5");
  }
  Sha256Stream sha;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Error{std::strerror(e)};
    }
    if (n == 0) break;
    EVP_DigestUpdate(md5.get(), buf.data(), static_cast<std::size_t>(n));
    sha.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
  ::close(fd);
  Digests d;
  unsigned len = 0;
  EVP_DigestFinal_ex(md5.get(), d.md5.data(), &len);
  d.sha256 = sha.finish();
  return d;
}

}  // namespace

Result<DpkgRecords> read_dpkg_md5sums(const std::string& admin_dir, const std::string& release) {
  const std::string tree = "lib/modules/" + release + "/";
  const fs::path info = fs::path(admin_dir) / "info";
  std::error_code ec;
  fs::directory_iterator it(info, ec), end;
  if (ec)
    return Error{info.string() + ": " + ec.message() + " (is " + admin_dir +
                 " dpkg's database? --dpkg-admindir names another)"};
  std::vector<fs::path> lists;
  for (; it != end; it.increment(ec))
    if (it->path().extension() == ".md5sums") lists.push_back(it->path());
  if (ec) return Error{info.string() + ": " + ec.message()};
  std::sort(lists.begin(), lists.end());  // the same package wins a shared path on every host
  DpkgRecords records;
  for (const auto& list : lists) {
    std::ifstream in(list);
    if (!in) return Error{list.string() + ": cannot read"};
    // "bash.md5sums" and multi-arch "libc6:amd64.md5sums" both name the package before the dot.
    std::string package = list.stem().string();
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
      // "<32 hex digits>  <path without its leading slash>"
      if (line.size() < 35 || line[32] != ' ' || line[33] != ' ')
        return Error{list.string() + ":" + std::to_string(n) +
                     ": not an md5sums line (32 hex digits, two spaces, a path)"};
      std::string_view path = std::string_view(line).substr(34);
      if (path.starts_with(kMergedUsr) && path.substr(kMergedUsr.size()).starts_with(tree))
        path.remove_prefix(kMergedUsr.size());
      if (!path.starts_with(tree)) continue;
      DpkgFile f{package, {}};
      if (!parse_md5(std::string_view(line).substr(0, 32), f.md5))
        return Error{list.string() + ":" + std::to_string(n) + ": '" + line.substr(0, 32) +
                     "' is not an MD5 digest"};
      records.emplace(std::string(path), std::move(f));
    }
  }
  return records;
}

void keep_dpkg_verified(InitReport& report, const std::string& root, const DpkgRecords& records) {
  fs::path base = fs::path(root).lexically_normal();
  if (!base.has_filename()) base = base.parent_path();
  const std::string prefix = "lib/modules/" + base.filename().string() + "/";
  // One verdict per file: a compressed file has two entries (file and payload) under one path.
  std::map<std::string, bool> verdict;
  // A compressed file's entries are its own hash and its payload's; the bytes read here must
  // hash to one of its path's.
  std::map<std::string, std::set<Sha256>> listed;
  for (const auto& e : report.policy.modules) listed[e.path.value_or("")].insert(e.sha256);
  std::vector<ModuleEntry> kept;
  for (auto& e : report.policy.modules) {
    const std::string rel = e.path.value_or("");
    auto [v, fresh] = verdict.emplace(rel, false);
    if (fresh) {
      const std::string full = (base / rel).string();
      auto rec = records.find(prefix + rel);
      if (rec == records.end()) {
        report.problems.push_back(full +
                                  ": not installed by any Debian package (dpkg records no md5sum "
                                  "for it: built by DKMS or by hand?); left out");
      } else if (auto d = digest_file(full); !d) {
        report.problems.push_back(full + ": cannot read it again: " + d.error().message +
                                  "; left out");
      } else if (d->md5 != rec->second.md5) {
        report.problems.push_back(full + ": differs from what dpkg recorded for package " +
                                  rec->second.package + " (md5 " + to_hex(rec->second.md5) +
                                  ", the file's " + to_hex(d->md5) + "); left out");
      } else if (!listed[rel].contains(d->sha256)) {
        report.problems.push_back(full + ": changed while it was being read; left out");
      } else {
        v->second = true;
      }
    }
    if (v->second) kept.push_back(std::move(e));
  }
  report.policy.modules = std::move(kept);
  std::sort(report.problems.begin(), report.problems.end());
  report.policy.digest = policy_digest(report.policy);
}

}  // namespace modgate::policy

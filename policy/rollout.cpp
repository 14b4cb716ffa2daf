// SPDX-License-Identifier: Apache-2.0
// The rollout cohort function (docs/fleet.md, "Rollout cohorts"). Its output decides whether a
// host enforces, so it is specified byte for byte and pinned by tests/unit/rollout_test.cpp: a
// change here would silently move hosts between cohorts across an upgrade.
#include "policy/rollout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "policy/sha256.h"

namespace modgate::policy {

std::uint32_t cohort_bucket(std::string_view machine_id, std::string_view salt) {
  // Newline-separated rather than length-prefixed so that `printf | sha256sum` reproduces it: the
  // salt cannot hold a newline (check_rollout_salt) and a machine id is hex, so it is unambiguous.
  std::string msg = "modgate-rollout 1\n";
  msg += salt;
  msg += '\n';
  msg += machine_id;
  msg += '\n';
  Sha256 h = sha256({reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()});
  std::uint32_t x = static_cast<std::uint32_t>(h[0]) << 24 |
                    static_cast<std::uint32_t>(h[1]) << 16 | static_cast<std::uint32_t>(h[2]) << 8 |
                    static_cast<std::uint32_t>(h[3]);
  // 2^32 mod 10000 = 7296, so the low buckets are favoured by at most 1 in 429,496: far below
  // anything a fleet could notice, and it keeps the function computable in 32-bit shell arithmetic.
  return x % kCohortBuckets;
}

Result<std::string> read_machine_id(const std::string& path) {
  const std::string fix =
      "; staged rollout needs a machine id (systemd-machine-id-setup writes one; in a container, "
      "mount the host's /etc/machine-id)";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{path + ": " + std::strerror(errno) + fix};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{path + ": not a regular file" + fix};
  }
  char buf[64];
  std::size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{path + ": read failed: " + std::strerror(err)};
    }
    if (n == 0 || (got += static_cast<std::size_t>(n)) == sizeof(buf)) break;
  }
  ::close(fd);
  std::string_view s(buf, got);
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (s.empty()) return Error{path + ": is empty" + fix};
  // systemd writes this during early boot of a first boot, before the id is committed.
  if (s == "uninitialized")
    return Error{path + ": is 'uninitialized' (first boot in progress)" + fix};
  bool hex = s.size() == 32;
  std::string id(s);
  for (char& c : id) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) hex = false;
  }
  if (!hex)
    return Error{path + ": is not a machine id (32 hex digits and a newline, machine-id(5))" + fix};
  return id;
}

EffectiveMode effective_mode(const Policy& policy, std::string_view machine_id) {
  EffectiveMode e;
  e.mode = policy.mode;
  if (policy.mode != Mode::kEnforce || !policy.rollout) return e;
  e.staged = true;
  e.enforce_basis_points = policy.rollout->enforce_basis_points;
  e.bucket = cohort_bucket(machine_id, policy.rollout->salt);
  e.mode = in_enforce_cohort(e.bucket, e.enforce_basis_points) ? Mode::kEnforce : Mode::kDryRun;
  return e;
}

Result<CompiledPolicy> compile_for_host(const Policy& policy, const EffectiveMode& mode) {
  auto c = compile(policy);
  if (!c) return c;
  c->config.mode = mode.mode == Mode::kEnforce ? MG_MODE_ENFORCE : MG_MODE_DRY_RUN;
  return c;
}

std::string percent_string(std::uint32_t bp) {
  std::string s = std::to_string(bp / 100);
  std::uint32_t frac = bp % 100;
  if (frac != 0) {
    s += '.';
    s += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0) s += static_cast<char>('0' + frac % 10);
  }
  return s;
}

Result<std::uint32_t> parse_enforce_percent(std::string_view t) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t dot = t.find('.');
  std::string_view whole = t.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  bool ok = !whole.empty() && whole.size() <= 3 && (whole.size() == 1 || whole[0] != '0');
  for (char c : whole) ok = ok && digit(c);
  if (dot != std::string_view::npos) ok = ok && !frac.empty() && frac.size() <= 2;
  for (char c : frac) ok = ok && digit(c);
  if (!ok) return Error{"not a number from 0 to 100 with at most two decimals"};
  std::uint32_t bp = 0;
  for (char c : whole) bp = bp * 10 + static_cast<std::uint32_t>(c - '0');
  bp *= 100;
  if (!frac.empty()) bp += static_cast<std::uint32_t>(frac[0] - '0') * 10;
  if (frac.size() == 2) bp += static_cast<std::uint32_t>(frac[1] - '0');
  if (bp > kCohortBuckets) return Error{"above 100"};
  return bp;
}

std::string check_rollout_salt(std::string_view salt) {
  if (salt.empty()) return "is empty; any non-empty string works, and a new one draws new cohorts";
  if (salt.size() > kMaxRolloutSalt)
    return "is " + std::to_string(salt.size()) + " bytes; at most " +
           std::to_string(kMaxRolloutSalt);
  for (char c : salt) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "contains a control character";
  }
  return "";
}

}  // namespace modgate::policy

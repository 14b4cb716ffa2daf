// SPDX-License-Identifier: Apache-2.0

#include "agent/admission.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "agent/util/atomic_file.h"

namespace modgate {
namespace {

constexpr const char* kHighWaterFile = "/high-water";
constexpr const char* kAppliedYaml = "/applied.yaml";
constexpr const char* kAppliedBundle = "/applied.bundle";
// The mark is a decimal version and a hex digest; anything longer is not ours.
constexpr std::size_t kMaxHighWaterBytes = 128;

Refusal refusal(std::string reason, std::string message, std::string errors = {}) {
  return Refusal{std::move(reason), std::move(message), std::move(errors)};
}

// "VERSION DIGEST\n". A missing file is "never applied anything signed". Anything else that is
// not exactly that is refused.
Result<Admission::Mark> read_high_water(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Admission::Mark{};
    return Error{"cannot read the anti-rollback mark " + path + ": " + std::strerror(errno)};
  }
  char buf[kMaxHighWaterBytes + 1];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  const Error corrupt{"the anti-rollback mark " + path +
                      " is corrupt; it holds the highest signed policy version applied here. "
                      "Restore it, or remove it to accept any signed version again"};
  if (n <= 0 || static_cast<std::size_t>(n) > kMaxHighWaterBytes) return corrupt;
  std::string text(buf, static_cast<std::size_t>(n));
  auto sp = text.find(' ');
  if (sp == std::string::npos || sp == 0 || sp > 20 || text.back() != '\n' ||
      text.size() != sp + 1 + 64 + 1 || text.find_first_not_of("0123456789") != sp ||
      (text[0] == '0' && sp > 1))
    return corrupt;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  auto digest = sha256_from_hex(std::string_view(text).substr(sp + 1, 64));
  if (errno == ERANGE || !digest) return corrupt;
  return Admission::Mark{static_cast<std::uint64_t>(v), *digest};
}

std::optional<std::string> read_small_file(const std::string& path, std::uint64_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s;
  s.resize(max + 1);
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > max) return std::nullopt;
  return s;
}

}  // namespace

Result<Admission> Admission::open(const Options& options) {
  Admission a(options);
  if (!options.trust_dir.empty()) {
    auto t = policy::load_trust_dir(options.trust_dir);
    if (!t) return t.error();
    a.trust_ = std::move(*t);
    if (options.state_dir.empty())
      return Error{
          "--trust needs a state directory (--state-dir) to keep the anti-rollback mark in"};
    auto hw = read_high_water(options.state_dir + kHighWaterFile);
    if (!hw) return hw.error();
    a.mark_ = *hw;
  }
  return a;
}

Admission Admission::unavailable(const Options& options, std::string why) {
  Admission a(options);
  a.unavailable_ = std::move(why);
  return a;
}

std::uint64_t Admission::max_input_bytes() const {
  return trust_ ? policy::kMaxBundleBytes : policy::kMaxPolicyBytes;
}

std::variant<Candidate, Refusal> Admission::decode(std::string bytes, const std::string& source,
                                                   std::int64_t now) const {
  if (unavailable_)
    return refusal("trust_unavailable", "this agent cannot admit any policy: " + *unavailable_ +
                                            "; fix that and restart it");
  if (trust_) {
    if (!policy::looks_like_bundle(bytes))
      return refusal("unsigned", source +
                                     " is not a signed bundle; this agent accepts only policies "
                                     "signed by a key in " +
                                     trust_->source + " (modgate policy sign)");
    auto v = policy::verify_bundle(bytes, source, *trust_, now, o_.max_future_skew);
    if (!v) {
      // An invalid policy inside a good signature reports FILE:LINE:COL lines after the first.
      const std::string& m = v.error().message;
      auto nl = m.find('\n');
      return refusal(std::string(policy::refusal_name(v.error().reason)), m.substr(0, nl),
                     nl == std::string::npos ? std::string() : m.substr(nl + 1));
    }
    for (const auto& w : v->policy.warnings) std::cerr << "modgate: " << w << "\n";
    Candidate c{v->policy, std::move(bytes), std::move(v.value()), source};
    return c;
  }
  if (policy::looks_like_bundle(bytes))
    return refusal("signed_without_trust",
                   source +
                       " is a signed bundle, but this agent runs without --trust and cannot "
                       "verify it; start it with --trust DIR (docs/fleet.md)");
  auto p = policy::parse_policy(bytes, source);
  if (!p) return refusal("invalid", "the policy in " + source + " is invalid", p.error().message);
  for (const auto& w : p->warnings) std::cerr << "modgate: " << w << "\n";
  return Candidate{std::move(*p), std::move(bytes), std::nullopt, source};
}

Result<std::string> Admission::machine_id() {
  if (!machine_id_) {
    auto id = policy::read_machine_id(o_.machine_id_file);
    if (!id) return id.error();
    machine_id_ = *id;
  }
  return *machine_id_;
}

std::variant<Admitted, Refusal> Admission::admit(const Candidate& c,
                                                 const std::optional<InForce>& in_force, bool force,
                                                 std::string_view kernel_release, KernelRule rule) {
  const policy::Policy& p = c.policy;
  const std::string v = std::to_string(p.version);
  if (trust_ && force)
    return refusal("forced_signed",
                   "--force is not accepted for signed policies: a rollback must be signed as a "
                   "higher version (modgate policy sign)");
  const bool other_kernel = !policy::kernel_matches(p, kernel_release);
  if (other_kernel && !force && rule == KernelRule::kMustMatch)
    return refusal("other_kernel", c.source + " is for other kernels (kernels: does not match " +
                                       std::string(kernel_release) + ")");
  Admitted a;
  if (p.rollout) {
    auto id = machine_id();
    if (!id)
      return refusal("machine_id",
                     c.source + " stages its rollout by machine id: " + id.error().message);
    a.mode = policy::effective_mode(p, *id);
  } else {
    a.mode = policy::effective_mode(p, "");
  }
  if (other_kernel && !force && p.other_kernels == policy::OtherKernels::kReport)
    a.mode.mode = policy::Mode::kDryRun;
  const bool same_policy = in_force && in_force->digest == p.digest;
  if (same_policy && in_force->mode == a.mode.mode) {
    a.unchanged = true;
    return a;
  }
  // The policy at the mark itself may come back (a reboot re-applies the saved bundle); any
  // other policy must be newer.
  if (trust_ &&
      (p.version < mark_.version || (p.version == mark_.version && p.digest != mark_.digest)))
    return refusal("rollback", "version " + v + " of " + c.source + " is not above version " +
                                   std::to_string(mark_.version) +
                                   ", the highest signed version ever applied on this host; "
                                   "older bundles are refused (anti-rollback)");
  const bool at_mark = trust_ && p.version == mark_.version && p.digest == mark_.digest;
  if (in_force && p.version <= in_force->version && !force && !at_mark && !same_policy)
    return refusal("not_newer", "version " + v + " of " + c.source +
                                    " is not greater than version " +
                                    std::to_string(in_force->version) +
                                    " in force; raise it (or --force to roll back deliberately)");
  auto compiled = policy::compile_for_host(p, a.mode);
  if (!compiled) return refusal("invalid", compiled.error().message);
  a.compiled = std::move(*compiled);
  return a;
}

Result<Ok> Admission::commit(const Candidate& c) {
  if (o_.state_dir.empty()) return Ok{};
  if (auto r = mkdir_p(o_.state_dir, 0700); !r) return r;
  // The mark first: once a version is in force, nothing older may come back, even if saving the
  // copy below fails.
  if (c.bundle && c.policy.version > mark_.version) {
    if (auto r = write_atomically(
            o_.state_dir + kHighWaterFile,
            std::to_string(c.policy.version) + " " + to_hex(c.policy.digest) + "\n", 0600);
        !r)
      return Error{"the policy is in force, but the anti-rollback mark could not be saved: " +
                   r.error().message};
    mark_ = Mark{c.policy.version, c.policy.digest};
  }
  const std::string& yaml = c.bundle ? c.bundle->policy_text : c.raw;
  if (auto r = write_atomically(o_.state_dir + kAppliedYaml, yaml, 0600); !r) return r;
  if (c.bundle) {
    if (auto r = write_atomically(o_.state_dir + kAppliedBundle, c.raw, 0600); !r) return r;
  } else {
    ::unlink((o_.state_dir + kAppliedBundle).c_str());
  }
  return Ok{};
}

std::string Admission::saved_path() const {
  return o_.state_dir + (trust_ ? kAppliedBundle : kAppliedYaml);
}

std::optional<std::string> Admission::saved() const {
  if (o_.state_dir.empty()) return std::nullopt;
  return read_small_file(saved_path(), max_input_bytes());
}

nlohmann::ordered_json Admission::status() const {
  if (unavailable_) return {{"dir", o_.trust_dir}, {"error", *unavailable_}};
  if (!trust_) return nullptr;
  auto keys = nlohmann::ordered_json::array();
  for (const auto& [id, e] : trust_->keys) keys.push_back({{"id", id}, {"file", e.file}});
  return {{"dir", trust_->source},
          {"keys", keys},
          {"high_water_version", mark_.version},
          {"max_future_skew_s", o_.max_future_skew}};
}

}  // namespace modgate

// SPDX-License-Identifier: Apache-2.0
// The policy model: what an operator writes (docs/policy.md), after parsing and validation.
// Everything downstream (the agent, the compiler to map entries, diff, audit) works on this type,
// never on YAML.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modgate_abi.h"
#include "policy/glob.h"
#include "policy/result.h"
#include "policy/sha256.h"

namespace modgate::policy {

enum class Mode { kDryRun, kEnforce };
enum class AutoloadDefault { kAllow, kDeny };
// What a start does with a policy whose `kernels:` does not name the running kernel, rather than
// leave the host with no policy (docs/policy.md, "other_kernels"): report runs it dry-run (every
// load it does not list is reported as would-deny); enforce runs it as written.
enum class OtherKernels { kReport, kEnforce };

// One allowlist entry: of modules:, and with the same shape of firmware: and kexec:.
struct ModuleEntry {
  std::string name;
  Sha256 sha256{};
  std::optional<std::string> version, vermagic, signer, path, note;
  int line = 0;  // where the entry starts in the file, for messages
};

// Globs over request_module() names; deny wins over allow, and default applies when neither
// matches.
struct Autoload {
  AutoloadDefault default_action = AutoloadDefault::kAllow;
  std::vector<std::string> allow, deny;
};

// Staged enforcement (docs/fleet.md, "Rollout cohorts"): with mode enforce, a host enforces only
// when its cohort bucket (policy/rollout.h) is below enforce_basis_points; the others run dry-run.
struct Rollout {
  std::uint32_t enforce_basis_points = 0;  // enforce_percent x 100: 0 to 10000
  std::string salt;                        // 1 to 128 bytes, no control characters
};

struct Policy {
  std::uint64_t version = 0;
  Mode mode = Mode::kDryRun;
  std::optional<Rollout> rollout;    // only with mode enforce
  std::vector<std::string> kernels;  // release globs; empty means every kernel
  OtherKernels other_kernels = OtherKernels::kReport;
  std::vector<ModuleEntry> modules;
  // Firmware files and kexec images (kernels and initramfs) judged like modules, each admitted
  // only by its own section. Absent: those loads are left to the kernel; present, even empty:
  // judged in the policy's mode.
  std::optional<std::vector<ModuleEntry>> firmware, kexec;
  Autoload autoload;
  bool log_allowed = false;
  bool allow_forced = false;
  bool allow_empty = false;
  // Tamper protection (docs/threat-model.md): in enforce mode the kernel refuses, to everyone but
  // the agent, what would switch modgate off.
  bool protect = false;
  Sha256 digest{};  // canonical digest (docs/policy.md), filled by the parser
  // What the parser reported without refusing the file, as FILE:LINE:COL: warning: ... lines
  // (an entry listed twice). Not part of the policy: the digest ignores them.
  std::vector<std::string> warnings;
};

// A policy is a text file an operator writes; anything bigger than this is refused before reading
// (a full distribution tree with compressed and payload hashes is about 5 MiB of YAML; a parse
// peaks at 5 to 7 bytes of memory per byte of it, docs/performance.md).
inline constexpr std::uint64_t kMaxPolicyBytes = 16ull << 20;

// Parses and validates. On failure the Error's message holds one "FILE:LINE:COL: message" line per
// problem found, newline-separated.
Result<Policy> parse_policy(std::string_view text, const std::string& filename);
Result<Policy> load_policy_file(const std::string& path);
// The bytes of a policy file, refused when not a regular file or over kMaxPolicyBytes; what
// load_policy_file parses, for callers that keep or forward the text.
Result<std::string> read_policy_text(const std::string& path);

// The map contents one policy becomes; the agent writes exactly this and nothing else.
struct CompiledPolicy {
  mg_config config{};
  struct AllowEntry {
    mg_allow_key key;
    mg_allow_value value;
  };
  std::vector<AllowEntry> allow;
  std::vector<mg_glob> autoload_allow, autoload_deny;
};

// Fails (with a message naming the entry) only on what the maps cannot hold.
Result<CompiledPolicy> compile(const Policy& policy);

std::string_view mode_name(Mode m);
std::string_view other_kernels_name(OtherKernels o);
// True when the policy names no kernels, or one of its 'kernels' globs matches `release` (uname
// -r).
bool kernel_matches(const Policy& policy, std::string_view release);
std::string_view autoload_default_name(AutoloadDefault d);

// The byte string the policy digest is computed over (docs/policy.md, "Canonical form"):
// independent of key order, list order, comments, quoting and whitespace in the file.
std::string canonical_form(const Policy& policy);
// SHA-256 of canonical_form(); parse_policy stores it in Policy::digest.
Sha256 policy_digest(const Policy& policy);

}  // namespace modgate::policy

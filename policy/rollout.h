// SPDX-License-Identifier: Apache-2.0
// Staged rollout: which hosts of a fleet enforce a policy that says
// `rollout: {enforce_percent: N, salt: S}`. The cohort function is specified in docs/fleet.md
// ("Rollout cohorts") so that anyone can recompute a host's cohort with sha256sum.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::policy {

// Buckets are basis points: a host in bucket b enforces when b < enforce_percent x 100.
inline constexpr std::uint32_t kCohortBuckets = 10000;
inline constexpr std::size_t kMaxRolloutSalt = 128;
inline constexpr std::string_view kDefaultMachineIdPath = "/etc/machine-id";

// 0 to 9999: the first four bytes of SHA-256("modgate-rollout 1\n" SALT "\n" MACHINE_ID "\n"),
// read big-endian, modulo 10000. machine_id is as read_machine_id returns it (32 lowercase hex
// digits); salt as in the policy.
std::uint32_t cohort_bucket(std::string_view machine_id, std::string_view salt);

// Monotone in enforce_basis_points by construction: raising the percentage only adds hosts.
constexpr bool in_enforce_cohort(std::uint32_t bucket, std::uint32_t enforce_basis_points) {
  return bucket < enforce_basis_points;
}

// /etc/machine-id (systemd, machine-id(5)): 32 hex digits and a newline. Returns the digits in
// lowercase; refuses a missing, unreadable, empty, "uninitialized" or malformed file with one
// message naming the file and the fix.
Result<std::string> read_machine_id(const std::string& path = std::string(kDefaultMachineIdPath));

// The mode this host runs a policy in, and why.
struct EffectiveMode {
  Mode mode = Mode::kDryRun;
  bool staged = false;       // the policy has a rollout (the fields below are meaningful)
  std::uint32_t bucket = 0;  // this host's cohort bucket, 0 to 9999
  std::uint32_t enforce_basis_points = 0;
  bool in_cohort() const { return staged && in_enforce_cohort(bucket, enforce_basis_points); }
};

// mode dry-run -> dry-run; mode enforce without rollout -> enforce; with rollout -> enforce inside
// the cohort, dry-run outside. machine_id is only used for a staged policy (pass "" otherwise).
EffectiveMode effective_mode(const Policy& policy, std::string_view machine_id);

// compile() with the kernel's mode set to the effective one. The digest stays the policy's own
// (which covers `mode: enforce` and the rollout), so every host of a fleet reports the same digest
// for the same bundle whichever cohort it is in.
Result<CompiledPolicy> compile_for_host(const Policy& policy, const EffectiveMode& mode);

// "0", "5", "12.5", "0.01", "100": enforce_percent BP (basis points) as written canonically.
std::string percent_string(std::uint32_t bp);
// Exactly: an integer 0 to 100 without leading zeros, optionally '.' and one or two digits, at
// most 100 in all. Returns basis points.
Result<std::uint32_t> parse_enforce_percent(std::string_view text);
// "" when `salt` is a valid rollout salt, else what is wrong with it.
std::string check_rollout_salt(std::string_view salt);

}  // namespace modgate::policy
